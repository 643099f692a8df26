// One column of "pMF: Compare Models": a model's fields along the v-ODE from the seeds' noise
// (engine viz/trajectory, x and u at r = 0: frame 0's x is the one-step sample x(z_1, 0, 1)),
// as 8-bit display frames, and the effective dimension of its x and u patches along t (engine
// viz/measure, in its worker thread, at the model's own patch size).
import { basename } from 'node:path';
import type { EngineClient } from '../../engine/client';
import type { LoadResult, TrajectoryReply } from '../../engine/protocol';
import { FieldLayout, valuesPerSample } from '../../core/fieldLayout';
import { quantise8 } from '../../core/frameEncoding';
import {
  COMPARE_STEPS, comparisonDetail, comparisonLabel, comparisonLabels, comparisonSeeds, patchOf, publishedMetrics,
} from '../../core/modelComparison';
import type { ColumnResult, ColumnView, CompareConfig, MeasuredResult } from '../../shared/protocol/compareModels';

/** A column's trajectory in the engine, for its measurements. */
export interface ComputedColumn {
  column: Omit<ColumnResult, 'requestId' | 'slot'>;
  trajectoryId: string;
  /** Whether the fields hold NaN or infinite values (drawn black). */
  nonFinite: boolean;
}

/** The column's view of a loaded model; throws for a model the comparison cannot show. */
export function columnView(spec: string, path: string, load: LoadResult, cfg: CompareConfig): ColumnView {
  const info = load.info;
  if (info.kind !== 'image') {
    throw new Error(`${basename(path)} is a toy model: Compare Models shows image models (toy models: pMF: Compare Toy Models).`);
  }
  const patch = patchOf(info);
  const [, H, W] = info.sampleShape;
  const patchSize = patch.size >= 2 && patch.size <= Math.min(H, W) ? patch.size : Math.min(4, H, W);
  return {
    spec, label: comparisonLabel(info), name: info.name || basename(path), detail: comparisonDetail(info),
    prediction: info.prediction, patchSize, patchDim: patchSize * patchSize * (info.channels ?? info.sampleShape[0]),
    sampleShape: info.sampleShape, dataRange: info.dataRange,
    sampling: { omega: info.defaultSampling.omega, tMin: info.defaultSampling.tMin, tMax: info.defaultSampling.tMax },
    metrics: publishedMetrics(info.training), classNames: info.classNames,
    labels: comparisonLabels(info.numClasses, cfg.samples, cfg.classChoice) ?? [], provider: load.provider,
  };
}

/** x and u of every frame, [frames, n, per] each, as 8-bit display frames (one block per sample). */
export function xuFrames(reply: TrajectoryReply): { x: ColumnResult['x']; u: ColumnResult['u'] } {
  const per = valuesPerSample(reply.sampleShape);
  const layout = new FieldLayout(reply.n, per);
  const frames = reply.times.length;
  const x = new Float32Array(frames * layout.fieldSize);
  const u = new Float32Array(frames * layout.fieldSize);
  for (let f = 0; f < frames; f++) {
    x.set(layout.field(reply.fields!, f, 1), f * layout.fieldSize);
    u.set(layout.field(reply.fields!, f, 2), f * layout.fieldSize);
  }
  return { x: quantise8(x, per), u: quantise8(u, per) };
}

/** The model's trajectory at the config's seeds and classes, with its model's own sampling settings. */
export async function computeColumn(engine: EngineClient, load: LoadResult, view: ColumnView, cfg: CompareConfig,
  signal: AbortSignal): Promise<ComputedColumn> {
  const t0 = performance.now();
  const s = view.sampling;
  const reply = await engine.trajectory({
    modelId: load.modelId, mode: 'ode', seeds: comparisonSeeds(cfg.seed, cfg.samples),
    labels: view.labels.length ? view.labels : undefined,
    omega: s.omega, tMin: s.tMin, tMax: s.tMax, steps: COMPARE_STEPS, odeSteps: COMPARE_STEPS, rFraction: 0,
  }, signal);
  if (!reply.fields) throw new Error(`${view.name} returned no image fields.`);
  const { x, u } = xuFrames(reply);
  let nonFinite = false;
  for (const v of reply.fields) if (!Number.isFinite(v)) { nonFinite = true; break; }
  return {
    column: { view, times: reply.times, n: reply.n, x, u, ms: performance.now() - t0 },
    trajectoryId: reply.trajectoryId, nonFinite,
  };
}

/** The effective dimension of x's and u's patches along the trajectory; onFrame sees the series as it grows. */
export async function measureColumn(engine: EngineClient, trajectoryId: string, patchSize: number, signal: AbortSignal,
  onFrame: (m: Omit<MeasuredResult, 'requestId' | 'slot'>) => void): Promise<Omit<MeasuredResult, 'requestId' | 'slot'>> {
  const t0 = performance.now();
  const dimX: number[] = [];
  const dimU: number[] = [];
  const r = await engine.measure(trajectoryId, patchSize, signal, (p) => {
    if (signal.aborted) return;
    dimX.push(p.measurement.participationRatio.x);
    dimU.push(p.measurement.participationRatio.u);
    onFrame({ done: p.frame + 1, total: p.frames, patchDim: p.patchDim, dimX: [...dimX], dimU: [...dimU], ms: performance.now() - t0 });
  });
  const m = r.measurements;
  return { done: m.participationRatio.x.length, total: m.participationRatio.x.length, patchDim: m.patchDim,
    dimX: m.participationRatio.x, dimU: m.participationRatio.u, ms: r.ms };
}
