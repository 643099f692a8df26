// Flow-matching sampling (docs/checkpoint-format.md, section 3a) over an abstract evaluator:
// the ODE dz/dt = v(z_t, t) integrated from t = 1 to 0 on linspace(1, 0, N + 1), by Euler or
// Heun steps, on the model's v (an x output: v = (z_t - x) / max(t, t_eps), as the pMF
// models convert), with classifier-free guidance as the model declares it:
//   inputs    omega, t_min, t_max fed to the network (one evaluation per velocity)
//   two-pass  v = v_uncond + omega (v_cond - v_uncond) for t in [t_min, t_max], v_cond outside
//   none      the class alone
//   euler  z_r = z_t - (t - r) v(z_t, t)
//   heun   z' = z_t - (t - r) v(z_t, t);  z_r = z_t - (t - r) (v(z_t, t) + v(z', r)) / 2
//          (a step that ends at t = 0 is Euler's: the last step, as JiT samples)
import type { FlowSolver, PmfModelInfo } from './checkpoint/types';
import { uFromRaw } from './fields';
import { buildFeeds, type Conditioning, type Evaluate, perSample, type SampleHooks, throwIfAborted } from './sampler';

/** The velocity v(z_t, t) of a batch at one time t. */
export type Velocity = (z: Float32Array, t: number) => Promise<Float32Array>;

/** Integrates dz/dt = v from t = `from` to `to` in `steps` equal steps; returns z at `to`. */
export async function integrate(velocity: Velocity, z0: Float32Array, from: number, to: number, steps: number,
  solver: FlowSolver, hooks: SampleHooks = {}): Promise<Float32Array> {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  let z = z0;
  for (let i = 0; i < steps; i++) {
    throwIfAborted(hooks.signal);
    const t = from + (to - from) * (i / steps);
    const r = i === steps - 1 ? to : from + (to - from) * ((i + 1) / steps);
    const h = t - r;
    const v1 = await velocity(z, t);
    checkLength(v1, z);
    const euler = axpy(z, -h, v1);
    if (solver === 'euler' || r === 0) {
      z = euler;
    } else {
      throwIfAborted(hooks.signal);
      const v2 = await velocity(euler, r);
      checkLength(v2, z);
      const next = new Float32Array(z.length);
      for (let j = 0; j < z.length; j++) next[j] = z[j] - h * 0.5 * (v1[j] + v2[j]);
      z = next;
    }
    hooks.onStep?.(i + 1, steps);
  }
  return z;
}

/** Network evaluations an N-step solve takes. */
export function solverEvaluations(steps: number, solver: FlowSolver): number {
  return solver === 'euler' ? steps : 2 * steps - 1;
}

function axpy(z: Float32Array, a: number, v: Float32Array): Float32Array {
  const out = new Float32Array(z.length);
  for (let j = 0; j < z.length; j++) out[j] = z[j] + a * v[j];
  return out;
}

function checkLength(v: Float32Array, z: Float32Array): void {
  if (v.length !== z.length) throw new Error(`the model returned ${v.length} values for ${z.length} inputs`);
}

/** Whether two-pass guidance applies at t: the model guides by two passes, omega != 1, t in [t_min, t_max], a class given. */
function twoPassAt(info: PmfModelInfo, cond: Conditioning, t: number): boolean {
  return info.guidance === 'two-pass' && cond.omega !== 1 && t >= cond.tMin && t <= cond.tMax &&
    cond.labels !== undefined && cond.labels.some((y) => y !== info.numClasses);
}

/** A flow-matching model's v(z_t, t) for n samples, guided as the model declares (one or two passes). */
export function flowVelocity(evaluate: Evaluate, info: PmfModelInfo, n: number, cond: Conditioning): Velocity {
  if (info.modelType !== 'flow-matching') throw new Error(`${info.name} is a MeanFlow model, not a flow-matching one`);
  const per = perSample(info);
  return async (z, t) => {
    if (!twoPassAt(info, cond, t)) {
      const ts = new Array<number>(n).fill(t);
      const raw = await evaluate(buildFeeds(info, z, n, ts, ts, cond));
      checkLength(raw, z);
      return uFromRaw(raw, z, ts, info.prediction, info.tEps);
    }
    // One call on 2n rows: the samples' classes, then the null class.
    const zz = new Float32Array(2 * n * per);
    zz.set(z, 0);
    zz.set(z, n * per);
    const ts = new Array<number>(2 * n).fill(t);
    const labels = [...cond.labels!, ...new Array<number>(n).fill(info.numClasses)];
    const raw = await evaluate(buildFeeds(info, zz, 2 * n, ts, ts, { ...cond, labels }));
    checkLength(raw, zz);
    const v = uFromRaw(raw, zz, ts, info.prediction, info.tEps);
    const out = new Float32Array(n * per);
    const w = cond.omega;
    for (let j = 0; j < n * per; j++) {
      const vu = v[n * per + j];
      out[j] = vu + w * (v[j] - vu);
    }
    return out;
  };
}

/** Runs the N-step flow-matching sampler from z_1 for n samples; returns z_0 (flat, in the data range). */
export async function flowSample(evaluate: Evaluate, info: PmfModelInfo, z1: Float32Array, n: number,
  cond: Conditioning, steps: number, solver: FlowSolver, hooks: SampleHooks = {}): Promise<Float32Array> {
  return integrate(flowVelocity(evaluate, info, n, cond), z1, 1, 0, steps, solver, hooks);
}
