// Runs "pMF: Compare Models"' measurements (core/comparisonDimensions: the effective dimension of
// x's and u's tokens along t) in a worker thread (tokenDimensionsWorker.ts), one per job: the
// extension host stays free while a 112 x 112 model's 256-dimensional patches are measured, and
// an abort ends the worker at once.
import { Worker } from 'node:worker_threads';
import { CancelledError } from '../core/cancel';
import type { TokenDimensions } from '../core/comparisonDimensions';

export interface TokenDimensionsJob {
  /** x and u, [frames, n, ...sampleShape] each (transferred to the worker). */
  x: Float32Array;
  u: Float32Array;
  frames: number;
  n: number;
  sampleShape: number[];
  patchSize: number;
}

export type TokenDimensionsMessage =
  | { type: 'frame'; frame: number; x: number; u: number }
  | { type: 'done'; patchDim: number }
  | { type: 'error'; message: string };

/** Measures the job in the worker at `workerPath`; onFrame sees each frame's numbers, in order. */
export function tokenDimensionsInWorker(workerPath: string, job: TokenDimensionsJob, signal: AbortSignal,
  onFrame?: (frame: number, x: number, u: number) => void): Promise<TokenDimensions> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new CancelledError());
    const worker = new Worker(workerPath, { workerData: job, transferList: [job.x.buffer as ArrayBuffer, job.u.buffer as ArrayBuffer] });
    const out: TokenDimensions = { x: [], u: [], patchDim: 0 };
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      void worker.terminate();
      if (err) reject(err);
      else resolve(out);
    };
    const onAbort = () => finish(new CancelledError());
    signal.addEventListener('abort', onAbort);
    worker.on('message', (m: TokenDimensionsMessage) => {
      if (settled) return;
      if (m.type === 'frame') {
        out.x.push(m.x);
        out.u.push(m.u);
        onFrame?.(m.frame, m.x, m.u);
      } else if (m.type === 'done') {
        out.patchDim = m.patchDim;
        finish();
      } else {
        finish(new Error(`Measuring the patches failed: ${m.message}`));
      }
    });
    worker.on('error', (e) => finish(new Error(`The measurement worker failed: ${e.message}`)));
    worker.on('exit', (code) => finish(new Error(`The measurement worker stopped (exit code ${code}).`)));
  });
}
