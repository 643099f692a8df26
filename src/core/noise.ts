// Seeded Gaussian noise that is the same on every platform and provider.
//
// Each sample has its own 32-bit seed. A splitmix32 hash of the seed initialises a
// xoshiro128** generator; pairs of 53-bit uniforms go through Box-Muller in float64
// and are rounded to float32. Only integer arithmetic, IEEE-exact sqrt and V8's
// fdlibm-derived log / cos / sin are involved, so a seed gives the same bits on every
// OS and CPU (tests pin the first values). Noise never depends on the batch it is in.

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** xoshiro128** (Blackman and Vigna), 32-bit outputs. */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`seed must be an integer in [0, 4294967295], got ${seed}`);
    }
    const sm = splitmix32(seed);
    this.s0 = sm();
    this.s1 = sm();
    this.s2 = sm();
    this.s3 = sm();
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in (0, 1) with 53 random bits. */
  nextOpenUnit(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b + 0.5) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** n standard normal values for one seed (Box-Muller, float64, rounded to float32). */
export function gaussian(seed: number, n: number): Float32Array {
  const rng = new Xoshiro128(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = rng.nextOpenUnit();
    const u2 = rng.nextOpenUnit();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    out[i] = radius * Math.cos(angle);
    if (i + 1 < n) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}

/** z_1 = noise_scale * e for a batch: one seed per sample, `per` values each. */
export function initialNoise(seeds: readonly number[], per: number, noiseScale: number): Float32Array {
  const z = new Float32Array(seeds.length * per);
  seeds.forEach((seed, i) => {
    const e = gaussian(seed, per);
    for (let j = 0; j < per; j++) z[i * per + j] = e[j] * noiseScale;
  });
  return z;
}
