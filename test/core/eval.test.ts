// The math of `pmf eval` (issue 12): exact sufficient statistics under sharding, the Frechet
// distance against closed forms, the Inception Score. The comparisons against scipy and numpy are
// in test/node/evalReference.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ExactSums,
  FeatureStatistics,
  frechetDistance,
  inceptionScore,
  pivotedCholesky,
  rowProducts,
  shardRange,
  traceSqrtProduct,
} from '../../src/core/eval';
import { gaussian } from '../../src/core/noise';

/** n x d features: gaussian, scaled and shifted per dimension (so the covariance is not white). */
function features(seed: number, n: number, d: number): Float32Array {
  const g = gaussian(seed, n * d);
  for (let s = 0; s < n; s++) for (let i = 0; i < d; i++) g[s * d + i] = g[s * d + i] * (0.5 + (i % 5) * 0.3) + 0.2 * i + (i === 1 ? g[s * d] : 0);
  return g;
}

/** numpy.cov-style two-pass mean and covariance in float64. */
function twoPass(f: Float32Array, d: number): { mean: Float64Array; cov: Float64Array } {
  const n = f.length / d;
  const mean = new Float64Array(d);
  for (let s = 0; s < n; s++) for (let i = 0; i < d; i++) mean[i] += f[s * d + i];
  for (let i = 0; i < d; i++) mean[i] /= n;
  const cov = new Float64Array(d * d);
  for (let s = 0; s < n; s++) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) cov[i * d + j] += (f[s * d + i] - mean[i]) * (f[s * d + j] - mean[j]);
  for (let k = 0; k < cov.length; k++) cov[k] /= n - 1;
  return { mean, cov };
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / scale;
}

