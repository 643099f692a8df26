// Field Visualizer work inside the engine: trajectories with their fields and measurements,
// the fields of one frame at another r, MeanFlow consistency, frame data for export.
// The last few trajectories stay here so follow-up requests do not resend them; one asked for
// with keep: false (a caller that takes every frame at once, as Compare Models does) is answered
// without being kept, so it pushes none of them out. A flow-matching model's trajectory is its
// ODE's (core/flowTrajectory: u and x from the ODE solution z_r).
import type { FlowSolver } from '../core/checkpoint/types';
import { integrate, flowVelocity } from '../core/flowSampler';
import { averageFromOde, flowTrajectory, solverSteps } from '../core/flowTrajectory';
import { randomUUID } from 'node:crypto';
import { appendFrame, FrameMeasurer, type FrameMeasurement, projectToPlane } from '../core/analysis';
import { FieldLayout } from '../core/fieldLayout';
import { initialNoise } from '../core/noise';
import { type Conditioning, type Evaluate, type Feeds, perSample, validateSampling } from '../core/sampler';
import { consistency, evaluateAt, type Frame, packFrames, trajectory } from '../core/trajectory';
import { EngineFailure } from './errors';
import { MeasureRunner } from './measureJob';
import type { FieldsAtParams, FieldsAtReply, FrameDataReply, MeasureReply, TrajectoryParams, TrajectoryReply } from './protocol';
import type { LoadedModel, SessionCache } from './sessions';

interface Kept {
  model: LoadedModel;
  frames: Frame[];
  n: number;
  cond: Conditioning;
  /** Flow-matching models: the solver and its steps per unit of t, for z_r at another r. */
  flow?: { solver: FlowSolver; odeSteps: number };
}

const KEEP = 4;
/** Starts the id of a trajectory run with keep: false (no kept state: follow-ups are refused plainly). */
const NOT_KEPT = 'not-kept:';

export class Visualizer {
  private readonly kept = new Map<string, Kept>();
  private readonly measurer = new MeasureRunner();

  constructor(private readonly cache: SessionCache) {}

  private evaluator(model: LoadedModel): Evaluate {
    const run: Evaluate = async (feeds) => (await this.cache.run(model, feeds)).data;
    // A graph with a fixed batch takes its rows as they come; others run each distinct row once.
    return model.info.fixedBatch ? run : (feeds) => evaluateDistinctRows(run, feeds);
  }

  private get(id: string): Kept {
    if (id.startsWith(NOT_KEPT)) {
      throw new EngineFailure('bad-request', 'That trajectory was run with keep: false, so the engine did not keep it ' +
        'for follow-up requests (measure, fields at another r, consistency, frame data): run it with keep: true (the default).');
    }
    const k = this.kept.get(id);
    if (!k || !this.cache.has(k.model.id)) {
      this.kept.delete(id);
      throw new EngineFailure('unknown-trajectory', 'That trajectory is no longer in the engine: run it again.');
    }
    return k;
  }

  private keep(k: Kept): string {
    const id = randomUUID();
    this.kept.set(id, k);
    while (this.kept.size > KEEP) this.kept.delete(this.kept.keys().next().value as string);
    return id;
  }

  async trajectory(model: LoadedModel, p: TrajectoryParams, signal: AbortSignal,
    onProgress?: (done: number, total: number) => void): Promise<TrajectoryReply> {
    const info = model.info;
    const n = p.seeds.length;
    const labels = info.numClasses > 0 ? p.labels ?? new Array<number>(n).fill(info.numClasses) : undefined;
    try {
      validateSampling(info, { steps: p.steps, omega: p.omega, tMin: p.tMin, tMax: p.tMax }, labels);
    } catch (e) {
      throw new EngineFailure('bad-request', (e as Error).message);
    }
    if (labels && labels.length !== n) throw new EngineFailure('bad-request', `${labels.length} labels for ${n} samples`);
    const per = perSample(info);
    const noise = initialNoise(p.seeds, per, info.noiseScale);
    let image: { x: Float32Array; e: Float32Array; tStart: number; path: 'straight' | 'model' } | undefined;
    if (p.mode === 'image') {
      if (!p.image || p.image.x.length !== per) {
        throw new EngineFailure('bad-request', `Image mode needs an image of ${info.sampleShape.join('x')} values.`);
      }
      const x = new Float32Array(n * per);
      for (let i = 0; i < n; i++) x.set(p.image.x, i * per);
      image = { x, e: noise, tStart: p.image.tStart, path: p.image.path };
    }
    const cond: Conditioning = { labels, omega: p.omega, tMin: p.tMin, tMax: p.tMax };
    const t0 = performance.now();
    let flow: Kept['flow'];
    let frames: Frame[];
    if (info.modelType === 'flow-matching') {
      if (p.mode !== 'ode' || typeof p.rFraction !== 'number') {
        throw new EngineFailure('bad-request', `${info.name} is a flow-matching model: it has no r, so its trajectory is ` +
          `the ODE's (mode 'ode') with u and x at r = rFraction t from the ODE solution (a number, not 'step').`);
      }
      flow = { solver: p.solver ?? info.defaultSolver ?? 'euler', odeSteps: p.odeSteps };
      frames = await flowTrajectory(flowVelocity(this.evaluator(model), info, n, cond), noise, {
        steps: p.steps, odeSteps: p.odeSteps, rFraction: p.rFraction, solver: flow.solver, signal, onProgress,
      });
    } else {
      frames = await trajectory(this.evaluator(model), info, noise, n, cond, {
        mode: p.mode, steps: p.steps, odeSteps: p.odeSteps, rFraction: p.rFraction, image, signal, onProgress,
      });
    }
    const ms = performance.now() - t0;
    const trajectoryId = p.keep === false ? `${NOT_KEPT}${randomUUID()}` : this.keep({ model, frames, n, cond, flow });
    const reply: TrajectoryReply = {
      trajectoryId, times: frames.map((f) => f.t), rs: frames.map((f) => f.r), n, sampleShape: info.sampleShape, ms,
    };
    if (info.kind === 'toy') reply.toy = this.plane(frames, n, info.embedding!);
    else reply.fields = packFrames(frames, n, per);
    return reply;
  }

