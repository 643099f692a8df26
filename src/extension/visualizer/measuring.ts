// The Field Visualizer's measurements, host side: the engine measures a trajectory in a worker
// thread; the series goes to the webview as frames are done (a quick measurement once, when
// done; a long one shows its progress from MEASURE_POST_MS on). Its job's signal cancels it.
import type * as vscode from 'vscode';
import { appendFrame, emptySeries, type MeasurementSeries } from '../../core/analysis';
import { type EngineClient, EngineError } from '../../engine/client';
import { messageOf } from '../../shared/channel';
import type { ToWebview } from '../../shared/protocol/visualizer';

/** While measuring, progress reaches the webview at most this often. */
const MEASURE_POST_MS = 250;

export interface MeasureJob {
  engine: EngineClient;
  log: vscode.LogOutputChannel;
  /** The run the measurements belong to (the webview takes only its latest run's). */
  requestId: number;
  trajectoryId: string;
  patchSize: number;
  kind: 'image' | 'toy';
  /** Frames of the trajectory (until the engine says). */
  frames: number;
  signal: AbortSignal;
  post(msg: ToWebview): void;
  /** The panel's busy line for the measurement (undefined: done). */
  setBusy(label: string | undefined): void;
  /** Whether this is still the panel's measurement (a newer one owns the busy line otherwise). */
  isCurrent(): boolean;
}

export function measureInBackground(job: MeasureJob): void {
  const { requestId, signal, kind } = job;
  const started = performance.now();
  let series: MeasurementSeries | undefined;
  let done = 0;
  let total = job.frames;
  // before the first frame, an empty series says that measuring has begun
  const postSeries = (ms: number) => job.post({ type: 'measurements', result: { requestId, done, total,
    measurements: { ...(series ?? emptySeries(0, kind)), ms } } });
  let lastPost = started;
  const post = () => {
    lastPost = performance.now();
    postSeries(lastPost - started);
    job.setBusy(`Measuring: ${done} of ${total} frames`);
  };
  const stopShowing = () => {
    clearTimeout(timer);
    if (job.isCurrent()) job.setBusy(undefined);
  };
  const timer = setTimeout(() => { if (!signal.aborted && done < total) post(); }, MEASURE_POST_MS);
  signal.addEventListener('abort', () => stopShowing());
  void job.engine.measure(job.trajectoryId, job.patchSize, signal, (p) => {
    if (signal.aborted) return;
    series ??= emptySeries(p.patchDim, kind);
    appendFrame(series, p.measurement);
    done = p.frame + 1;
    total = p.frames;
    if (done < total && performance.now() - lastPost > MEASURE_POST_MS) post();
  }).then((r) => {
    stopShowing();
    if (signal.aborted) return;
    job.log.debug(`measurements: ${r.measurements.rms.x.length} frames in ${r.ms.toFixed(1)} ms (p = ${job.patchSize})`);
    series = r.measurements;
    done = total = r.measurements.rms.x.length;
    postSeries(r.ms);
  }, (e: unknown) => {
    stopShowing();
    if (signal.aborted || (e instanceof EngineError && e.code === 'cancelled')) return;
    const message = messageOf(e);
    job.log.error(`visualizer: ${message}`);
    job.post({ type: 'error', message });
  });
}
