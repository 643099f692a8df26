// Effective dimension of a cloud of vectors (p x p image patches, or toy points) from the
// eigenvalues of its covariance. x of a pMF model lies near a low-dimensional manifold, so its
// patches have few significant components; noise-like fields (u, v) spread over all of them.
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** Effective dimension of a set of d-dimensional vectors. All zero when they have no variance. */
export interface EffectiveDimension {
  /** (sum l)^2 / sum l^2 over the covariance eigenvalues l: between 1 and d. */
  participationRatio: number;
  /** Smallest k whose k largest eigenvalues hold at least 95 % of the total variance. */
  components95: number;
  /** d: the dimension of the vectors (p * p * C for patches), the most the two above can be. */
  patchDim: number;
  /** Covariance eigenvalues (divided by the number of vectors), descending, negatives from rounding clamped to 0. */
  eigenvalues: number[];
}

export interface PatchOptions {
  /** Step between patch origins; default defaultPatchStride(...). */
  stride?: number;
  /** Most patches the default stride allows (pooled over the batch). */
  maxPatches?: number;
}

/** Default cap on the number of patches pooled over a batch. */
export const DEFAULT_MAX_PATCHES = 20_000;

/**
 * Stride for p x p patches of n images of H x W: 1 while that gives at most maxPatches
 * patches, otherwise p / 2, raised further until the count is at most maxPatches (or a single
 * patch per image is left).
 */
export function defaultPatchStride(n: number, H: number, W: number, patchSize: number,
  maxPatches = DEFAULT_MAX_PATCHES): number {
  const count = (s: number): number => n * (Math.floor((H - patchSize) / s) + 1) * (Math.floor((W - patchSize) / s) + 1);
  if (count(1) <= maxPatches) return 1;
  let stride = Math.max(1, Math.floor(patchSize / 2));
  while (count(stride) > maxPatches && stride <= Math.max(H, W) - patchSize) stride++;
  return stride;
}

/**
 * Effective dimension of all p x p x C patches of a batch of n CHW images (images holds them
 * back to back): the patches are pooled, centred, and their d x d covariance (d = p * p * C,
 * patch vectors ordered channel, row, column) is diagonalised. The covariance is accumulated
 * patch by patch, so memory is O(d^2) and time O(patches * d^2 + d^3).
 */
export function patchDimension(images: Float32Array, n: number, shape: readonly [number, number, number],
  patchSize: number, options: PatchOptions = {}): EffectiveDimension {
  const [C, H, W] = shape;
  for (const [name, v] of [['n', n], ['C', C], ['H', H], ['W', W]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  if (images.length !== n * C * H * W) {
    throw new RangeError(`images hold ${images.length} values, expected n * C * H * W = ${n * C * H * W}`);
  }
  if (!Number.isInteger(patchSize) || patchSize < 1 || patchSize > Math.min(H, W)) {
    throw new RangeError(`patch size must be an integer in [1, ${Math.min(H, W)}], got ${patchSize}`);
  }
  const stride = options.stride ?? defaultPatchStride(n, H, W, patchSize, options.maxPatches);
  if (!Number.isInteger(stride) || stride < 1) throw new RangeError(`stride must be a positive integer, got ${stride}`);

  const hw = H * W;
  // Covariance is shift invariant; subtracting a value of the data (channel c of the first
  // pixel) limits cancellation in sum(x x^T) / m - mean mean^T and makes constant data exactly 0.
  const shift = Array.from({ length: C }, (_, c) => images[c * hw]);
  const acc = new CovarianceSum(C * patchSize * patchSize);
  const patch = new Float64Array(acc.dim);
  for (let i = 0; i < n; i++) {
    for (let y0 = 0; y0 + patchSize <= H; y0 += stride) {
      for (let x0 = 0; x0 + patchSize <= W; x0 += stride) {
        let k = 0;
        for (let c = 0; c < C; c++) {
          const base = (i * C + c) * hw + y0 * W + x0;
          for (let dy = 0; dy < patchSize; dy++) {
            const row = base + dy * W;
            for (let dx = 0; dx < patchSize; dx++) patch[k++] = images[row + dx] - shift[c];
          }
        }
        acc.add(patch);
      }
    }
  }
  return acc.effectiveDimension();
}

/** Effective dimension of m points of dimension d stored back to back (m x d), e.g. toy samples. */
export function pointDimension(points: Float32Array, m: number, d: number): EffectiveDimension {
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`m must be a positive integer, got ${m}`);
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`d must be a positive integer, got ${d}`);
  if (points.length !== m * d) throw new RangeError(`points hold ${points.length} values, expected m * d = ${m * d}`);
  if (m < d) return gramDimension(points, m, d);
  const acc = new CovarianceSum(d);
  const point = new Float64Array(d);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < d; k++) point[k] = points[i * d + k] - points[k]; // shifted by the first point, as above
    acc.add(point);
  }
  return acc.effectiveDimension();
}