/** Deterministic shuffle. */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 16807) % 2147483647;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function sameBits(a: Float64Array, b: Float64Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('ExactSums', () => {
  test('the same values in any order and any split give bit-identical limbs and doubles', () => {
    const values = Array.from(gaussian(3, 500), (g, i) => g * 10 ** ((i % 13) - 6));
    const one = new ExactSums(1);
    for (const v of values) one.addVector(Float64Array.of(v));
    const parts = [new ExactSums(1), new ExactSums(1), new ExactSums(1)];
    shuffled(values, 7).forEach((v, i) => parts[i % 3].addVector(Float64Array.of(v)));
    parts[2].addExact(parts[0]);
    parts[2].addExact(parts[1]);
    assert.ok(sameBits(one.toLimbs(), parts[2].toLimbs()));
    assert.ok(sameBits(one.toFloat64(), parts[2].toFloat64()));
    // and the value is the sum (to double rounding)
    const naive = values.reduce((a, b) => a + b, 0);
    const scale = values.reduce((a, b) => a + Math.abs(b), 0);
    assert.ok(Math.abs(one.toFloat64()[0] - naive) < 1e-12 * scale);
  });

  test('cancellation is exact: x + y - x - y is 0', () => {
    const s = new ExactSums(2);
    s.addVector(Float64Array.of(1e15, 3.25e-12));
    s.addVector(Float64Array.of(1.5e-10, -7));
    s.addVector(Float64Array.of(-1e15, -3.25e-12));
    s.addVector(Float64Array.of(-1.5e-10, 7));
    assert.deepEqual([...s.toFloat64()], [0, 0]);
  });

  test('values out of range or not finite are refused before anything changes', () => {
    const s = new ExactSums(2);
    s.addVector(Float64Array.of(1, 2));
    assert.throws(() => s.addVector(Float64Array.of(1, 2 ** 65)), /beyond the exact accumulator's range/);
    assert.throws(() => s.addVector(Float64Array.of(NaN, 0)), /not finite/);
    assert.deepEqual([...s.toFloat64()], [1, 2]);
  });
});

describe('FeatureStatistics', () => {
  const d = 6;
  const n = 101;
  const f = features(11, n, d);

  test('mean and covariance match the two-pass float64 computation (numpy.cov, N - 1)', () => {
    for (const blockSize of [1, 8, 1024]) {
      const st = new FeatureStatistics(d, blockSize);
      st.addBatch(0, f);
      const m = st.finish();
      const ref = twoPass(f, d);
      assert.equal(m.count, n);
      assert.ok(maxRelDiff(m.mean, ref.mean) < 1e-13, `mean, block ${blockSize}`);
      assert.ok(maxRelDiff(m.covariance, ref.cov) < 1e-12, `covariance, block ${blockSize}`);
    }
  });

  test('merged shards are bit-identical to one run: 1, 2, 3 and 7 shards, uneven, any merge and arrival order', () => {
    for (const blockSize of [8, 16, 1024]) {
      const whole = new FeatureStatistics(d, blockSize);
      whole.addBatch(0, f);
      const ref = whole.finish();
      const splits: number[][] = [[], [50], [13, 77], [1, 2, 30, 31, 64, 100], [8, 16, 24, 40, 41, 99]];
      splits.forEach((cuts, si) => {
        const bounds = [0, ...cuts, n];
        const shards = bounds.slice(0, -1).map((a, k) => {
          const st = new FeatureStatistics(d, blockSize);
          // samples of a shard arrive in a scrambled order
          for (const s of shuffled(Array.from({ length: bounds[k + 1] - a }, (_, i) => a + i), 17 + k)) st.add(s, f.subarray(s * d, (s + 1) * d));
          return st;
        });
        // merge in a scrambled order, through a snapshot (as a shard file would)
        const order = shuffled(shards.map((_, k) => k), 5 + si);
        const merged = FeatureStatistics.fromSnapshot(shards[order[0]].snapshot());
        for (const k of order.slice(1)) merged.merge(FeatureStatistics.fromSnapshot(shards[k].snapshot()));
        const m = merged.finish();
        assert.equal(m.count, n);
        assert.ok(sameBits(m.mean, ref.mean), `mean, ${bounds.length - 1} shards, block ${blockSize}`);
        assert.ok(sameBits(m.covariance, ref.covariance), `covariance, ${bounds.length - 1} shards, block ${blockSize}`);
      });
      // strided shards (sample i to shard i mod 3) cover the same samples too
      const strided = [0, 1, 2].map(() => new FeatureStatistics(d, blockSize));
      for (let s = 0; s < n; s++) strided[s % 3].add(s, f.subarray(s * d, (s + 1) * d));
      strided[1].merge(strided[2]);
      strided[1].merge(strided[0]);
      assert.ok(sameBits(strided[1].finish().covariance, ref.covariance));
    }
  });

  test('shardRange: contiguous whole-block ranges covering every sample once', () => {
    for (const [total, n, b] of [[101, 7, 8], [50000, 3, 1024], [10, 4, 1024], [0, 2, 8], [2048, 2, 1024]] as const) {
      let next = 0;
      for (let k = 0; k < n; k++) {
        const { start, end } = shardRange(total, k, n, b);
        assert.equal(start, next);
        assert.ok(end >= start);
        if (end < total) assert.equal(end % b, 0);
        next = end;
      }
      assert.equal(next, total);
    }
    assert.throws(() => shardRange(10, 3, 3), /shard 4\/3 does not exist/);
  });

  test('finish leaves the statistics mergeable', () => {
    const a = new FeatureStatistics(d, 8);
    a.addBatch(0, f.subarray(0, 50 * d));
    a.finish();
    const b = new FeatureStatistics(d, 8);
    b.addBatch(50, f.subarray(50 * d));
    a.merge(b);
    const whole = new FeatureStatistics(d, 8);
    whole.addBatch(0, f);
    assert.ok(sameBits(a.finish().covariance, whole.finish().covariance));
  });

  test('overlapping shards, mismatched shapes and bad features are errors', () => {
    const a = new FeatureStatistics(d, 8);
    a.addBatch(0, f.subarray(0, 20 * d));
    const b = new FeatureStatistics(d, 8);
    b.addBatch(19, f.subarray(19 * d, 30 * d));
    assert.throws(() => a.merge(b), /overlap/);
    const c = new FeatureStatistics(d, 8);
    c.addBatch(10, f.subarray(10 * d, 12 * d));
    assert.throws(() => a.merge(c), /overlap/);
    assert.throws(() => a.add(3, f.subarray(0, d)), /counted twice/);
    assert.throws(() => a.merge(new FeatureStatistics(d, 16)), /cannot merge/);
    assert.throws(() => a.add(40, new Float32Array(d + 1)), /has 7 features, expected 6/);
    assert.throws(() => a.add(40, new Float32Array(d).fill(NaN)), /non-finite/);
    assert.throws(() => new FeatureStatistics(d).finish(), /at least 2 samples/);
  });
});

/** Q: a random orthogonal matrix (Gram-Schmidt of gaussian columns), d x d row-major. */
function orthogonal(d: number, seed: number): Float64Array {
  const g = gaussian(seed, d * d);
  const q = new Float64Array(d * d);
  for (let c = 0; c < d; c++) {
    const v = Array.from({ length: d }, (_, r) => g[r * d + c]);
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let r = 0; r < d; r++) dot += v[r] * q[r * d + p];
      for (let r = 0; r < d; r++) v[r] -= dot * q[r * d + p];
    }
    const norm = Math.hypot(...v);
    for (let r = 0; r < d; r++) q[r * d + c] = v[r] / norm;
  }
  return q;
}

