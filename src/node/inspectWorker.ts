// The checkpoint inspector's worker thread (bundled as dist/inspectWorker.js): parses a checkpoint,
// streams tensor statistics or compares it with another off the extension host's thread, so a large or hostile file cannot
// stall VS Code; src/node/inspectJobs.ts starts it and ends it (terminate() cancels).
import { parentPort, workerData } from 'node:worker_threads';
import { compareCheckpoints, InspectError, inspectCheckpoint, statsEach } from '../core/checkpoint/inspect';
import { CheckpointFiles } from './fileSource';
import { compareOutline, type JobMessage, type JobRequest } from './inspectJobs';

const port = parentPort!;
const post = (m: JobMessage) => port.postMessage(m);

function errorMessage(e: unknown): JobMessage & { type: 'error' } {
  const err = e instanceof Error ? e : new Error(String(e));
  const findings = e instanceof InspectError && e.findings.length ? { findings: e.findings } : {};
  return { type: 'error', name: err.name, code: (err as { code?: unknown }).code as string | undefined, message: err.message, ...findings };
}

async function run(req: JobRequest): Promise<void> {
  const files = new CheckpointFiles(req.path);
  try {
    if (req.op === 'inspect') {
      post({ type: 'summary', summary: await inspectCheckpoint(await files.source(), req.fileName) });
      return;
    }
    if (req.op === 'compare') {
      await compare(req, files);
      return;
    }
    await statsEach((f) => files.source(f), req.tensors,
      (r) => post('stats' in r ? { type: 'stats', index: r.index, stats: r.stats } : { type: 'statsError', index: r.index, message: r.error }),
      undefined, (done, total) => post({ type: 'statsBytes', done, total }));
    post({ type: 'done' });
  } finally {
    await files.close();
  }
}

async function compare(req: JobRequest & { op: 'compare' }, files: CheckpointFiles): Promise<void> {
  const others = new CheckpointFiles(req.other);
  try {
    const a = { summary: await inspectCheckpoint(await files.source(), req.fileName), source: (f?: string) => files.source(f) };
    const b = { summary: await inspectCheckpoint(await others.source(), req.otherName), source: (f?: string) => others.source(f) };
    await compareCheckpoints(a, b, (m) => post({ type: 'compareStart', ...compareOutline(m, b.summary) }), (r) => post({ type: 'diff', ...r }));
    post({ type: 'done' });
  } finally {
    await others.close();
  }
}

run(workerData as JobRequest).catch((e: unknown) => post(errorMessage(e)));
