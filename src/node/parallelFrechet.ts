// The Frechet distance with its O(d³) part (tr(sqrt(s1·s2)), core/eval/frechet.ts) shared by this
// thread and worker threads (dist/frechetWorker.js): at d = 2048 two threads take about half the
// time of one, with the same bits (the team's parts are fixed by the problem, not the team).
// Below MIN_PARALLEL_D the threads cost more than they save and it runs here alone.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  checkFinite,
  frechetResult,
  frechetTerms,
  frechetWorkspace,
  frechetWorkspaceSize,
  traceSqrtProduct,
  traceSqrtProductTeam,
  type FrechetResult,
} from '../core/eval/frechet';
import { TEAM_PARTS } from '../core/team';
import type { FrechetWorkerData } from './frechetWorker';
import { BARRIER_INTS, failTeam, sharedTeam } from './teamThreads';

const WORKER_PATH = join(__dirname, 'frechetWorker.js');
export const MIN_PARALLEL_D = 256;

/** Threads for a team: the machine's parallelism, at most the team's parts (more would have nothing to do). */
export function frechetThreads(): number {
  return Math.max(1, Math.min(TEAM_PARTS, availableParallelism()));
}

/** tr(sqrt(s1·s2)) (d x d, symmetric PSD) on `threads` threads, this one the leader; workerPath: the members' script. */
export async function traceSqrtProductParallel(s1: Float64Array, s2: Float64Array, d: number,
  threads = frechetThreads(), workerPath = WORKER_PATH): Promise<{ value: number; rank: number }> {
  if (threads <= 1 || d < MIN_PARALLEL_D) return traceSqrtProduct(s1, s2, d);
  checkFinite(s1, s2);
  const size = frechetWorkspaceSize(d);
  const f64 = new SharedArrayBuffer(size.f64 * 8);
  const i32 = new SharedArrayBuffer(size.i32 * 4);
  const barrier = new SharedArrayBuffer(BARRIER_INTS * 4);
  const ws = frechetWorkspace(d, new Float64Array(f64), new Int32Array(i32));
  ws.a.set(s1);
  ws.b.set(s2);
  const state = new Int32Array(barrier);
  const workers = Array.from({ length: threads - 1 }, (_, k) => new Worker(workerPath,
    { workerData: { d, f64, i32, barrier, rank: k + 1, size: threads } satisfies FrechetWorkerData }));
  type Reply = { ready?: boolean; ok?: boolean; message?: string };
  const ready: Array<Promise<void>> = [];
  const finished: Array<Promise<string | undefined>> = [];
  for (const w of workers) {
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    ready.push(new Promise<void>((res, rej) => {
      onReady = res;
      onFail = rej;
    }));
    finished.push(new Promise<string | undefined>((resolve) => {
      w.on('message', (m: Reply) => {
        if (m.ready) onReady();
        else resolve(m.ok ? undefined : m.message);
      });
      w.once('error', (e) => {
        failTeam(state);
        onFail(e);
        resolve(e.message);
      });
      w.once('exit', (code) => {
        if (code !== 0) failTeam(state);
        const message = code === 0 ? undefined : `a Frechet distance thread exited with code ${code}`;
        onFail(new Error(message ?? 'a Frechet distance thread ended before it started'));
        resolve(message);
      });
    }));
  }
  try {
    await Promise.all(ready);
  } catch (e) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw new Error(`the Frechet distance threads did not start (${workerPath}): ${(e as Error).message}`);
  }
  let result: { value: number; rank: number } | undefined;
  let failure: Error | undefined;
  try {
    result = traceSqrtProductTeam(ws, sharedTeam(state, 0, threads));
  } catch (e) {
    failure = e instanceof Error ? e : new Error(String(e));
    failTeam(state);
  }
  const messages = (await Promise.all(finished)).filter((m): m is string => m !== undefined);
  await Promise.all(workers.map((w) => w.terminate()));
  if (messages.length) throw new Error(`the Frechet distance failed: ${messages[0]}`);
  if (failure) throw failure;
  return result!;
}

/** frechetDistance (core/eval/frechet.ts) with the trace term on threads. */
export async function frechetDistanceParallel(mu1: Float64Array, sigma1: Float64Array, mu2: Float64Array, sigma2: Float64Array,
  threads = frechetThreads()): Promise<FrechetResult> {
  const terms = frechetTerms(mu1, sigma1, mu2, sigma2);
  return frechetResult(terms, await traceSqrtProductParallel(sigma1, sigma2, mu1.length, threads));
}