  /**
   * The measurements of a kept trajectory along t, frame by frame in a worker thread; onFrame
   * sees each frame as it is done. An abort ends the worker.
   */
  async measure(trajectoryId: string, patchSize: number, signal: AbortSignal,
    onFrame?: (frame: number, frames: number, patchDim: number, m: FrameMeasurement) => void): Promise<MeasureReply> {
    const k = this.get(trajectoryId);
    const info = k.model.info;
    if (info.kind === 'image') {
      const [, H, W] = info.sampleShape;
      if (!Number.isInteger(patchSize) || patchSize < 2 || patchSize > Math.min(H, W)) {
        throw new EngineFailure('bad-request', `Patch size ${patchSize} does not fit the ${H}x${W} images of this model: ` +
          `choose 2 to ${Math.min(H, W)}.`);
      }
    }
    const opts = { patchSize, kind: info.kind, embedding: info.embedding };
    const series = new FrameMeasurer(k.n, info.sampleShape, opts).series();
    const frames = k.frames.length;
    const t0 = performance.now();
    const per = perSample(info);
    await this.measurer.run(frames, (list) => packFrames(list.map((f) => k.frames[f]), k.n, per), k.n, [...info.sampleShape], opts,
      (frame, m) => {
        appendFrame(series, m);
        onFrame?.(frame, frames, series.patchDim, m);
      }, signal);
    return { measurements: series, ms: performance.now() - t0 };
  }

  /** The data-plane view of frames: [frames, 4, n, 2] and [frames, 4, n]. */
  private plane(frames: Frame[], n: number, P: number[][]): { plane: Float32Array; offPlane: Float32Array } {
    const planeLayout = new FieldLayout(n, 2); // the data plane: per = 2
    const offLayout = new FieldLayout(n, 1); // off-plane norms: per = 1
    const plane = new Float32Array(frames.length * planeLayout.frameSize);
    const offPlane = new Float32Array(frames.length * offLayout.frameSize);
    frames.forEach((f, i) => {
      [f.z, f.fields.x, f.fields.u, f.fields.v].forEach((a, k) => {
        const pr = projectToPlane(a, P);
        planeLayout.field(plane, i, k).set(pr.plane);
        offLayout.field(offPlane, i, k).set(pr.offPlane);
      });
    });
    return { plane, offPlane };
  }

  async fieldsAt(p: FieldsAtParams): Promise<FieldsAtReply> {
    const k = this.get(p.trajectoryId);
    const f = k.frames[p.frame];
    if (!f) throw new EngineFailure('bad-request', `Frame ${p.frame} does not exist (the trajectory has ${k.frames.length}).`);
    const t0 = performance.now();
    const r = p.rFraction * f.t;
    // z and v do not depend on r: only the n rows at the new r are evaluated (flow matching: z_r solved for).
    const frame: Frame = { t: f.t, r, z: f.z, fields: { ...await this.fieldsAtR(k, f, r), v: f.fields.v } };
    const info = k.model.info;
    if (info.kind === 'toy') return { t: f.t, r, toy: this.plane([frame], k.n, info.embedding!), ms: performance.now() - t0 };
    // x and u only: the client has z and v of the frame (half the bytes of a 256 x 256 frame)
    const block = k.n * perSample(info);
    const fields = new Float32Array(2 * block);
    fields.set(frame.fields.x, 0);
    fields.set(frame.fields.u, block);
    return { t: f.t, r, fields, ms: performance.now() - t0 };
  }

