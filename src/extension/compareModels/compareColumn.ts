// One column of "pMF: Compare Models": a model's fields along the v-ODE from the seeds' noise
// (engine viz/trajectory, x and u at r = 0: frame 0's x is the one-step sample x(z_1, 0, 1)),
// as 8-bit display frames, and the effective dimension of its x and u tokens (the model's own
// p x p patches) along t, measured in a worker thread (node/tokenDimensions.ts).
import { basename } from 'node:path';
import type { EngineClient } from '../../engine/client';
import type { LoadResult, TrajectoryReply } from '../../engine/protocol';
import { FieldLayout, valuesPerSample } from '../../core/fieldLayout';
import { tokenDimensionsInWorker } from '../../node/tokenDimensions';
import { quantise8 } from '../../core/frameEncoding';
import {
  COMPARE_STEPS, comparisonDetail, comparisonLabel, comparisonLabels, comparisonSeeds, patchOf, publishedMetrics,
} from '../../core/modelComparison';
import type { ColumnResult, ColumnView, CompareConfig, MeasuredResult } from '../../shared/protocol/compareModels';

/** A column, and its exact x and u for the measurements. */
export interface ComputedColumn {
  column: Omit<ColumnResult, 'requestId' | 'slot'>;
  /** x and u of every frame, [frames, n, ...sampleShape] each, float32 (own buffers: they can be transferred). */
  fields: { x: Float32Array; u: Float32Array };
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
    prediction: info.prediction, modelType: info.modelType, patchSize, patchDim: patchSize * patchSize * (info.channels ?? info.sampleShape[0]),
    sampleShape: info.sampleShape, dataRange: info.dataRange,
    sampling: { omega: info.defaultSampling.omega, tMin: info.defaultSampling.tMin, tMax: info.defaultSampling.tMax },
    metrics: publishedMetrics(info.training), classNames: info.classNames,
    labels: comparisonLabels(info.numClasses, cfg.samples, cfg.classChoice) ?? [], provider: load.provider,
  };
}

/** x and u of every frame, [frames, n, per] each. */
export function xuFrames(reply: TrajectoryReply): { x: Float32Array; u: Float32Array } {
  const per = valuesPerSample(reply.sampleShape);
  const layout = new FieldLayout(reply.n, per);
  const frames = reply.times.length;
  const x = new Float32Array(frames * layout.fieldSize);
  const u = new Float32Array(frames * layout.fieldSize);
  for (let f = 0; f < frames; f++) {
    x.set(layout.field(reply.fields!, f, 1), f * layout.fieldSize);
    u.set(layout.field(reply.fields!, f, 2), f * layout.fieldSize);
  }
  return { x, u };
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
    keep: false, // every frame's x and u come now: nothing asks for the trajectory again
  }, signal);
  if (!reply.fields) throw new Error(`${view.name} returned no image fields.`);
  const fields = xuFrames(reply);
  const per = valuesPerSample(reply.sampleShape);
  let nonFinite = false;
  for (const v of reply.fields) if (!Number.isFinite(v)) { nonFinite = true; break; }
  return {
    column: { view, times: reply.times, n: reply.n, x: quantise8(fields.x, per), u: quantise8(fields.u, per), ms: performance.now() - t0 },
    fields, nonFinite,
  };
}

/**
 * The effective dimension of x's and u's tokens along t, in a worker thread (dist/tokenDimensionsWorker.js
 * at workerPath); onFrame sees the series as it grows. Takes the column's fields (they move to the worker).
 */
export async function measureColumn(workerPath: string, c: ComputedColumn, patchSize: number, signal: AbortSignal,
  onFrame: (m: Omit<MeasuredResult, 'requestId' | 'slot'>) => void): Promise<Omit<MeasuredResult, 'requestId' | 'slot'>> {
  const t0 = performance.now();
  const { view, times, n } = c.column;
  const frames = times.length;
  const patchDim = view.patchDim;
  const dimX: number[] = [];
  const dimU: number[] = [];
  const r = await tokenDimensionsInWorker(workerPath, { x: c.fields.x, u: c.fields.u, frames, n, sampleShape: view.sampleShape, patchSize },
    signal, (frame, x, u) => {
      dimX.push(x);
      dimU.push(u);
      if (!signal.aborted) onFrame({ done: frame + 1, total: frames, patchDim, dimX: [...dimX], dimU: [...dimU], ms: performance.now() - t0 });
    });
  return { done: frames, total: frames, patchDim: r.patchDim, dimX: r.x, dimU: r.u, ms: performance.now() - t0 };
}
