// A member of a team computing tr(sqrt(s1·s2)) (node/parallelFrechet.ts; dist/frechetWorker.js):
// the workspace in the leader's shared WebAssembly memory (its kernels instantiated here on that
// memory) or, without the .wasm, in shared buffers with the JavaScript kernels.
import { parentPort, workerData } from 'node:worker_threads';
import { frechetWorkspace, JS_KERNELS, traceSqrtProductTeam } from '../core/eval/frechet';
import { failTeam, sharedTeam, TeamFailed } from './teamThreads';
import { memoryWorkspace, wasmKernels } from './wasmKernels';

export interface FrechetWorkerData {
  d: number;
  wasm?: { module: WebAssembly.Module; memory: WebAssembly.Memory };
  js?: { f64: SharedArrayBuffer; i32: SharedArrayBuffer };
  barrier: SharedArrayBuffer;
  rank: number;
  size: number;
}

const data = workerData as FrechetWorkerData;
const state = new Int32Array(data.barrier);
try {
  const ws = data.wasm ? memoryWorkspace(data.d, data.wasm.memory) : frechetWorkspace(data.d, new Float64Array(data.js!.f64), new Int32Array(data.js!.i32));
  const kernels = data.wasm ? wasmKernels(data.wasm.module, data.wasm.memory) : JS_KERNELS;
  // loaded: the leader starts the work once every member says so (it cannot hear of a failure while it computes)
  parentPort!.postMessage({ ready: true });
  traceSqrtProductTeam(ws, sharedTeam(state, data.rank, data.size), kernels);
  parentPort!.postMessage({ ok: true });
} catch (e) {
  if (!(e instanceof TeamFailed)) failTeam(state);
  parentPort!.postMessage({ ok: false, message: e instanceof Error ? e.message : String(e) });
}