/** Q diag(l) Qᵀ */
function withEigenvalues(q: Float64Array, l: readonly number[]): Float64Array {
  const d = l.length;
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += q[i * d + k] * l[k] * q[j * d + k];
    a[i * d + j] = s;
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) a[j * d + i] = a[i * d + j]; // exactly symmetric
  return a;
}

describe('frechetDistance', () => {
  test('of identical statistics is 0 (to 1e-9 of the traces)', () => {
    for (const d of [1, 7, 64]) {
      const f = features(21, 4 * d + 10, d);
      const st = new FeatureStatistics(d);
      st.addBatch(0, f);
      const m = st.finish();
      const r = frechetDistance(m.mean, m.covariance, m.mean, m.covariance);
      assert.ok(Math.abs(r.distance) <= 1e-9 * (r.trace1 + r.trace2), `d = ${d}: ${r.distance}`);
    }
  });

  test('of Gaussians with diagonal covariances matches the closed form', () => {
    const d = 40;
    const mu1 = Float64Array.from({ length: d }, (_, i) => Math.sin(i));
    const mu2 = Float64Array.from({ length: d }, (_, i) => Math.cos(i));
    const v1 = Array.from({ length: d }, (_, i) => 0.1 + i * 0.37);
    const v2 = Array.from({ length: d }, (_, i) => 2 + Math.sin(3 * i));
    const s1 = new Float64Array(d * d);
    const s2 = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      s1[i * d + i] = v1[i];
      s2[i * d + i] = v2[i];
    }
    let expected = 0;
    for (let i = 0; i < d; i++) expected += (mu1[i] - mu2[i]) ** 2 + (Math.sqrt(v1[i]) - Math.sqrt(v2[i])) ** 2;
    const r = frechetDistance(mu1, s1, mu2, s2);
    assert.ok(Math.abs(r.distance - expected) <= 1e-12 * expected, `${r.distance} vs ${expected}`);
  });

  test('of Gaussians with commuting (jointly diagonalizable) covariances matches the closed form', () => {
    const d = 50;
    const q = orthogonal(d, 4);
    const l1 = Array.from({ length: d }, (_, i) => 0.05 + ((i * 7) % 11));
    const l2 = Array.from({ length: d }, (_, i) => 0.3 + ((i * 3) % 13) * 0.5);
    const s1 = withEigenvalues(q, l1);
    const s2 = withEigenvalues(q, l2);
    const mu1 = new Float64Array(d).fill(1);
    const mu2 = new Float64Array(d).fill(0.5);
    const expectedTrace = l1.reduce((a, x, i) => a + Math.sqrt(x * l2[i]), 0);
    const expected = d * 0.25 + l1.reduce((a, b) => a + b) + l2.reduce((a, b) => a + b) - 2 * expectedTrace;
    const r = frechetDistance(mu1, s1, mu2, s2);
    assert.ok(Math.abs(r.traceSqrtProduct - expectedTrace) <= 1e-11 * expectedTrace);
    assert.ok(Math.abs(r.distance - expected) <= 1e-10 * (r.trace1 + r.trace2), `${r.distance} vs ${expected}`);
  });

  test('handles singular covariances without an eps shift (rank-deficient s1 and s2)', () => {
    const d = 30;
    const q = orthogonal(d, 9);
    const l1 = Array.from({ length: d }, (_, i) => (i < 12 ? 1 + i : 0)); // rank 12
    const l2 = Array.from({ length: d }, (_, i) => (i % 2 ? 2 + i * 0.1 : 0)); // rank 15
    const expected = l1.reduce((a, x, i) => a + Math.sqrt(x * l2[i]), 0);
    const { value, rank } = traceSqrtProduct(withEigenvalues(q, l1), withEigenvalues(q, l2), d);
    assert.equal(rank, 12);
    assert.ok(Math.abs(value - expected) <= 1e-7 * expected, `${value} vs ${expected}`);
    // a zero covariance
    assert.equal(traceSqrtProduct(new Float64Array(d * d), withEigenvalues(q, l2), d).value, 0);
  });

  test('pivotedCholesky reproduces the permuted matrix', () => {
    const d = 20;
    const a = withEigenvalues(orthogonal(d, 2), Array.from({ length: d }, (_, i) => (i < 15 ? 1 + i : 0)));
    const { lt, perm, rank } = pivotedCholesky(Float64Array.from(a), d);
    assert.equal(rank, 15);
    let err = 0;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < rank; k++) s += lt[k * d + i] * lt[k * d + j];
      err = Math.max(err, Math.abs(s - a[perm[i] * d + perm[j]]));
    }
    assert.ok(err < 1e-12, `${err}`);
  });

  test('rowProducts matches the plain sums, with triangular starts and ends and lower-only output', () => {
    for (const [rx, ry, len] of [[1, 1, 1], [5, 7, 3], [37, 70, 300], [70, 70, 513]] as const) {
      const x = Float64Array.from(gaussian(rx + ry, rx * len));
      const y = Float64Array.from(gaussian(len, ry * len));
      // zero the leading entries of x's rows (a lower-trapezoidal operand's stored zeros)
      const sx = (a: number): number => Math.min(len, a * 3);
      for (let a = 0; a < rx; a++) for (let t = 0; t < sx(a); t++) x[a * len + t] = 0;
      // and the trailing entries of y's rows (an upper-trapezoidal operand's)
      const ey = (b: number): number => Math.max(0, len - 2 * b);
      for (let b = 0; b < ry; b++) for (let t = ey(b); t < len; t++) y[b * len + t] = 0;
      for (const lowerOnly of [false, true]) {
        const out = rowProducts(x, rx, y, ry, len, { startX: sx, endY: ey, lowerOnly });
        for (let a = 0; a < rx; a++) for (let b = 0; b < ry; b++) {
          let s = 0;
          for (let t = 0; t < len; t++) s += x[a * len + t] * y[b * len + t];
          const want = lowerOnly && b > a ? 0 : s;
          assert.ok(Math.abs(out[a * ry + b] - want) <= 1e-12 * Math.max(1, Math.abs(want)), `${rx}x${ry}x${len} lower=${lowerOnly} [${a}][${b}]: ${out[a * ry + b]} vs ${want}`);
        }
      }
    }
  });

  test('refuses mismatched shapes and non-finite covariances', () => {
    assert.throws(() => frechetDistance(new Float64Array(2), new Float64Array(4), new Float64Array(3), new Float64Array(9)), /different dimensions/);
    assert.throws(() => frechetDistance(new Float64Array(2), new Float64Array(3), new Float64Array(2), new Float64Array(4)), /must be 2 x 2/);
    assert.throws(() => frechetDistance(new Float64Array(1), Float64Array.of(NaN), new Float64Array(1), Float64Array.of(1)), /not finite/);
  });
});

