// The checkpoint inspector's worker thread (bundled as dist/inspectWorker.js): parses a checkpoint
// or streams tensor statistics off the extension host's thread, so a large or hostile file cannot
// stall VS Code; src/node/inspectJobs.ts starts it and ends it (terminate() cancels).
import { parentPort, workerData } from 'node:worker_threads';
import { inspectCheckpoint, tensorStats } from '../core/checkpoint/inspect';
import { CheckpointFiles } from './fileSource';
import type { JobRequest, JobMessage } from './inspectJobs';

const port = parentPort!;
const post = (m: JobMessage) => port.postMessage(m);

function errorMessage(e: unknown): JobMessage & { type: 'error' } {
  const err = e instanceof Error ? e : new Error(String(e));
  return { type: 'error', name: err.name, code: (err as { code?: unknown }).code as string | undefined, message: err.message };
}

async function run(req: JobRequest): Promise<void> {
  const files = new CheckpointFiles(req.path);
  try {
    if (req.op === 'inspect') {
      post({ type: 'summary', summary: await inspectCheckpoint(await files.source(), req.fileName) });
      return;
    }
    for (const { index, tensor } of req.tensors) {
      try {
        post({ type: 'stats', index, stats: await tensorStats(await files.source(tensor.data?.file), tensor) });
      } catch (e) {
        post({ type: 'statsError', index, message: errorMessage(e).message });
      }
    }
    post({ type: 'done' });
  } finally {
    await files.close();
  }
}

run(workerData as JobRequest).catch((e: unknown) => post(errorMessage(e)));
