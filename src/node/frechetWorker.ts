// A member of a team computing tr(sqrt(s1·s2)) (node/parallelFrechet.ts; dist/frechetWorker.js).
import { parentPort, workerData } from 'node:worker_threads';
import { frechetWorkspace, traceSqrtProductTeam } from '../core/eval/frechet';
import { failTeam, sharedTeam, TeamFailed } from './teamThreads';

export interface FrechetWorkerData {
  d: number;
  f64: SharedArrayBuffer;
  i32: SharedArrayBuffer;
  barrier: SharedArrayBuffer;
  rank: number;
  size: number;
}

const data = workerData as FrechetWorkerData;
const state = new Int32Array(data.barrier);
// loaded: the leader starts the work once every member says so (it cannot hear of a failure while it computes)
parentPort!.postMessage({ ready: true });
try {
  traceSqrtProductTeam(frechetWorkspace(data.d, new Float64Array(data.f64), new Int32Array(data.i32)),
    sharedTeam(state, data.rank, data.size));
  parentPort!.postMessage({ ok: true });
} catch (e) {
  if (!(e instanceof TeamFailed)) failTeam(state);
  parentPort!.postMessage({ ok: false, message: e instanceof Error ? e.message : String(e) });
}
