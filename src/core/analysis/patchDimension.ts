// Effective dimension of a cloud of vectors (p x p image patches, or toy points) from the
// eigenvalues of its covariance. x of a pMF model lies near a low-dimensional manifold, so its
// patches have few significant components; noise-like fields (u, v) spread over all of them.
import { symmetricEigenvalues } from './symmetricEigenvalues';

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
  checkPatchSize(patchSize, H, W);
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

/** Throws unless p x p patches fit an H x W image. */
export function checkPatchSize(patchSize: number, H: number, W: number): void {
  if (!Number.isInteger(patchSize) || patchSize < 1 || patchSize > Math.min(H, W)) {
    throw new RangeError(`patch size must be an integer in [1, ${Math.min(H, W)}], got ${patchSize}`);
  }
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
  const gram = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += X[i * d + k] * X[j * d + k];
      gram[i * m + j] = dot / m;
    }
  }
  return summarise(symmetricEigenvalues(gram, m), d);
}

/** Participation ratio and 95 % components of a spectrum (negative round-off clipped to 0). */
function summarise(values: ArrayLike<number>, d: number): EffectiveDimension {
  const eigenvalues = Array.from(values, (l) => Math.max(l, 0)).sort((a, b) => b - a);
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

/**
 * Running sums of vectors and of their outer products (lower triangle), in float64. Vectors are
 * gathered in blocks of BLOCK and each block updates the d x d sums once (a rank-BLOCK update),
 * so the sums are streamed through memory once per block rather than once per vector.
 */
class CovarianceSum {
  private static readonly BLOCK = 32;
  private readonly sum: Float64Array;
  private readonly outer: Float64Array;
  /** The pending block, transposed: element i of pending vector b at [i * BLOCK + b]. */
  private readonly block: Float64Array;
  private pending = 0;
  private count = 0;

  constructor(readonly dim: number) {
    this.sum = new Float64Array(dim);
    this.outer = new Float64Array(dim * dim);
    this.block = new Float64Array(dim * CovarianceSum.BLOCK);
  }

  add(v: Float64Array): void {
    const B = CovarianceSum.BLOCK;
    const b = this.pending;
    for (let i = 0; i < this.dim; i++) {
      this.sum[i] += v[i];
      this.block[i * B + b] = v[i];
    }
    this.count++;
    if (++this.pending === B) this.flush();
  }

  private flush(): void {
    const B = CovarianceSum.BLOCK;
    const used = this.pending;
    if (used === 0) return;
    if (used < B) for (let i = 0; i < this.dim; i++) this.block.fill(0, i * B + used, (i + 1) * B);
    const d = this.dim;
    const blk = this.block;
    const outer = this.outer;
    for (let i = 0; i < d; i++) {
      const bi = i * B;
      const row = i * d;
      let j = 0;
      // four columns at a time: each element of vector i is loaded once for four products
      for (; j + 3 <= i; j += 4) {
        const b0 = j * B;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let k = 0; k < B; k++) {
          const x = blk[bi + k];
          s0 += x * blk[b0 + k];
          s1 += x * blk[b0 + B + k];
          s2 += x * blk[b0 + 2 * B + k];
          s3 += x * blk[b0 + 3 * B + k];
        }
        outer[row + j] += s0;
        outer[row + j + 1] += s1;
        outer[row + j + 2] += s2;
        outer[row + j + 3] += s3;
      }
      for (; j <= i; j++) {
        const bj = j * B;
        let s = 0;
        for (let k = 0; k < B; k++) s += blk[bi + k] * blk[bj + k];
        outer[row + j] += s;
      }
    }
    this.pending = 0;
  }

  effectiveDimension(): EffectiveDimension {
    this.flush();
    const d = this.dim;
    const m = this.count;
    const cov = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      const mi = this.sum[i] / m;
      for (let j = 0; j <= i; j++) cov[i * d + j] = this.outer[i * d + j] / m - mi * (this.sum[j] / m);
    }
    return summarise(symmetricEigenvalues(cov, d), d);
  }
}
