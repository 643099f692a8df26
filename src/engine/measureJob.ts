// Runs the measurements of a trajectory in worker threads (measureWorker.ts) and reports each
// frame, in frame order, as soon as it and every frame before it are done. Frames are dealt to
// the workers in turn (worker w gets frames w, w + W, ...), so the early frames finish first;
// a 256 x 256 model's frame is seconds of arithmetic, and the cores of a workstation divide it.
// Workers are kept between jobs (starting one costs 60-90 ms, more than measuring a small
// model's trajectory); an abort ends the job's workers, and the next job starts new ones.
// Workers are threads of the engine process, so they end with it, also when the engine's watchdog
// kills it because its parent died (main.ts): nothing outlives the engine.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FrameMeasurement, MeasurementOptions } from '../core/analysis';
import { CancelledError } from '../core/sampler';

/** One worker's share of a job: its frames' fields [frames.length, 4, n, ...sampleShape], transferred to it. */
export interface MeasureJob {
  fields: Float32Array;
  /** The trajectory's frame index of each frame in `fields`. */
  frames: number[];
  n: number;
  sampleShape: number[];
  opts: MeasurementOptions;
}

/** Messages of a worker, each naming the job it belongs to. */
export type MeasureJobMessage = { job: number } & (
  | { type: 'frame'; frame: number; measurement: FrameMeasurement }
  | { type: 'done' }
  | { type: 'error'; message: string });

/** The bundled worker next to the engine's bundle (dist/). */
const WORKER_PATH = join(__dirname, 'measureWorker.js');

/**
 * Workers a job may use: PMF_MEASURE_WORKERS when set (tests), else one per core but one (the
 * engine's own thread, and onnxruntime, keep working), at most 4.
 */
export function measureWorkers(): number {
  const forced = Number(process.env.PMF_MEASURE_WORKERS);
  if (Number.isInteger(forced) && forced >= 1) return Math.min(forced, 16);
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

export class MeasureRunner {
  private readonly idle: Worker[] = [];
  private nextJob = 1;

  constructor(private readonly workers = measureWorkers(), private readonly workerPath = WORKER_PATH) {}

  /**
   * Measures `frames` frames; packFrames(list) gives the fields of the listed frames, packed in
   * that order. onFrame sees every frame, in order.
   */
  run(frames: number, packFrames: (list: number[]) => Float32Array, n: number, sampleShape: number[], opts: MeasurementOptions,
    onFrame: (frame: number, m: FrameMeasurement) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new CancelledError());
      const W = Math.max(1, Math.min(this.workers, frames));
      const shares = Array.from({ length: W }, (_, w) => Array.from({ length: Math.ceil((frames - w) / W) }, (_, k) => w + k * W));
      const done = new Map<number, FrameMeasurement>();
      let next = 0;
      let running = 0;
      let settled = false;
      const active: Array<{ worker: Worker; detach: () => void }> = [];
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        for (const a of active) {
          a.detach();
          // a finished worker is kept for the next job; one still computing (error, abort) is ended
          if (!err && this.idle.length < this.workers) this.idle.push(a.worker);
          else void a.worker.terminate();
        }
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => finish(new CancelledError()); // ends the workers: their arithmetic stops now
      signal.addEventListener('abort', onAbort);
      const deliver = () => {
        while (done.has(next)) {
          const m = done.get(next)!;
          done.delete(next);
          onFrame(next++, m);
        }
      };
      for (const list of shares) {
        if (!list.length) continue;
        const worker = this.idle.pop() ?? this.spawn();
        const id = this.nextJob++;
        const onMessage = (m: MeasureJobMessage) => {
          if (settled || m.job !== id) return;
          try {
            if (m.type === 'frame') {
              done.set(m.frame, m.measurement);
              deliver();
            } else if (m.type === 'done') {
              if (--running === 0) {
                if (next !== frames) throw new Error(`measured ${next} of ${frames} frames`);
                finish();
              }
            } else {
              finish(new Error(`Measuring the fields failed: ${m.message}`));
            }
          } catch (e) {
            finish(e as Error);
          }
        };
        const onError = (e: Error) => finish(new Error(`The measurement worker failed: ${e.message}`));
        const onExit = (code: number) => finish(new Error(`The measurement worker stopped (exit code ${code}).`));
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
        active.push({ worker, detach: () => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        } });
        running++;
        const fields = packFrames(list);
        const job: MeasureJob & { job: number } = { job: id, fields, frames: list, n, sampleShape, opts };
        worker.postMessage(job, [fields.buffer as ArrayBuffer]);
      }
    });
  }

  /** Ends the idle workers (the engine keeps running without them). */
  dispose(): void {
    for (const w of this.idle.splice(0)) void w.terminate();
  }

  private spawn(): Worker {
    const w = new Worker(this.workerPath);
    w.unref(); // an idle worker does not keep the engine alive
    return w;
  }
}
