// Sufficient statistics of a set of feature vectors (count, sum, sum of outer products), exact
// under any split into shards and any merge order.
//
// Why not plain float64 sums: floating-point addition is not associative, so the sums of a run in
// two shards, added together, differ in their last bits from the sums of one run, and differently
// for every shard count. Exact integer (fixed-point) sums of the per-sample products would be
// associative but cost several operations per product, d²/2 products per sample (2.1 million at
// d = 2048). So the work is split in two, both parts deterministic:
//   1. Blocks. Sample indices are grouped in fixed blocks [b·B, (b+1)·B) (B = blockSize, 1024 by
//      default). A block's sums are computed in float64 by one fixed routine from its samples in
//      index order: the result depends only on which samples the block holds, not on the shard
//      or process that computes it. This is the fast part (a Gram-matrix kernel).
//   2. Exact accumulation. Each block's float64 sums are added to an ExactSums accumulator
//      (exactSum.ts: fixed-point limbs, exact and order-independent), a few operations per entry
//      per block rather than per sample.
// A block whose samples are not all present (a shard boundary inside it, or the last block of
// the run) stays pending: its features are kept, not summed. Merging moves pending samples
// together, and a block is summed once all B of its samples are present. `finish` sums the
// still-incomplete blocks into a copy of the accumulator (the statistics themselves stay
// mergeable). So one run and any set of shards that covers the same sample indices end with the
// same blocks, the same block sums and the same exact totals: bit-identical mean and covariance,
// whatever the shard count, the order of merging, or the order the samples arrived in.
//
// Statistics with different block sizes or dimensions refuse to merge, and a sample index seen
// twice (two shards that overlap) is an error rather than a silent double count.
import { ExactSums } from './exactSum';

export const DEFAULT_BLOCK_SIZE = 1024;

/** Mean and covariance of a feature set: covariance unbiased (divided by N - 1), as numpy.cov and pytorch-fid. */
export interface FeatureMoments {
  count: number;
  dim: number;
  mean: Float64Array;
  /** d x d, row-major, symmetric. */
  covariance: Float64Array;
}

/** Plain data for saving a shard's statistics (see FeatureStatistics.fromSnapshot). */
export interface StatisticsSnapshot {
  dim: number;
  blockSize: number;
  /** Samples in complete blocks (summed). */
  summedCount: number;
  /** Indices of the complete, summed blocks, ascending. */
  summedBlocks: Float64Array;
  /** ExactSums limbs of the sum (limb-major, 4·d values). */
  sumLimbs: Float64Array;
  /** ExactSums limbs of the packed lower triangle of the sum of outer products (4·d(d+1)/2). */
  productLimbs: Float64Array;
  /** Sample indices of the pending (unsummed) samples, ascending. */
  pendingIndices: Float64Array;
  /** Their features, pendingIndices.length x dim, row-major. */
  pendingFeatures: Float32Array;
}

export class FeatureStatistics {
  private readonly sum: ExactSums;
  private readonly products: ExactSums;
  private summedCount = 0;
  private readonly summedBlocks = new Set<number>();
  /** block index -> (sample index -> features) */
  private readonly pending = new Map<number, Map<number, Float32Array>>();

