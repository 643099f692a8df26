// What a "Benchmark here" run measures (batch sizes, timed runs) and its bounds, shared by the
// CLI's `pmf bench`, the engine-side measuring (src/node/benchmarkHere.ts) and the inspector panel.

export const DEFAULT_BATCHES: readonly number[] = [1, 4];
export const DEFAULT_RUNS = 5;
export const MAX_BATCH = 4096;
export const MAX_RUNS = 1000;
/** Batch sizes one run may measure at most. */
export const MAX_BATCH_SIZES = 16;

/** Checks batch sizes and runs; throws an Error whose message says what is allowed. */
export function checkBenchPlan(batches: readonly number[], runs: number): void {
  if (batches.length === 0) throw new Error('Give at least one batch size.');
  if (batches.length > MAX_BATCH_SIZES) throw new Error(`Give at most ${MAX_BATCH_SIZES} batch sizes, got ${batches.length}.`);
  for (const b of batches) {
    if (!Number.isInteger(b) || b < 1 || b > MAX_BATCH) throw new Error(`A batch size is an integer from 1 to ${MAX_BATCH}, got ${b}.`);
  }
  if (!Number.isInteger(runs) || runs < 1 || runs > MAX_RUNS) throw new Error(`Runs is an integer from 1 to ${MAX_RUNS}, got ${runs}.`);
}

/** "1, 4" or "1,4,16" -> [1, 4, 16] (duplicates dropped); throws an Error that shows the form. */
export function parseBatchList(text: string): number[] {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0 || parts.some((s) => !/^\d+$/.test(s))) {
    throw new Error(`Batch sizes are positive integers separated by commas (1,4), got '${text}'.`);
  }
  return [...new Set(parts.map(Number))];
}
