// Trajectories for the Field Visualizer: z_t along t, with the fields x(z_t, r, t),
// u(z_t, r, t) and v(z_t, t) at every frame, computed through an abstract `evaluate` (the
// engine's network call), in as few batched calls as the math allows.
//
//   pmf    the N-step sampler: z_r = z_t - (t - r) u(z_t, r, t) on linspace(1, 0, N + 1)
//   ode    the v-ODE: K small Euler steps dz = v(z_t, t) dt (as in the paper's Fig. 1)
//   image  a real image x: the straight path z_t = (1 - t) x + t e, or the model's own N-step
//          trajectory from z_t0 = (1 - t0) x + t0 e, for t from t0 down to 0
// Frames record the fields at r = rFraction * t (0: one-step end point, 1: the denoiser), or,
// with rFraction 'step' on a stepped path, at the step's own r (the r the sampler uses; no extra
// network rows).
import type { PmfModelInfo } from './checkpoint/types';
import { stepFromU, uFromRaw, xFromRaw } from './fields';
import { FieldLayout } from './fieldLayout';
import { buildFeeds, type Conditioning, type Evaluate, perSample, throwIfAborted } from './sampler';

export interface FrameFields {
  x: Float32Array;
  u: Float32Array;
  v: Float32Array;
}

function repeat(a: Float32Array, times: number): Float32Array {
  const out = new Float32Array(a.length * times);
  for (let k = 0; k < times; k++) out.set(a, k * a.length);
  return out;
}

function repeatLabels(cond: Conditioning, times: number): Conditioning {
  return cond.labels ? { ...cond, labels: Array.from({ length: times }, () => cond.labels!).flat() } : cond;
}

/**
 * One network call on k * n rows: for every r in `rs` the x and u of the n samples at (z, r, t),
 * and (unless withV is false) v, the rows at r = t. Returns the fields per requested r, and v.
 */
export async function evaluateAt(evaluate: Evaluate, info: PmfModelInfo, z: Float32Array, n: number, t: number,
  rs: readonly number[], cond: Conditioning, withV = true): Promise<{ atR: Array<{ x: Float32Array; u: Float32Array }>; v?: Float32Array }> {
  const per = perSample(info);
  const rows = withV ? [...rs, t] : [...rs];
  const k = rows.length;
  const zz = repeat(z, k);
  const tt = new Array<number>(k * n).fill(t);
  const rr = rows.flatMap((r) => new Array<number>(n).fill(r));
  const raw = await evaluate(buildFeeds(info, zz, k * n, tt, rr, repeatLabels(cond, k)));
  if (raw.length !== zz.length) throw new Error(`the model returned ${raw.length} values for ${zz.length} inputs`);
  const part = (i: number) => [raw.subarray(i * n * per, (i + 1) * n * per), tt.slice(0, n)] as const;
  const atR = rs.map((_, i) => {
    const [r, ts] = part(i);
    const rawCopy = new Float32Array(r);
    return { x: new Float32Array(xFromRaw(rawCopy, z, ts, info.prediction)), u: new Float32Array(uFromRaw(rawCopy, z, ts, info.prediction, info.tEps)) };
  });
  if (!withV) return { atR };
  const [rv, ts] = part(rs.length);
  const v = new Float32Array(uFromRaw(new Float32Array(rv), z, ts, info.prediction, info.tEps));
  return { atR, v };
}

export interface Frame {
  t: number;
  r: number;
  z: Float32Array;
  fields: FrameFields;
}

/** Points a toy model's trajectory follows (the Field Visualizer and pmf fields): seeds s, s + 1, ... */
export const TOY_TRAJECTORY_POINTS = 256;

/** The seeds of a trajectory: a toy model's many points from the first seed, an image model's as given. */
export function trajectorySeeds(kind: 'image' | 'toy', seeds: readonly number[]): number[] {
  return kind === 'toy' ? Array.from({ length: TOY_TRAJECTORY_POINTS }, (_, i) => seeds[0] + i) : [...seeds];
}

export interface TrajectoryOptions {
  mode: 'pmf' | 'ode' | 'image';
  /** pmf: sampler steps N; ode and image: frames - 1 along t. */
  steps: number;
  /** ode: Euler steps of the v-ODE (rounded up to a multiple of `steps`). */
  odeSteps: number;
  rFraction: number | 'step';
  /** image mode */
  image?: { x: Float32Array; e: Float32Array; tStart: number; path: 'straight' | 'model' };
  signal?: AbortSignal;
  /** After each batched network call: calls done, calls in all. */
  onProgress?: (done: number, total: number) => void;
}

const grid = (from: number, steps: number) => Array.from({ length: steps + 1 }, (_, i) => from * (1 - i / steps));

