// pMF sampling (paper Sec. 4) over an abstract evaluator: the engine supplies `evaluate`,
// which runs the network on a batch of contract inputs and returns its raw output.
//   z_1 = noise_scale * e;  for consecutive (t, r) on linspace(1, 0, N + 1):
//   z_r = z_t - (t - r) u(z_t, r, t)
import type { InputName, PmfModelInfo, SamplingSettings } from './checkpoint/types';
import { CancelledError } from './cancel';
import { stepFromU, timeSteps, uFromRaw } from './fields';

export type FeedTensor =
  | { type: 'float32'; dims: number[]; data: Float32Array }
  | { type: 'int64'; dims: number[]; data: BigInt64Array };
export type Feeds = Partial<Record<InputName, FeedTensor>>;
/** Runs the network on one batch; resolves to its raw output (x or u), flat. */
export type Evaluate = (feeds: Feeds) => Promise<Float32Array>;

export { CancelledError };

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError();
}

/** What is fed besides z, t, h: labels (num_classes = unconditional) and CFG settings. */
export interface Conditioning {
  labels?: readonly number[];
  omega: number;
  tMin: number;
  tMax: number;
  /**
   * One CFG setting per sample, fed in place of omega / tMin / tMax (a model with CFG inputs
   * takes them per sample: Explore Guidance draws its whole omega x interval grid as one batch).
   */
  perSample?: PerSampleGuidance;
}

export interface PerSampleGuidance {
  omega: readonly number[];
  tMin: readonly number[];
  tMax: readonly number[];
}

/** Samples lo..lo+k of a per-sample guidance. */
export function sliceGuidance(g: PerSampleGuidance | undefined, lo: number, k: number): PerSampleGuidance | undefined {
  return g && { omega: g.omega.slice(lo, lo + k), tMin: g.tMin.slice(lo, lo + k), tMax: g.tMax.slice(lo, lo + k) };
}

/** Checks a per-sample guidance for n samples of a model; throws RangeError with a plain message. */
export function validateGuidance(info: PmfModelInfo, g: PerSampleGuidance, n: number, steps: number): void {
  if (!info.hasCfg) {
    throw new RangeError(`${info.name || 'this model'} has no CFG inputs: per-sample guidance needs a model that takes omega, t_min and t_max`);
  }
  for (const k of ['omega', 'tMin', 'tMax'] as const) {
    if (g[k].length !== n) throw new RangeError(`per-sample guidance: ${g[k].length} ${k} values for ${n} samples`);
  }
  for (let i = 0; i < n; i++) validateSampling(info, { steps, omega: g.omega[i], tMin: g.tMin[i], tMax: g.tMax[i] });
}

export function perSample(info: PmfModelInfo): number {
  return info.sampleShape.reduce((a, b) => a * b, 1);
}

/** Checks sampling settings and labels against a model; throws RangeError with a plain message. */
export function validateSampling(info: PmfModelInfo, s: SamplingSettings, labels?: readonly number[]): void {
  if (!Number.isInteger(s.steps) || s.steps < 1 || s.steps > 1000) {
    throw new RangeError(`steps must be an integer from 1 to 1000, got ${s.steps}`);
  }
  if (info.hasCfg || info.guidance === 'two-pass') {
    if (!(s.omega >= 1) || !Number.isFinite(s.omega)) throw new RangeError(`omega must be >= 1 (1 = no guidance), got ${s.omega}`);
    if (!(s.tMin >= 0 && s.tMin <= s.tMax && s.tMax <= 1)) {
      throw new RangeError(`the guidance interval must satisfy 0 <= t_min <= t_max <= 1, got [${s.tMin}, ${s.tMax}]`);
    }
  }
  if (labels && info.numClasses > 0) {
    for (const y of labels) {
      if (!Number.isInteger(y) || y < 0 || y > info.numClasses) {
        throw new RangeError(`class ${y} is out of range: this model has classes 0-${info.numClasses - 1} ` +
          `(and ${info.numClasses} for unconditional)`);
      }
    }
  }
}

const f32 = (n: number, v: number) => new Float32Array(n).fill(v);

function guidanceFeed(cond: Conditioning, k: 'omega' | 'tMin' | 'tMax', n: number): Float32Array {
  if (!cond.perSample) return f32(n, cond[k]);
  const v = cond.perSample[k];
  if (v.length !== n) throw new RangeError(`${v.length} per-sample ${k} values for ${n} samples`);
  return Float32Array.from(v);
}

/** The contract inputs the model declares, for n samples at (t, r). */
export function buildFeeds(info: PmfModelInfo, z: Float32Array, n: number, t: readonly number[],
  r: readonly number[], cond: Conditioning): Feeds {
  const feeds: Feeds = {};
  for (const name of info.inputs) {
    switch (name) {
      case 'z':
        feeds.z = { type: 'float32', dims: [n, ...info.sampleShape], data: z };
        break;
      case 't':
        feeds.t = { type: 'float32', dims: [n], data: Float32Array.from(t) };
        break;
      case 'h':
        feeds.h = { type: 'float32', dims: [n], data: Float32Array.from(t, (ti, i) => ti - r[i]) };
        break;
      case 'y': {
        const labels = cond.labels ?? new Array<number>(n).fill(info.numClasses);
        if (labels.length !== n) throw new RangeError(`${labels.length} labels for ${n} samples`);
        feeds.y = { type: 'int64', dims: [n], data: BigInt64Array.from(labels, (y) => BigInt(y)) };
        break;
      }
      case 'omega':
        feeds.omega = { type: 'float32', dims: [n], data: guidanceFeed(cond, 'omega', n) };
        break;
      case 't_min':
        feeds.t_min = { type: 'float32', dims: [n], data: guidanceFeed(cond, 'tMin', n) };
        break;
      case 't_max':
        feeds.t_max = { type: 'float32', dims: [n], data: guidanceFeed(cond, 'tMax', n) };
        break;
    }
  }
  return feeds;
}

export interface SampleHooks {
  signal?: AbortSignal;
  onStep?: (done: number, total: number) => void;
}

/** Runs the N-step sampler from z_1 for n samples; returns z_0 (flat, in the data range). */
export async function sample(evaluate: Evaluate, info: PmfModelInfo, z1: Float32Array, n: number,
  cond: Conditioning, steps: number, hooks: SampleHooks = {}): Promise<Float32Array> {
  const grid = timeSteps(steps);
  let z = z1;
  for (let i = 0; i < steps; i++) {
    throwIfAborted(hooks.signal);
    const t = new Array<number>(n).fill(grid[i]);
    const r = new Array<number>(n).fill(grid[i + 1]);
    const raw = await evaluate(buildFeeds(info, z, n, t, r, cond));
    if (raw.length !== z.length) {
      throw new Error(`the model returned ${raw.length} values for ${z.length} inputs`);
    }
    z = stepFromU(z, uFromRaw(raw, z, t, info.prediction, info.tEps), t, r);
    hooks.onStep?.(i + 1, steps);
  }
  return z;
}