describe('inceptionScore', () => {
  test('is 1 for identical predictions and the class count for confident, balanced ones', () => {
    const classes = 4;
    const n = 40;
    const same = new Float64Array(n * classes).fill(0.25);
    assert.ok(Math.abs(inceptionScore(same, classes, 10).mean - 1) < 1e-12);
    const sharp = new Float64Array(n * classes);
    for (let s = 0; s < n; s++) sharp[s * classes + (s % classes)] = 1;
    const r = inceptionScore(sharp, classes, 10);
    assert.ok(Math.abs(r.mean - classes) < 1e-12);
    assert.ok(r.std < 1e-12);
    assert.equal(r.used, 40);
  });

  test('matches the formula per split, leaving the remainder out', () => {
    const classes = 3;
    const probs = Float64Array.of(0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.3, 0.3, 0.4, 0.5, 0.5, 0, 1, 0, 0);
    const r = inceptionScore(probs, classes, 2); // splits of 2 samples, the 5th is left out
    const split = (rows: number[][]): number => {
      const py = [0, 1, 2].map((c) => (rows[0][c] + rows[1][c]) / 2);
      const kl = rows.reduce((a, p) => a + p.reduce((b, x, c) => b + (x > 0 ? x * Math.log(x / py[c]) : 0), 0), 0) / rows.length;
      return Math.exp(kl);
    };
    const a = split([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]]);
    const b = split([[0.3, 0.3, 0.4], [0.5, 0.5, 0]]);
    assert.ok(Math.abs(r.mean - (a + b) / 2) < 1e-12);
    assert.ok(Math.abs(r.std - Math.abs(a - b) / 2) < 1e-12);
    assert.equal(r.used, 4);
    assert.throws(() => inceptionScore(probs, classes, 6), /cannot be cut into 6 splits/);
    assert.throws(() => inceptionScore(Float64Array.of(1.5, 0), 2, 1), /not in \[0, 1\]/);
  });
});