/** Frames of a trajectory from z (the noise z_1 for pmf / ode; ignored for image mode). */
export async function trajectory(evaluate: Evaluate, info: PmfModelInfo, z1: Float32Array, n: number,
  cond: Conditioning, o: TrajectoryOptions): Promise<Frame[]> {
  const frames: Frame[] = [];
  const record = async (z: Float32Array, t: number, stepR?: number) => {
    const rDisplay = o.rFraction === 'step' ? stepR ?? 0 : o.rFraction * t;
    const rs = stepR === undefined || stepR === rDisplay ? [rDisplay] : [rDisplay, stepR];
    const { atR, v } = await evaluateAt(evaluate, info, z, n, t, rs, cond);
    frames.push({ t, r: rDisplay, z, fields: { ...atR[0], v: v! } });
    return stepR === undefined ? undefined : atR[stepR === rDisplay ? 0 : 1].u;
  };

  if (o.mode === 'pmf' || (o.mode === 'image' && o.image?.path === 'model')) {
    const t0 = o.mode === 'image' ? o.image!.tStart : 1;
    let z = o.mode === 'image' ? straight(o.image!.x, o.image!.e, t0) : z1;
    const ts = grid(t0, o.steps);
    for (let i = 0; i < ts.length; i++) {
      throwIfAborted(o.signal);
      const last = i === ts.length - 1;
      const u = await record(z, ts[i], last ? undefined : ts[i + 1]);
      o.onProgress?.(i + 1, ts.length);
      if (!last) z = stepFromU(z, u!, new Array<number>(n).fill(ts[i]), new Array<number>(n).fill(ts[i + 1]));
    }
    return frames;
  }
  if (o.mode === 'image') {
    const ts = grid(o.image!.tStart, o.steps);
    for (let i = 0; i < ts.length; i++) {
      throwIfAborted(o.signal);
      await record(straight(o.image!.x, o.image!.e, ts[i]), ts[i]);
      o.onProgress?.(i + 1, ts.length);
    }
    return frames;
  }
  // v-ODE: K Euler steps; a frame every K / N steps.
  const per = Math.ceil(o.odeSteps / o.steps);
  const K = per * o.steps;
  const ts = grid(1, K);
  let z = z1;
  for (let i = 0; i <= K; i++) {
    throwIfAborted(o.signal);
    const t = ts[i];
    let v: Float32Array;
    if (i % per === 0) {
      await record(z, t);
      v = frames[frames.length - 1].fields.v;
    } else {
      v = (await evaluateAt(evaluate, info, z, n, t, [], cond)).v!;
    }
    o.onProgress?.(i + 1, K + 1);
    if (i < K) z = stepFromU(z, v, new Array<number>(n).fill(t), new Array<number>(n).fill(ts[i + 1]));
  }
  return frames;
}

/** z_t = (1 - t) x + t e, with x and e of the same shape (e already scaled by noise_scale). */
export function straight(x: Float32Array, e: Float32Array, t: number): Float32Array {
  if (x.length !== e.length) throw new RangeError(`image and noise sizes differ: ${x.length} vs ${e.length}`);
  return Float32Array.from(x, (xi, j) => (1 - t) * xi + t * e[j]);
}

/** Packs frames into the protocol's [frames, 4, n, per] layout (z, x, u, v). */
export function packFrames(frames: Frame[], n: number, per: number): Float32Array {
  const layout = new FieldLayout(n, per);
  const out = new Float32Array(frames.length * layout.frameSize);
  frames.forEach((f, i) => {
    [f.z, f.fields.x, f.fields.u, f.fields.v].forEach((a, k) => layout.field(out, i, k).set(a));
  });
  return out;
}

/**
 * MeanFlow consistency at each frame: u(z_t, r, t) against the average of v over [r, t],
 * (z_t - z_r) / (t - r) with z_r from `fineSteps` Euler steps of the v-ODE from t to r; all
 * frames advance together (one network call per fine step). Returns |u - avg v| / |avg v|,
 * averaged over samples; 0 where r = t (the identity u(z, t, t) = v holds by definition).
 */
export async function consistency(evaluate: Evaluate, info: PmfModelInfo, frames: Frame[], n: number,
  cond: Conditioning, fineSteps: number, signal?: AbortSignal,
  onProgress?: (done: number, total: number) => void): Promise<number[]> {
  const per = perSample(info);
  const active = frames.map((f, i) => ({ f, i })).filter(({ f }) => f.t - f.r > 1e-6);
  const out = new Array<number>(frames.length).fill(0);
  if (active.length === 0) return out;
  const m = active.length;
  let z: Float32Array = new Float32Array(m * n * per);
  active.forEach(({ f }, j) => z.set(f.z, j * n * per));
  const tOf = (s: number) => active.flatMap(({ f }) => new Array<number>(n).fill(f.t + (f.r - f.t) * (s / fineSteps)));
  const labels = cond.labels ? active.flatMap(() => cond.labels!) : undefined;
  for (let s = 0; s < fineSteps; s++) {
    throwIfAborted(signal);
    const t = tOf(s);
    const next = tOf(s + 1);
    const raw = await evaluate(buildFeeds(info, z, m * n, t, t, { ...cond, labels }));
    z = stepFromU(z, uFromRaw(raw, z, t, info.prediction, info.tEps), t, next);
    onProgress?.(s + 1, fineSteps);
  }
  active.forEach(({ f, i }, j) => {
    let rel = 0;
    for (let s = 0; s < n; s++) {
      let num = 0;
      let den = 0;
      const h = f.t - f.r;
      for (let k = 0; k < per; k++) {
        const idx = s * per + k;
        const avgV = (f.z[idx] - z[j * n * per + idx]) / h;
        num += (f.fields.u[idx] - avgV) ** 2;
        den += avgV ** 2;
      }
      rel += den > 0 ? Math.sqrt(num / den) : 0;
    }
    out[i] = rel / n;
  });
  return out;
}