/**
 * Fewer points than dimensions: the centred Gram matrix X X^T / m (m x m) has the same nonzero
 * eigenvalues as the covariance X^T X / m (d x d), at a fraction of the cost. patchDim stays d;
 * at most m - 1 eigenvalues are nonzero.
 */
function gramDimension(points: Float32Array, m: number, d: number): EffectiveDimension {
  const mean = new Float64Array(d);
  for (let i = 0; i < m; i++) for (let k = 0; k < d; k++) mean[k] += points[i * d + k] / m;
  const X = new Float64Array(m * d);
  for (let i = 0; i < m; i++) for (let k = 0; k < d; k++) X[i * d + k] = points[i * d + k] - mean[k];
  const gram = new Matrix(m, m);
  for (let i = 0; i < m; i++) {
    for (let j = i; j < m; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += X[i * d + k] * X[j * d + k];
      gram.set(i, j, dot / m);
      gram.set(j, i, dot / m);
    }
  }
  return summarise(new EigenvalueDecomposition(gram, { assumeSymmetric: true }).realEigenvalues, d);
}

/** Participation ratio and 95 % components of a spectrum (negative round-off clipped to 0). */
function summarise(values: number[], d: number): EffectiveDimension {
  const eigenvalues = values.map((l) => Math.max(l, 0)).sort((a, b) => b - a);
  let total = 0;
  let squares = 0;
  for (const l of eigenvalues) {
    total += l;
    squares += l * l;
  }
  if (!(total > 0)) return { participationRatio: 0, components95: 0, patchDim: d, eigenvalues: eigenvalues.map(() => 0) };
  let components95 = 0;
  for (let cumulative = 0; cumulative < 0.95 * total; components95++) cumulative += eigenvalues[components95];
  return { participationRatio: (total * total) / squares, components95, patchDim: d, eigenvalues };
}

/** Running sums of vectors and of their outer products (upper triangle), in float64. */
class CovarianceSum {
  private readonly sum: Float64Array;
  private readonly outer: Float64Array;
  private count = 0;

  constructor(readonly dim: number) {
    this.sum = new Float64Array(dim);
    this.outer = new Float64Array(dim * dim);
  }

  add(v: Float64Array): void {
    const d = this.dim;
    const outer = this.outer;
    for (let i = 0; i < d; i++) {
      const vi = v[i];
      this.sum[i] += vi;
      if (vi === 0) continue; // common: flat backgrounds equal the shift
      const row = i * d;
      for (let j = i; j < d; j++) outer[row + j] += vi * v[j];
    }
    this.count++;
  }

  effectiveDimension(): EffectiveDimension {
    const d = this.dim;
    const m = this.count;
    const cov = new Matrix(d, d);
    for (let i = 0; i < d; i++) {
      const mi = this.sum[i] / m;
      for (let j = i; j < d; j++) {
        const c = this.outer[i * d + j] / m - mi * (this.sum[j] / m);
        cov.set(i, j, c);
        cov.set(j, i, c);
      }
    }
    return summarise(new EigenvalueDecomposition(cov, { assumeSymmetric: true }).realEigenvalues, d);
  }
}
