// The Field Visualizer's measurements in a worker thread of the engine (dist/measureWorker.js).
// At 256 x 256 x 3 with 16 x 16 patches a frame takes seconds of arithmetic; here it neither
// delays the trajectory's images nor blocks the engine's other requests (the r slider, a
// cancel), and cancelling ends the thread. Jobs come one at a time, each with its share of a
// trajectory's frames; each frame is posted when done.
import { parentPort } from 'node:worker_threads';
import { FrameMeasurer } from '../core/analysis';
import type { MeasureJob, MeasureJobMessage } from './measureJob';

parentPort!.on('message', ({ job: id, ...job }: MeasureJob & { job: number }) => {
  const post = (m: MeasureJobMessage) => parentPort!.postMessage(m);
  try {
    const measurer = new FrameMeasurer(job.n, job.sampleShape, job.opts);
    const size = job.fields.length / job.frames.length;
    job.frames.forEach((frame, k) => {
      post({ job: id, type: 'frame', frame, measurement: measurer.measure(job.fields.subarray(k * size, (k + 1) * size)) });
    });
    post({ job: id, type: 'done' });
  } catch (e) {
    post({ job: id, type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
});
