// The worker thread of "pMF: Compare Models"' measurements (bundled as dist/tokenDimensionsWorker.js):
// the effective dimension of x's and u's tokens along t (core/comparisonDimensions), off the
// extension host's thread, each frame posted as it is done; src/node/tokenDimensions.ts starts it
// and ends it (terminate() cancels).
import { parentPort, workerData } from 'node:worker_threads';
import { tokenDimensions } from '../core/comparisonDimensions';
import type { TokenDimensionsJob, TokenDimensionsMessage } from './tokenDimensions';

const port = parentPort!;
const post = (m: TokenDimensionsMessage) => port.postMessage(m);
const job = workerData as TokenDimensionsJob;
try {
  const r = tokenDimensions(job.x, job.u, job.frames, job.n, job.sampleShape, job.patchSize,
    (frame, x, u) => post({ type: 'frame', frame, x, u }));
  post({ type: 'done', patchDim: r.patchDim });
} catch (e) {
  post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
}