  /** x and u of a frame at r: the network at (z_t, r, t), or for a flow-matching model the ODE down to r. */
  private async fieldsAtR(k: Kept, f: Frame, r: number): Promise<{ x: Float32Array; u: Float32Array }> {
    if (!k.flow) return (await evaluateAt(this.evaluator(k.model), k.model.info, f.z, k.n, f.t, [r], k.cond, false)).atR[0];
    if (!(f.t - r > 1e-9)) return { u: f.fields.v, x: Float32Array.from(f.z, (z, j) => z - f.t * f.fields.v[j]) };
    const velocity = flowVelocity(this.evaluator(k.model), k.model.info, k.n, k.cond);
    const zr = await integrate(velocity, f.z, f.t, r, solverSteps(k.flow.odeSteps, f.t - r), k.flow.solver);
    return averageFromOde(f.z, zr, f.t, r);
  }

  async consistency(trajectoryId: string, fineSteps: number, signal: AbortSignal,
    onProgress?: (done: number, total: number) => void): Promise<{ relativeError: number[]; ms: number }> {
    const k = this.get(trajectoryId);
    if (k.flow) {
      throw new EngineFailure('bad-request', `${k.model.info.name} is a flow-matching model: its u is the ODE's average ` +
        `velocity by construction, so there is no MeanFlow consistency to check.`);
    }
    const t0 = performance.now();
    const relativeError = await consistency(this.evaluator(k.model), k.model.info, k.frames, k.n, k.cond, fineSteps, signal, onProgress);
    return { relativeError, ms: performance.now() - t0 };
  }

  frameData(trajectoryId: string, frame: number): FrameDataReply {
    const k = this.get(trajectoryId);
    const f = k.frames[frame];
    if (!f) throw new EngineFailure('bad-request', `Frame ${frame} does not exist (the trajectory has ${k.frames.length}).`);
    return { t: f.t, r: f.r, fields: packFrames([f], k.n, perSample(k.model.info)), sampleShape: k.model.info.sampleShape, n: k.n };
  }
}

/**
 * Runs only the distinct rows of a batch and copies the answers to the repeated ones. A frame's
 * rows at r = t repeat its v rows (the last frame of a pMF trajectory, t = r = 0; the denoiser
 * r = t): the default 1-step trajectory of B/16 needs 3 evaluations instead of 4.
 */
export async function evaluateDistinctRows(run: Evaluate, feeds: Feeds): Promise<Float32Array> {
  // z (the large one) compared last, when everything else about two rows is equal
  const entries = (Object.entries(feeds).filter(([, f]) => f !== undefined) as Array<[string, NonNullable<Feeds[keyof Feeds]>]>)
    .sort(([a], [b]) => Number(a === 'z') - Number(b === 'z'));
  const rows = entries[0]?.[1].dims[0] ?? 0;
  if (rows < 2 || entries.some(([, f]) => f.dims[0] !== rows || f.data.length % rows !== 0)) return run(feeds);
  const rowOf = (f: NonNullable<Feeds[keyof Feeds]>, i: number) => {
    const w = f.data.length / rows;
    return f.data.subarray(i * w, (i + 1) * w) as ArrayLike<number | bigint>;
  };
  const same = (a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>) => {
    for (let k = 0; k < a.length; k++) if (!Object.is(a[k], b[k])) return false;
    return true;
  };
  const source = new Array<number>(rows); // row -> index among the distinct rows
  const distinct: number[] = [];
  for (let i = 0; i < rows; i++) {
    const j = distinct.findIndex((d) => entries.every(([, f]) => same(rowOf(f, i), rowOf(f, d))));
    if (j >= 0) source[i] = j;
    else { source[i] = distinct.length; distinct.push(i); }
  }
  if (distinct.length === rows) return run(feeds);
  const picked: Feeds = {};
  for (const [name, f] of entries) {
    const w = f.data.length / rows;
    const data = f.type === 'int64' ? new BigInt64Array(distinct.length * w) : new Float32Array(distinct.length * w);
    distinct.forEach((d, k) => (data as Float32Array).set(f.data.subarray(d * w, (d + 1) * w) as Float32Array, k * w));
    (picked as Record<string, unknown>)[name] = { type: f.type, dims: [distinct.length, ...f.dims.slice(1)], data };
  }
  const out = await run(picked);
  const w = out.length / distinct.length;
  const all = new Float32Array(rows * w);
  for (let i = 0; i < rows; i++) all.set(out.subarray(source[i] * w, (source[i] + 1) * w), i * w);
  return all;
}