  constructor(readonly dim: number, readonly blockSize = DEFAULT_BLOCK_SIZE) {
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`the feature dimension must be a positive integer, got ${dim}`);
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`the block size must be a positive integer, got ${blockSize}`);
    this.sum = new ExactSums(dim);
    this.products = new ExactSums((dim * (dim + 1)) / 2);
  }

  /** Samples counted so far (summed and pending). */
  get count(): number {
    let n = this.summedCount;
    for (const m of this.pending.values()) n += m.size;
    return n;
  }

  /** Adds sample `index` (its global index in the run) with its features (copied). */
  add(index: number, features: Float32Array): void {
    if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`a sample index must be a non-negative integer, got ${index}`);
    if (features.length !== this.dim) throw new RangeError(`sample ${index} has ${features.length} features, expected ${this.dim}`);
    for (let i = 0; i < features.length; i++) {
      if (!Number.isFinite(features[i])) throw new RangeError(`sample ${index} has a non-finite feature (${features[i]} at ${i})`);
    }
    const block = Math.floor(index / this.blockSize);
    if (this.summedBlocks.has(block)) throw new RangeError(`sample ${index} is counted twice`);
    let members = this.pending.get(block);
    if (!members) this.pending.set(block, (members = new Map<number, Float32Array>()));
    if (members.has(index)) throw new RangeError(`sample ${index} is counted twice`);
    members.set(index, Float32Array.from(features));
    if (members.size === this.blockSize) this.sumBlock(block);
  }

  /** Adds `count` samples with indices firstIndex, firstIndex + 1, ...; `features` is count x dim, row-major. */
  addBatch(firstIndex: number, features: Float32Array): void {
    if (features.length % this.dim !== 0) throw new RangeError(`${features.length} feature values is not a whole number of ${this.dim}-vectors`);
    const n = features.length / this.dim;
    for (let s = 0; s < n; s++) this.add(firstIndex + s, features.subarray(s * this.dim, (s + 1) * this.dim));
  }

  /** Adds another shard's statistics (which must cover other samples). */
  merge(other: FeatureStatistics): void {
    if (other.dim !== this.dim || other.blockSize !== this.blockSize) {
      throw new RangeError(`cannot merge statistics of ${other.dim} features in blocks of ${other.blockSize} into ${this.dim} features in blocks of ${this.blockSize}`);
    }
    for (const b of other.summedBlocks) {
      if (this.summedBlocks.has(b) || this.pending.has(b)) throw new RangeError(`both sets of statistics hold samples of block ${b} (samples ${b * this.blockSize}..${(b + 1) * this.blockSize - 1}): the shards overlap`);
    }
    for (const [b, members] of other.pending) {
      if (this.summedBlocks.has(b)) throw new RangeError(`both sets of statistics hold samples of block ${b}: the shards overlap`);
      const mine = this.pending.get(b);
      if (mine) for (const i of members.keys()) if (mine.has(i)) throw new RangeError(`sample ${i} is in both sets of statistics: the shards overlap`);
    }
    this.sum.addExact(other.sum);
    this.products.addExact(other.products);
    this.summedCount += other.summedCount;
    for (const b of other.summedBlocks) this.summedBlocks.add(b);
    for (const [b, members] of other.pending) {
      let mine = this.pending.get(b);
      if (!mine) this.pending.set(b, (mine = new Map<number, Float32Array>()));
      for (const [i, f] of members) mine.set(i, f);
      if (mine.size === this.blockSize) this.sumBlock(b);
    }
  }

  /** Mean and unbiased covariance of all the samples (at least 2). */
  finish(): FeatureMoments {
    const n = this.count;
    if (n < 2) throw new RangeError(`a covariance needs at least 2 samples, got ${n}`);
    const sum = ExactSums.fromLimbs(this.sum.toLimbs(), this.dim);
    const products = ExactSums.fromLimbs(this.products.toLimbs(), this.products.length);
    for (const b of [...this.pending.keys()].sort((x, y) => x - y)) {
      const { s1, s2 } = blockSums(this.members(b), this.dim);
      sum.addVector(s1);
      products.addVector(s2);
    }
    return momentsFromSums(n, this.dim, sum.toFloat64(), products.toFloat64());
  }

  snapshot(): StatisticsSnapshot {
    const indices: number[] = [];
    for (const members of this.pending.values()) indices.push(...members.keys());
    indices.sort((a, b) => a - b);
    const pendingFeatures = new Float32Array(indices.length * this.dim);
    indices.forEach((i, s) => pendingFeatures.set(this.pending.get(Math.floor(i / this.blockSize))!.get(i)!, s * this.dim));
    return {
      dim: this.dim,
      blockSize: this.blockSize,
      summedCount: this.summedCount,
      summedBlocks: Float64Array.from([...this.summedBlocks].sort((a, b) => a - b)),
      sumLimbs: this.sum.toLimbs(),
      productLimbs: this.products.toLimbs(),
      pendingIndices: Float64Array.from(indices),
      pendingFeatures,
    };
  }

  static fromSnapshot(s: StatisticsSnapshot): FeatureStatistics {
    const st = new FeatureStatistics(s.dim, s.blockSize);
    const sum = ExactSums.fromLimbs(s.sumLimbs, s.dim);
    const products = ExactSums.fromLimbs(s.productLimbs, st.products.length);
    st.sum.addExact(sum);
    st.products.addExact(products);
    if (!Number.isSafeInteger(s.summedCount) || s.summedCount !== s.summedBlocks.length * s.blockSize) {
      throw new RangeError(`the saved statistics count ${s.summedCount} summed samples in ${s.summedBlocks.length} blocks of ${s.blockSize}`);
    }
    st.summedCount = s.summedCount;
    for (const b of s.summedBlocks) st.summedBlocks.add(b);
    if (s.pendingFeatures.length !== s.pendingIndices.length * s.dim) throw new RangeError('the saved pending features do not match their indices');
    s.pendingIndices.forEach((i, k) => st.add(i, s.pendingFeatures.subarray(k * s.dim, (k + 1) * s.dim)));
    return st;
  }

  private members(block: number): Float32Array[] {
    const m = this.pending.get(block)!;
    return [...m.keys()].sort((a, b) => a - b).map((i) => m.get(i)!);
  }

  private sumBlock(block: number): void {
    const members = this.members(block);
    const { s1, s2 } = blockSums(members, this.dim);
    this.sum.addVector(s1);
    this.products.addVector(s2);
    this.summedCount += members.length;
    this.summedBlocks.add(block);
    this.pending.delete(block);
  }
}

