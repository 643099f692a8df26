// k-nearest-neighbour manifold metrics on feature sets.
//   Precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for
//   Assessing Generative Models"; k = 3): each sample's neighbourhood is the ball around it whose
//   radius is the distance to its k-th nearest neighbour within its own set (itself excluded).
//   precision = the fraction of generated samples inside at least one real sample's ball;
//   recall    = the fraction of real samples inside at least one generated sample's ball.
//   Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
//   Generative Models"; k = 5), with the real samples' balls only:
//   density  = (1 / (k·M)) Σ_fake Σ_real [fake inside the real's ball]  (can exceed 1);
//   coverage = the fraction of real samples whose ball holds at least one generated sample.
// As in the authors' reference code (clovaai/generative-evaluation-prdc), "inside" is strictly
// closer than the radius, distances are Euclidean, computed as |a|² + |b|² - 2a·b in float64 and
// compared squared (the same order as comparing the distances).
import { rowProducts } from './linalg';

export interface PrecisionRecall {
  precision: number;
  recall: number;
  k: number;
}

export interface DensityCoverage {
  density: number;
  coverage: number;
  k: number;
}

const ROWS = 256; // rows of a distance block

interface FeatureSet {
  n: number;
  x: Float64Array;
  norms: Float64Array;
}

function featureSet(features: Float32Array | Float64Array, dim: number, what: string): FeatureSet {
  if (!Number.isInteger(dim) || dim < 1 || features.length % dim !== 0) throw new RangeError(`the ${what} features are not a whole number of ${dim}-vectors`);
  const n = features.length / dim;
  const x = Float64Array.from(features);
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = 0; t < dim; t++) {
      const v = x[i * dim + t];
      if (!Number.isFinite(v)) throw new RangeError(`the ${what} features hold a value that is not finite (sample ${i})`);
      s += v * v;
    }
    norms[i] = s;
  }
  return { n, x, norms };
}

/** Calls visit(i, j, squared distance) for every i of `a` and j of `b`, a block of rows at a time. */
function scanDistances(a: FeatureSet, b: FeatureSet, dim: number, visit: (i: number, j: number, d2: number) => void): void {
  for (let i0 = 0; i0 < a.n; i0 += ROWS) {
    const rows = Math.min(ROWS, a.n - i0);
    const dots = rowProducts(a.x.subarray(i0 * dim, (i0 + rows) * dim), rows, b.x, b.n, dim);
    for (let r = 0; r < rows; r++) {
      const i = i0 + r;
      for (let j = 0; j < b.n; j++) visit(i, j, Math.max(0, a.norms[i] + b.norms[j] - 2 * dots[r * b.n + j]));
    }
  }
}

/** Squared distance from each sample to its k-th nearest neighbour in its own set (itself excluded). */
function kthNeighbourRadii(s: FeatureSet, dim: number, k: number): Float64Array {
  return neighbourRadii(s, dim, [k])[0];
}

/** kthNeighbourRadii for several k from one scan of the set against itself. */
function neighbourRadii(s: FeatureSet, dim: number, ks: readonly number[]): Float64Array[] {
  for (const kk of ks) {
    if (!Number.isInteger(kk) || kk < 1) throw new RangeError(`k must be a positive integer, got ${kk}`);
  }
  const k = Math.max(...ks);
  if (s.n < k + 1) throw new RangeError(`${s.n} samples have no ${k}-th nearest neighbour: at least ${k + 1} are needed`);
  // the k + 1 smallest distances of each row, self (0) included, as the reference code takes them
  const best = new Float64Array(s.n * (k + 1)).fill(Infinity);
  scanDistances(s, s, dim, (i, j, d2) => {
    const v = i === j ? 0 : d2;
    const o = i * (k + 1);
    if (v >= best[o + k]) return;
    let p = o + k;
    while (p > o && best[p - 1] > v) {
      best[p] = best[p - 1];
      p--;
    }
    best[p] = v;
  });
  return ks.map((kk) => {
    const radii = new Float64Array(s.n);
    for (let i = 0; i < s.n; i++) radii[i] = best[i * (k + 1) + kk];
    return radii;
  });
}

/**
 * precisionRecall(real, fake, dim, kPR) and densityCoverage(real, fake, dim, kDC) together, with
 * the same results, from three scans of distances instead of five (the real set against itself
 * once for both k, the generated set against itself, and real against generated once).
 */
export function manifoldMetrics(real: Float32Array | Float64Array, fake: Float32Array | Float64Array, dim: number, kPR = 3,
  kDC = 5): { precisionRecall: PrecisionRecall; densityCoverage: DensityCoverage } {
  const r = featureSet(real, dim, 'real');
  const f = featureSet(fake, dim, 'generated');
  const [realPR, realDC] = neighbourRadii(r, dim, [kPR, kDC]);
  const fakeRadii = kthNeighbourRadii(f, dim, kPR);
  const fakeInside = new Uint8Array(f.n);
  const realInside = new Uint8Array(r.n);
  const covered = new Uint8Array(r.n);
  let inside = 0;
  scanDistances(r, f, dim, (i, j, d2) => {
    if (d2 < realPR[i]) fakeInside[j] = 1;
    if (d2 < fakeRadii[j]) realInside[i] = 1;
    if (d2 < realDC[i]) {
      inside++;
      covered[i] = 1;
    }
  });
  return {
    precisionRecall: { precision: mean(fakeInside), recall: mean(realInside), k: kPR },
    densityCoverage: { density: inside / (kDC * f.n), coverage: mean(covered), k: kDC },
  };
}

/** Improved precision and recall of generated features against real ones (both N x dim row-major). */
export function precisionRecall(real: Float32Array | Float64Array, fake: Float32Array | Float64Array, dim: number, k = 3): PrecisionRecall {
  const r = featureSet(real, dim, 'real');
  const f = featureSet(fake, dim, 'generated');
  const realRadii = kthNeighbourRadii(r, dim, k);
  const fakeRadii = kthNeighbourRadii(f, dim, k);
  const fakeInside = new Uint8Array(f.n);
  const realInside = new Uint8Array(r.n);
  scanDistances(r, f, dim, (i, j, d2) => {
    if (d2 < realRadii[i]) fakeInside[j] = 1;
    if (d2 < fakeRadii[j]) realInside[i] = 1;
  });
  return { precision: mean(fakeInside), recall: mean(realInside), k };
}

/** Density and coverage of generated features against real ones (both N x dim row-major). */
export function densityCoverage(real: Float32Array | Float64Array, fake: Float32Array | Float64Array, dim: number, k = 5): DensityCoverage {
  const r = featureSet(real, dim, 'real');
  const f = featureSet(fake, dim, 'generated');
  const realRadii = kthNeighbourRadii(r, dim, k);
  let inside = 0;
  const covered = new Uint8Array(r.n);
  scanDistances(r, f, dim, (i, _j, d2) => {
    if (d2 < realRadii[i]) {
      inside++;
      covered[i] = 1;
    }
  });
  return { density: inside / (k * f.n), coverage: mean(covered), k };
}

function mean(flags: Uint8Array): number {
  let s = 0;
  for (const v of flags) s += v;
  return s / flags.length;
}
