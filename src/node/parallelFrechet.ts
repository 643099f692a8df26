// The Frechet distance with its O(d³) part (tr(sqrt(s1·s2)), core/eval/frechet.ts) on the
// WebAssembly SIMD kernels (wasmKernels.ts) and shared by this thread and worker threads
// (dist/frechetWorker.js) from d = MIN_PARALLEL_D on: at d = 2048 about 2.8x one JavaScript
// thread's kernels, and two threads about 1.75x one. A team's parts are fixed by the problem, so
// the bits do not depend on the number of threads; they depend on the kernels (the WebAssembly
// ones sum in two lanes), and the JavaScript kernels run only where the .wasm is missing.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  checkFinite,
  frechetResult,
  frechetTerms,
  frechetWorkspace,
  frechetWorkspaceSize,
  JS_KERNELS,
  traceSqrtProductTeam,
  type FrechetKernels,
  type FrechetResult,
  type FrechetWorkspace,
} from '../core/eval/frechet';
import { SOLO, TEAM_PARTS } from '../core/team';
import type { FrechetWorkerData } from './frechetWorker';
import { BARRIER_INTS, failTeam, sharedTeam } from './teamThreads';
import { frechetKernelsModule, memoryWorkspace, wasmKernels, workspaceMemory } from './wasmKernels';

const WORKER_PATH = join(__dirname, 'frechetWorker.js');
/** Below this dimension threads cost more than they save (d = 128, the bundled classifier's: ~10 ms in all). */
export const MIN_PARALLEL_D = 256;

/** Threads for a team: the machine's parallelism, at most the team's parts (more would have nothing to do). */
export function frechetThreads(): number {
  return Math.max(1, Math.min(TEAM_PARTS, availableParallelism()));
}

export interface TraceSqrt {
  value: number;
  rank: number;
  /** Which kernels ran: 'webassembly-simd' or 'javascript'. */
  kernels: string;
}

/** A workspace, its inputs copied in, and the kernels over it; `shared` for a team of threads. */
function prepare(s1: Float64Array, s2: Float64Array, d: number, shared: boolean, js: boolean):
  { ws: FrechetWorkspace; kernels: FrechetKernels; data: Omit<FrechetWorkerData, 'rank' | 'size' | 'barrier'> } {
  const module = js ? null : frechetKernelsModule();
  let ws: FrechetWorkspace;
  let kernels: FrechetKernels;
  let data: Omit<FrechetWorkerData, 'rank' | 'size' | 'barrier'>;
  if (module) {
    const memory = workspaceMemory(d); // shared even for one thread: the module imports a shared memory
    ws = memoryWorkspace(d, memory);
    kernels = wasmKernels(module, memory);
    data = { d, wasm: { module, memory } };
  } else {
    const size = frechetWorkspaceSize(d);
    const f64 = shared ? new SharedArrayBuffer(size.f64 * 8) : new ArrayBuffer(size.f64 * 8);
    const i32 = shared ? new SharedArrayBuffer(size.i32 * 4) : new ArrayBuffer(size.i32 * 4);
    ws = frechetWorkspace(d, new Float64Array(f64), new Int32Array(i32));
    kernels = JS_KERNELS;
    data = { d, js: { f64: f64 as SharedArrayBuffer, i32: i32 as SharedArrayBuffer } };
  }
  ws.a.set(s1);
  ws.b.set(s2);
  return { ws, kernels, data };
}

/**
 * tr(sqrt(s1·s2)) (d x d, symmetric PSD) on `threads` threads, this one the leader; workerPath:
 * the members' script; js: the JavaScript kernels even where the WebAssembly ones are built.
 */
export async function traceSqrtProductParallel(s1: Float64Array, s2: Float64Array, d: number,
  threads = frechetThreads(), workerPath = WORKER_PATH, js = false): Promise<TraceSqrt> {
  checkFinite(s1, s2);
  if (s1.length !== d * d || s2.length !== d * d) throw new RangeError(`the covariances must be ${d} x ${d}`);
  const team = threads > 1 && d >= MIN_PARALLEL_D;
  const { ws, kernels, data } = prepare(s1, s2, d, team, js);
  if (!team) return { ...traceSqrtProductTeam(ws, SOLO, kernels), kernels: kernels.name };
  const barrier = new SharedArrayBuffer(BARRIER_INTS * 4);
  const state = new Int32Array(barrier);
  const workers = Array.from({ length: threads - 1 }, (_, k) => new Worker(workerPath,
    { workerData: { ...data, barrier, rank: k + 1, size: threads } satisfies FrechetWorkerData }));
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
        if (m.ready) {
          onReady();
          return;
        }
        if (!m.ok) onFail(new Error(m.message ?? 'it failed'));
        resolve(m.ok ? undefined : m.message);
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
    // the leader cannot hear of a failure while it computes: start once every member is loaded
    await Promise.all(ready);
  } catch (e) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw new Error(`the Frechet distance threads did not start (${workerPath}): ${(e as Error).message}`);
  }
  let result: { value: number; rank: number } | undefined;
  let failure: Error | undefined;
  try {
    result = traceSqrtProductTeam(ws, sharedTeam(state, 0, threads), kernels);
  } catch (e) {
    failure = e instanceof Error ? e : new Error(String(e));
    failTeam(state);
  }
  const messages = (await Promise.all(finished)).filter((m): m is string => m !== undefined);
  await Promise.all(workers.map((w) => w.terminate()));
  if (messages.length) throw new Error(`the Frechet distance failed: ${messages[0]}`);
  if (failure) throw failure;
  return { ...result!, kernels: kernels.name };
}

/** frechetDistance (core/eval/frechet.ts) with the trace term computed as above. */
export async function frechetDistanceParallel(mu1: Float64Array, sigma1: Float64Array, mu2: Float64Array, sigma2: Float64Array,
  threads = frechetThreads()): Promise<FrechetResult> {
  const terms = frechetTerms(mu1, sigma1, mu2, sigma2);
  const { value, rank } = await traceSqrtProductParallel(sigma1, sigma2, mu1.length, threads);
  return frechetResult(terms, { value, rank });
}