/**
 * The sample indices [start, end) of shard k of n (k = 0..n-1) for a run of `total` samples:
 * contiguous ranges of whole blocks, as even as whole blocks allow, so no shard leaves a block
 * pending but the run's last, short one. (Any split merges exactly; this one keeps the shard
 * files small: a strided split, say, would leave every block pending with its features.)
 */
export function shardRange(total: number, k: number, n: number, blockSize = DEFAULT_BLOCK_SIZE): { start: number; end: number } {
  if (!Number.isSafeInteger(total) || total < 0) throw new RangeError(`the sample count must be a non-negative integer, got ${total}`);
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(k) || k < 0 || k >= n) throw new RangeError(`shard ${k + 1}/${n} does not exist`);
  const blocks = Math.ceil(total / blockSize);
  const first = Math.floor((k * blocks) / n);
  const last = Math.floor(((k + 1) * blocks) / n);
  return { start: Math.min(total, first * blockSize), end: Math.min(total, last * blockSize) };
}

/** Packed lower-triangle index of (i, j), j <= i. */
export function packedIndex(i: number, j: number): number {
  return (i * (i + 1)) / 2 + j;
}

/**
 * The float64 sums of one block's samples (in the given order): s1[i] = Σ x_i, s2 = packed lower
 * triangle of Σ x xᵀ. A fixed routine: the same samples give bit-identical sums. The samples are
 * transposed to float64 columns and taken in chunks of 128, so the working set stays in cache;
 * two rows of the triangle go against four columns at a time. The routine is part of the shard
 * file format (a shard summed by another routine would not merge bit-identically): changing it
 * needs a new shard format version (src/node/npz.ts).
 */
