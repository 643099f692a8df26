// Runs the measurements of a trajectory in a worker thread (measureWorker.ts) and reports each
// frame as it is done; an abort ends the thread.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FrameMeasurement, MeasurementOptions } from '../core/analysis';
import { CancelledError } from '../core/sampler';

/** What the worker gets: fields [frames, 4, n, ...sampleShape], transferred to it. */
export interface MeasureJob {
  fields: Float32Array;
  frames: number;
  n: number;
  sampleShape: number[];
  opts: MeasurementOptions;
}

export type MeasureJobMessage =
  | { type: 'frame'; frame: number; measurement: FrameMeasurement }
  | { type: 'done' }
  | { type: 'error'; message: string };

/** The bundled worker next to the engine's bundle (dist/). */
const WORKER_PATH = join(__dirname, 'measureWorker.js');

export function measureInWorker(job: MeasureJob, onFrame: (frame: number, m: FrameMeasurement) => void,
  signal: AbortSignal, workerPath = WORKER_PATH): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new CancelledError());
    const worker = new Worker(workerPath, { workerData: job, transferList: [job.fields.buffer as ArrayBuffer] });
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      void worker.terminate();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => finish(new CancelledError());
    signal.addEventListener('abort', onAbort);
    worker.on('message', (m: MeasureJobMessage) => {
      if (settled) return;
      if (m.type === 'frame') {
        try {
          onFrame(m.frame, m.measurement);
        } catch (e) {
          finish(e as Error);
        }
      }
      else if (m.type === 'done') finish();
      else finish(new Error(`Measuring the fields failed: ${m.message}`));
    });
    worker.on('error', (e) => finish(new Error(`The measurement worker failed: ${e.message}`)));
    worker.on('exit', (code) => finish(new Error(`The measurement worker stopped (exit code ${code}).`)));
  });
}
