// The Field Visualizer's measurements in a worker thread of the engine (dist/measureWorker.js).
// At 256 x 256 x 3 with 16 x 16 patches a frame takes seconds of arithmetic; here it neither
// delays the trajectory's images nor blocks the engine's other requests (the r slider, a
// cancel), and cancelling ends the thread. One frame at a time, in order, each posted when done.
import { parentPort, workerData } from 'node:worker_threads';
import { FrameMeasurer } from '../core/analysis';
import type { MeasureJob, MeasureJobMessage } from './measureJob';

const job = workerData as MeasureJob;
const post = (m: MeasureJobMessage) => parentPort!.postMessage(m);
try {
  const measurer = new FrameMeasurer(job.n, job.sampleShape, job.opts);
  const size = job.fields.length / job.frames;
  for (let f = 0; f < job.frames; f++) post({ type: 'frame', frame: f, measurement: measurer.measure(job.fields.subarray(f * size, (f + 1) * size)) });
  post({ type: 'done' });
} catch (e) {
  post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
}
