// The pMF fields and their conversions (paper Eqs. 8 and 11), on flat batches.
//   x-prediction: u = (z - x) / max(t, t_eps)       u-prediction: x = z - t u
//   v(z, t) = u(z, t, t)
// Tensors are flat Float32Arrays holding n samples of `per` values each; t has one value per sample.
import type { Prediction } from './checkpoint/types';

export const DEFAULT_T_EPS = 0.05;

function checkSizes(a: Float32Array, b: Float32Array, t: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`field sizes differ: ${a.length} vs ${b.length}`);
  if (t.length === 0 || a.length % t.length !== 0) {
    throw new RangeError(`${a.length} values do not split into ${t.length} samples`);
  }
  return a.length / t.length;
}

/** The average velocity u from a network's raw output. */
export function uFromRaw(raw: Float32Array, z: Float32Array, t: ArrayLike<number>, prediction: Prediction,
  tEps = DEFAULT_T_EPS): Float32Array {
  if (prediction === 'u') return raw;
  const per = checkSizes(raw, z, t);
  const u = new Float32Array(raw.length);
  for (let i = 0; i < t.length; i++) {
    const inv = 1 / Math.max(t[i], tEps);
    for (let j = i * per; j < (i + 1) * per; j++) u[j] = (z[j] - raw[j]) * inv;
  }
  return u;
}

/** The denoised-image field x from a network's raw output. */
export function xFromRaw(raw: Float32Array, z: Float32Array, t: ArrayLike<number>, prediction: Prediction): Float32Array {
  if (prediction === 'x') return raw;
  const per = checkSizes(raw, z, t);
  const x = new Float32Array(raw.length);
  for (let i = 0; i < t.length; i++) {
    for (let j = i * per; j < (i + 1) * per; j++) x[j] = z[j] - t[i] * raw[j];
  }
  return x;
}

/** One sampler step z_r = z_t - (t - r) u, per sample. */
export function stepFromU(z: Float32Array, u: Float32Array, t: ArrayLike<number>, r: ArrayLike<number>): Float32Array {
  const per = checkSizes(z, u, t);
  const out = new Float32Array(z.length);
  for (let i = 0; i < t.length; i++) {
    const h = t[i] - r[i];
    for (let j = i * per; j < (i + 1) * per; j++) out[j] = z[j] - h * u[j];
  }
  return out;
}

/** linspace(1, 0, steps + 1): the sampler's time grid. */
export function timeSteps(steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  return Array.from({ length: steps + 1 }, (_, i) => 1 - i / steps);
}
