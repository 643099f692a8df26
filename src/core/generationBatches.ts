// How a generation is split into engine requests, so that the first image comes early. Each
// batch is one generate request; sample i keeps seed S + i and class classes[i mod k] whatever
// the split (the noise depends on the seed only). An expensive model (pMF-B/16: 66.7 GFLOP per
// image and step, about 0.4 s on a 2-core CPU) gets a small first batch, one image when a full
// batch would take more than about a second; the rest use the normal batch size. Pure.

/** Network work the first batch may take: about 1 s of a 2-core laptop CPU (costDefaults' VIZ_BUDGET_FLOP is ~2 s). */
export const FIRST_BATCH_BUDGET_FLOP = 75e9;

export interface BatchCost {
  /** Floating-point operations of one network evaluation of one image (costDefaults().flopsPerImage). */
  flopsPerImage: number;
  /** Sampler steps: each is one network evaluation. */
  steps: number;
  /** A model exported for a fixed batch runs that many rows whatever the request: a smaller first batch gains nothing. */
  fixedBatch?: number;
}

/** The size of the first batch: the normal size when it fits the budget, else as many images as fit (at least 1). */
export function firstBatchSize(batchSize: number, cost: BatchCost, budget = FIRST_BATCH_BUDGET_FLOP): number {
  const batch = Math.max(1, Math.floor(cost.fixedBatch ?? batchSize));
  if (cost.fixedBatch) return batch;
  const perImage = Math.max(0, cost.flopsPerImage) * Math.max(1, cost.steps);
  if (!(perImage > 0) || batch * perImage <= budget) return batch;
  return Math.max(1, Math.min(batch, Math.floor(budget / perImage)));
}

/** n samples as a first batch of `first`, then batches of `batch` (the last one whatever is left). They sum to n. */
export function splitBatches(n: number, first: number, batch: number): number[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`the number of samples must be a positive integer, got ${n}`);
  if (!(batch >= 1) || !(first >= 1)) throw new RangeError(`batch sizes must be positive integers, got ${first} and ${batch}`);
  const b = Math.floor(batch);
  const out = [Math.min(n, Math.floor(first))];
  for (let done = out[0]; done < n; done += out[out.length - 1]) out.push(Math.min(b, n - done));
  return out;
}

/** The batch sizes of a generation of n samples, in order: the first from firstBatchSize, the rest of the normal size. */
export function planBatches(n: number, batchSize: number, cost: BatchCost, budget = FIRST_BATCH_BUDGET_FLOP): number[] {
  if (!(batchSize >= 1)) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  return splitBatches(n, firstBatchSize(batchSize, cost, budget), cost.fixedBatch ?? batchSize);
}
