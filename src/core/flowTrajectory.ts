// The Field Visualizer's trajectory of a flow-matching model (the construction of the paper's
// Fig. 1): frames along the ODE dz/dt = v(z_t, t) from z_1, and at each frame's t the fields
//   v(z_t, t)                    the network's own (instantaneous) velocity
//   u(z_t, r, t) = (z_t - z_r) / (t - r),  z_r the ODE solution from z_t down to r = rFraction t
//   x(z_t, r, t) = z_t - t u     (at r = t: u = v and x = z_t - t v, the denoiser)
// The network has no r: u and x come from solving the ODE, not from an evaluation at (r, t).
import type { FlowSolver } from './checkpoint/types';
import { integrate, type Velocity } from './flowSampler';
import { throwIfAborted } from './sampler';
import type { Frame } from './trajectory';

export interface FlowTrajectoryOptions {
  /** Frames - 1 along t, at t = 1 - f / steps. */
  steps: number;
  /** Solver steps per unit of t: the path between frames and each z_r take ceil(odeSteps * length) of them. */
  odeSteps: number;
  /** r = rFraction * t at every frame (0: u averages v down to the path's end; 1: u = v). */
  rFraction: number;
  solver: FlowSolver;
  signal?: AbortSignal;
  /** After each frame: frames done, frames in all. */
  onProgress?: (done: number, total: number) => void;
}

/** u(z_t, r, t) and x(z_t, r, t) from z_t and the ODE solution z_r (r < t). */
export function averageFromOde(zt: Float32Array, zr: Float32Array, t: number, r: number): { u: Float32Array; x: Float32Array } {
  if (!(t > r)) throw new RangeError(`u over [r, t] needs r < t, got r = ${r}, t = ${t}`);
  if (zt.length !== zr.length) throw new RangeError(`z_t and z_r sizes differ: ${zt.length} vs ${zr.length}`);
  const u = Float32Array.from(zt, (z, j) => (z - zr[j]) / (t - r));
  const x = Float32Array.from(zt, (z, j) => z - t * u[j]);
  return { u, x };
}

/** Solver steps over a stretch of t of this length, at odeSteps per unit of t (at least one). */
export const solverSteps = (odeSteps: number, length: number) => Math.max(1, Math.ceil(odeSteps * length - 1e-9));

/** Frames of the ODE trajectory from z_1 (flat, n samples), with v, u and x at each (see the top). */
export async function flowTrajectory(velocity: Velocity, z1: Float32Array, o: FlowTrajectoryOptions): Promise<Frame[]> {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new RangeError(`steps must be a positive integer, got ${o.steps}`);
  if (!(o.rFraction >= 0 && o.rFraction <= 1)) throw new RangeError(`rFraction must lie in [0, 1], got ${o.rFraction}`);
  const frames: Frame[] = [];
  const hooks = { signal: o.signal };
  let z = z1;
  for (let f = 0; f <= o.steps; f++) {
    throwIfAborted(o.signal);
    const t = 1 - f / o.steps;
    const r = o.rFraction * t;
    const v = await velocity(z, t);
    let fields: Frame['fields'];
    if (t - r > 1e-9) {
      const zr = await integrate(velocity, z, t, r, solverSteps(o.odeSteps, t - r), o.solver, hooks);
      fields = { ...averageFromOde(z, zr, t, r), v };
    } else {
      fields = { u: v, x: Float32Array.from(z, (zj, j) => zj - t * v[j]), v };
    }
    frames.push({ t, r, z, fields });
    o.onProgress?.(f + 1, o.steps + 1);
    if (f < o.steps) z = await integrate(velocity, z, t, 1 - (f + 1) / o.steps, solverSteps(o.odeSteps, 1 / o.steps), o.solver, hooks);
  }
  return frames;
}