export function blockSums(samples: readonly Float32Array[], dim: number): { s1: Float64Array; s2: Float64Array } {
  const m = samples.length;
  const s1 = new Float64Array(dim);
  const s2 = new Float64Array((dim * (dim + 1)) / 2);
  const CHUNK = 128;
  const xt = new Float64Array(dim * CHUNK);
  for (let c0 = 0; c0 < m; c0 += CHUNK) {
    const c = Math.min(CHUNK, m - c0);
    for (let s = 0; s < c; s++) {
      const x = samples[c0 + s];
      for (let i = 0; i < dim; i++) xt[i * c + s] = x[i];
    }
    for (let i = 0; i < dim; i++) {
      let t = 0;
      for (let s = 0; s < c; s++) t += xt[i * c + s];
      s1[i] += t;
    }
    // rows i, i+1 of the lower triangle together against four columns j at a time
    let i = 0;
    for (; i + 2 <= dim; i += 2) {
      const a0 = i * c;
      const a1 = a0 + c;
      const row0 = (i * (i + 1)) / 2;
      const row1 = row0 + i + 1;
      let j = 0;
      for (; j + 4 <= i + 1; j += 4) {
        const b0 = j * c;
        const b1 = b0 + c;
        const b2 = b1 + c;
        const b3 = b2 + c;
        let t00 = 0;
        let t01 = 0;
        let t02 = 0;
        let t03 = 0;
        let t10 = 0;
        let t11 = 0;
        let t12 = 0;
        let t13 = 0;
        for (let s = 0; s < c; s++) {
          const u = xt[a0 + s];
          const v = xt[a1 + s];
          const y0 = xt[b0 + s];
          const y1 = xt[b1 + s];
          const y2 = xt[b2 + s];
          const y3 = xt[b3 + s];
          t00 += u * y0;
          t01 += u * y1;
          t02 += u * y2;
          t03 += u * y3;
          t10 += v * y0;
          t11 += v * y1;
          t12 += v * y2;
          t13 += v * y3;
        }
        s2[row0 + j] += t00; // j + 3 <= i: all four columns are in row i's part of the triangle
        s2[row0 + j + 1] += t01;
        s2[row0 + j + 2] += t02;
        s2[row0 + j + 3] += t03;
        s2[row1 + j] += t10;
        s2[row1 + j + 1] += t11;
        s2[row1 + j + 2] += t12;
        s2[row1 + j + 3] += t13;
      }
      for (; j <= i + 1; j++) {
        const b = j * c;
        let t0 = 0;
        let t1 = 0;
        for (let s = 0; s < c; s++) {
          const y = xt[b + s];
          t0 += xt[a0 + s] * y;
          t1 += xt[a1 + s] * y;
        }
        if (j <= i) s2[row0 + j] += t0;
        s2[row1 + j] += t1;
      }
    }
    for (; i < dim; i++) {
      const ai = i * c;
      const row = (i * (i + 1)) / 2;
      for (let j = 0; j <= i; j++) {
        const b = j * c;
        let t0 = 0;
        for (let s = 0; s < c; s++) t0 += xt[ai + s] * xt[b + s];
        s2[row + j] += t0;
      }
    }
  }
  return { s1, s2 };
}

/** Mean and unbiased covariance from the count, the sum and the packed sum of outer products. */
export function momentsFromSums(n: number, dim: number, s1: Float64Array, s2: Float64Array): FeatureMoments {
  const mean = new Float64Array(dim);
  for (let i = 0; i < dim; i++) mean[i] = s1[i] / n;
  const covariance = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) {
    const row = (i * (i + 1)) / 2;
    for (let j = 0; j <= i; j++) {
      // Σ (x_i - m_i)(x_j - m_j) = Σ x_i x_j - n m_i m_j
      const v = (s2[row + j] - s1[i] * mean[j]) / (n - 1);
      covariance[i * dim + j] = v;
      covariance[j * dim + i] = v;
    }
  }
  return { count: n, dim, mean, covariance };
}

/** Mean and unbiased covariance of `n` samples (n x dim row-major) in one pass, no sharding (a convenience). */
export function featureMoments(features: Float32Array, dim: number, blockSize = DEFAULT_BLOCK_SIZE): FeatureMoments {
  const st = new FeatureStatistics(dim, blockSize);
  st.addBatch(0, features);
  return st.finish();
}
