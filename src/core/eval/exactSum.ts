// Exact, order-independent sums of many float64 values, one per entry of a vector.
//
// Each entry is an integer count of 2^-64 held in four float64 "limbs" of 32 bits each: limb k
// counts units of 2^(32k - 64), so the entry's value is c0·2^-64 + c1·2^-32 + c2 + c3·2^32.
// Adding a value splits it exactly (error-free) into one multiple of each limb's unit; only the
// bits below 2^-64 are dropped, and that rounding depends on the added value alone. Every limb
// then holds an integer well inside float64's exact range (2^53), so additions are exact integer
// additions: the result is the same whatever the order of the additions and however they are
// split between accumulators that are merged later (merge = limb-wise addition, also exact).
// `normalize` propagates carries so every lower limb lies in [-2^31, 2^31); that form is unique
// for a given value, so two accumulators holding the same exact sums have bit-identical limbs,
// and `toFloat64` (a fixed sequence of float operations on them) gives bit-identical doubles.
//
// Range: |added value| < 2^64 (about 1.8e19); resolution 2^-64 (about 5.4e-20) absolute. Feature
// statistics add per-block sums of products of float32 features (see featureStatistics.ts),
// which stays far inside that range for any feature network's outputs (|x| up to ~1e8 per block
// of 1024 samples); a value outside it is refused, never wrapped.

const LIMBS = 4;
const UNIT = [2 ** -64, 2 ** -32, 1, 2 ** 32];
const INV_UNIT = [2 ** 64, 2 ** 32, 1, 2 ** -32];
/** Adding C = 1.5·2^52·u and subtracting it again rounds to a multiple of u (for |v| < 2^51·u). */
const ROUNDER = UNIT.map((u) => 1.5 * 2 ** 52 * u);
/** The largest magnitude one addition may bring. */
export const EXACT_SUM_LIMIT = 2 ** 64;
/** Additions between carry propagations: each brings at most 2^32 (plus a carry) per limb. */
const ADDS_BEFORE_NORMALIZE = 2 ** 19;

export class ExactSums {
  /** limbs[k][i]: entry i's count of units 2^(32k - 64). */
  readonly limbs: Float64Array[];
  private adds = 0;

  constructor(readonly length: number) {
    this.limbs = Array.from({ length: LIMBS }, () => new Float64Array(length));
  }

  /**
   * Adds values[i] to entry i for every i (values.length === length). Throws RangeError, before
   * changing anything, if a value is not finite or not below EXACT_SUM_LIMIT in magnitude.
   */
  addVector(values: Float64Array): void {
    const n = this.length;
    if (values.length !== n) throw new RangeError(`addVector: ${values.length} values for ${n} entries`);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (!(Math.abs(v) < EXACT_SUM_LIMIT)) {
        throw new RangeError(
          Number.isFinite(v)
            ? `a sum of feature values reached ${v}, beyond the exact accumulator's range (±2^64): the features are far larger than any feature network gives`
            : `a feature value is not finite (${v})`,
        );
      }
    }
    if (this.adds >= ADDS_BEFORE_NORMALIZE) this.normalize();
    const [l0, l1, l2, l3] = this.limbs;
    const [r0, r1, r2, r3] = ROUNDER;
    const [i0, i1, i2, i3] = INV_UNIT;
    for (let i = 0; i < n; i++) {
      let v = values[i];
      let t = v + r3 - r3; // v rounded to a multiple of 2^32 (exact: |v| < 2^64 < 2^83)
      v -= t; // exact remainder, |v| <= 2^31
      l3[i] += t * i3;
      t = v + r2 - r2;
      v -= t;
      l2[i] += t * i2;
      t = v + r1 - r1;
      v -= t;
      l1[i] += t * i1;
      t = v + r0 - r0; // the only rounding: bits below 2^-64 go
      l0[i] += t * i0;
    }
    this.adds++;
  }

  /** Adds another accumulator's sums (exactly). */
  addExact(other: ExactSums): void {
    if (other.length !== this.length) throw new RangeError(`cannot merge sums of ${other.length} entries into ${this.length}`);
    this.normalize();
    other.normalize();
    for (let k = 0; k < LIMBS; k++) {
      const a = this.limbs[k];
      const b = other.limbs[k];
      for (let i = 0; i < a.length; i++) a[i] += b[i];
    }
    this.adds = 1;
  }

  /** Propagates carries: limbs 0..2 end in [-2^31, 2^31), the unique form for each value. */
  normalize(): void {
    if (this.adds === 0) return;
    const n = this.length;
    for (let k = 0; k < LIMBS - 1; k++) {
      const lo = this.limbs[k];
      const hi = this.limbs[k + 1];
      for (let i = 0; i < n; i++) {
        const carry = Math.floor(lo[i] * 2 ** -32 + 0.5); // exact: lo[i] is an integer below 2^53
        lo[i] -= carry * 2 ** 32;
        hi[i] += carry;
      }
    }
    if (this.limbs[LIMBS - 1].some((c) => !(Math.abs(c) < 2 ** 52))) {
      throw new RangeError('the exact accumulator overflowed (sums beyond ±2^84)');
    }
    this.adds = 0;
  }

  /** Entry i rounded to float64 (a deterministic function of its exact value). */
  toFloat64(): Float64Array {
    this.normalize();
    const out = new Float64Array(this.length);
    const [l0, l1, l2, l3] = this.limbs;
    for (let i = 0; i < out.length; i++) {
      // Smallest limb first. Not always correctly rounded (within about 1 ulp), but a fixed
      // sequence of operations on the unique normalized limbs, so equal sums give equal doubles.
      out[i] = ((l0[i] * UNIT[0] + l1[i] * UNIT[1]) + l2[i] * UNIT[2]) + l3[i] * UNIT[3];
    }
    return out;
  }

  /** The normalized limbs, limb-major (for saving); `fromLimbs` restores them. */
  toLimbs(): Float64Array {
    this.normalize();
    const out = new Float64Array(LIMBS * this.length);
    for (let k = 0; k < LIMBS; k++) out.set(this.limbs[k], k * this.length);
    return out;
  }

  static fromLimbs(limbs: Float64Array, length: number): ExactSums {
    if (limbs.length !== LIMBS * length) throw new RangeError(`${limbs.length} limbs for ${length} entries, expected ${LIMBS * length}`);
    const s = new ExactSums(length);
    for (let k = 0; k < LIMBS; k++) {
      const part = limbs.subarray(k * length, (k + 1) * length);
      if (part.some((c) => !Number.isInteger(c) || Math.abs(c) >= 2 ** 52)) throw new RangeError('the saved limbs are not integers in range');
      s.limbs[k].set(part);
    }
    s.adds = 1;
    s.normalize();
    return s;
  }
}
