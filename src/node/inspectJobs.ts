// Runs the checkpoint inspector in a worker thread (dist/inspectWorker.js): the extension host
// stays responsive while a multi-gigabyte checkpoint is parsed or its statistics are streamed, and
// cancelling a job ends its thread. One worker per job; starting one costs a few tens of ms.
// Workers are threads of the extension host (or the CLI), so they end with it, however it ends.
import { Worker } from 'node:worker_threads';
import { CancelledError } from '../core/cancel';
import { InspectError, type CheckpointSummary, type Finding, type Matching, type PairResult, type StatsResult, type TensorEntry, type TensorStats } from '../core/checkpoint/inspect';

export type JobRequest =
  | { op: 'inspect'; path: string; fileName: string }
  | { op: 'stats'; path: string; tensors: Array<{ index: number; tensor: TensorEntry }> }
  | { op: 'compare'; path: string; fileName: string; other: string; otherName: string };

/**
 * A comparison's outline: the pairs, the tensors of either file without a namesake in the other,
 * and the other file's danger and warning findings (a checkpoint compared with is judged too).
 */
export interface CompareStart {
  pairs: number;
  onlyHere: number[];
  onlyThere: string[];
  otherFindings: Finding[];
}

/** The outline the webview gets of a pairing (the other file's unpaired tensors by name). */
export function compareOutline(m: Matching, other: CheckpointSummary): CompareStart {
  return { pairs: m.pairs.length, onlyHere: m.onlyA, onlyThere: m.onlyB.map((j) => other.tensors[j].name),
    otherFindings: other.findings.filter((f) => f.severity !== 'info') };
}

/** One tensor of this file against its namesake in the other (indices into this file's summary). */
export type CompareResult = PairResult;

export type JobMessage =
  | { type: 'summary'; summary: CheckpointSummary }
  | { type: 'stats'; index: number; stats: TensorStats }
  | { type: 'statsError'; index: number; message: string }
  /** Bytes of tensor data read of all (sent at most a few times a second). */
  | { type: 'statsBytes'; done: number; total: number }
  | ({ type: 'compareStart' } & CompareStart)
  | ({ type: 'diff' } & CompareResult)
  | { type: 'done' }
  /** `findings`: the danger findings of a file refused as unsafe (InspectError 'dangerous'). */
  | { type: 'error'; name: string; code?: string; message: string; findings?: Finding[] };

/** A worker's heap limit: a pickle built to exhaust memory ends the worker, not the host. */
const WORKER_HEAP_MB = 4096;

function cancelled(): Error {
  return new CancelledError('Cancelled.', 'AbortError');
}

/** Runs one job; `onMessage` sees each message; resolves on the job's last message. */
function runJob(workerPath: string, req: JobRequest, onMessage: (m: JobMessage) => boolean, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const worker = new Worker(workerPath, { workerData: req, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => finish(cancelled());
    signal?.addEventListener('abort', onAbort);
    worker.on('message', (m: JobMessage) => {
      if (settled) return;
      if (m.type === 'error') {
        finish(m.name === 'InspectError' && m.code ? new InspectError(m.code as InspectError['code'], m.message, m.findings)
          : m.name === 'AbortError' || m.name === 'CancelledError' ? new CancelledError(m.message, 'AbortError') : new Error(m.message));
      } else if (onMessage(m)) finish();
    });
    worker.on('error', (e) => finish(new Error(`The checkpoint inspector's worker failed: ${e.message}`)));
    worker.on('exit', (code) => finish(new Error(`The checkpoint inspector's worker stopped (exit code ${code})` +
      `${code === 1 ? ': out of memory?' : ''}.`)));
  });
}

/** The summary of the checkpoint at `path`, parsed in a worker thread. */
export async function inspectInWorker(workerPath: string, path: string, fileName: string, signal?: AbortSignal): Promise<CheckpointSummary> {
  let summary: CheckpointSummary | undefined;
  await runJob(workerPath, { op: 'inspect', path, fileName }, (m) => {
    if (m.type === 'summary') summary = m.summary;
    return m.type === 'summary';
  }, signal);
  return summary!;
}

/** Statistics of tensors of the checkpoint at `path`, one callback each as they finish, in a worker thread. */
export async function statsInWorker(
  workerPath: string,
  path: string,
  tensors: Array<{ index: number; tensor: TensorEntry }>,
  onResult: (r: StatsResult) => void,
  signal?: AbortSignal,
  onProgress?: (bytesDone: number, bytesTotal: number) => void,
): Promise<void> {
  await runJob(workerPath, { op: 'stats', path, tensors }, (m) => {
    if (m.type === 'stats') onResult({ index: m.index, stats: m.stats });
    else if (m.type === 'statsError') onResult({ index: m.index, error: m.message });
    else if (m.type === 'statsBytes') onProgress?.(m.done, m.total);
    return m.type === 'done';
  }, signal);
}

/**
 * Compares the checkpoint at `path` with the one at `other` in a worker thread: `onStart` gets the
 * pairing, then `onResult` each pair's distance as it is computed.
 */
export async function compareInWorker(
  workerPath: string,
  files: { path: string; fileName: string; other: string; otherName: string },
  onStart: (s: CompareStart) => void,
  onResult: (r: CompareResult) => void,
  signal?: AbortSignal,
): Promise<void> {
  await runJob(workerPath, { op: 'compare', ...files }, (m) => {
    if (m.type === 'compareStart') onStart({ pairs: m.pairs, onlyHere: m.onlyHere, onlyThere: m.onlyThere, otherFindings: m.otherFindings });
    else if (m.type === 'diff') {
      const { type: _type, ...result } = m;
      onResult(result);
    }
    return m.type === 'done';
  }, signal);
}
