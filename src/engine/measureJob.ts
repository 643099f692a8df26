// Runs the measurements of a trajectory in a worker thread (measureWorker.ts) and reports each
// frame as it is done. One worker is kept between jobs (starting one costs 60-90 ms, more than
// measuring a small model's trajectory); an abort ends it, and the next job starts a new one.
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

/** Messages of the worker, each naming the job it belongs to. */
export type MeasureJobMessage = { job: number } & (
  | { type: 'frame'; frame: number; measurement: FrameMeasurement }
  | { type: 'done' }
  | { type: 'error'; message: string });

/** The bundled worker next to the engine's bundle (dist/). */
const WORKER_PATH = join(__dirname, 'measureWorker.js');

export class MeasureRunner {
  private idle?: Worker;
  private nextJob = 1;

  constructor(private readonly workerPath = WORKER_PATH) {}

  /** Measures `job` frame by frame; onFrame sees each frame in order. Jobs may overlap (each then has its own worker). */
  run(job: MeasureJob, onFrame: (frame: number, m: FrameMeasurement) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new CancelledError());
      const worker = this.idle ?? this.spawn();
      this.idle = undefined;
      const id = this.nextJob++;
      let settled = false;
      const finish = (err?: Error, reusable = false) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (reusable && !this.idle) this.idle = worker;
        else void worker.terminate();
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => finish(new CancelledError()); // ends the worker: its arithmetic stops now
      const onMessage = (m: MeasureJobMessage) => {
        if (settled || m.job !== id) return;
        if (m.type === 'frame') {
          try {
            onFrame(m.frame, m.measurement);
          } catch (e) {
            finish(e as Error);
          }
        } else if (m.type === 'done') finish(undefined, true);
        else finish(new Error(`Measuring the fields failed: ${m.message}`), true);
      };
      const onError = (e: Error) => finish(new Error(`The measurement worker failed: ${e.message}`));
      const onExit = (code: number) => finish(new Error(`The measurement worker stopped (exit code ${code}).`));
      signal.addEventListener('abort', onAbort);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage({ job: id, ...job }, [job.fields.buffer as ArrayBuffer]);
    });
  }

  /** Ends the idle worker (the engine keeps running without it). */
  dispose(): void {
    void this.idle?.terminate();
    this.idle = undefined;
  }

  private spawn(): Worker {
    const w = new Worker(this.workerPath);
    w.unref(); // an idle worker does not keep the engine alive
    return w;
  }
}
