// Seed walks: a path through noise space from one seed's z_1 to another's, for watching how a
// one-step generator's image changes between two samples (pMF: Explore Guidance).
//
// The path is a spherical interpolation (slerp). Linear interpolation between two independent
// high-dimensional Gaussians leaves the shell where such noise lives: for nearly orthogonal
// z_a, z_b of norm r the midpoint has norm ~ r / sqrt(2) (0.707 r), noise the network never saw.
// Two seeds' norms are nearly equal (|z| ~ noise_scale * sqrt(per), relative spread
// ~ 1 / sqrt(2 per)) but not exactly, and plain slerp on unnormalised vectors preserves neither
// norm exactly. slerpNoise therefore splits each vector into its norm and its direction: the
// direction moves along the great circle from z_a / |z_a| to z_b / |z_b| at constant angular
// speed, and the norm is interpolated linearly from |z_a| to |z_b|. Every point of the walk then
// has a norm between the endpoints' (a plausible norm), and the endpoints are the seeds' noise
// bit for bit (s = 0 and s = 1 return copies of the inputs).
import { initialNoise } from './noise';

/** Below this angle (radians) between the two directions, slerp is linear interpolation. */
export const SLERP_LINEAR_BELOW = 1e-4;

function norm(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/**
 * The point at s in [0, 1] on the spherical path from za to zb (same length): norm
 * (1 - s)|za| + s|zb|, direction on the great circle between theirs, with
 * theta = acos(<za, zb> / (|za| |zb|)). s = 0 gives za, s = 1 gives zb (copies, bit for bit);
 * when theta < SLERP_LINEAR_BELOW the path is the straight line (1 - s) za + s zb.
 * Throws on different lengths, s outside [0, 1], a zero vector or opposite directions (no
 * unique great circle).
 */
export function slerpNoise(za: Float32Array, zb: Float32Array, s: number): Float32Array {
  if (za.length !== zb.length) throw new RangeError(`slerpNoise: the vectors have ${za.length} and ${zb.length} values`);
  if (!(s >= 0 && s <= 1)) throw new RangeError(`slerpNoise: s must be in [0, 1], got ${s}`);
  if (s === 0) return za.slice();
  if (s === 1) return zb.slice();
  const na = norm(za);
  const nb = norm(zb);
  if (!(na > 0) || !(nb > 0) || !Number.isFinite(na) || !Number.isFinite(nb)) {
    throw new RangeError(`slerpNoise: the vectors need finite, non-zero norms (got ${na} and ${nb})`);
  }
  let dot = 0;
  for (let i = 0; i < za.length; i++) dot += za[i] * zb[i];
  const cos = Math.min(1, Math.max(-1, dot / (na * nb)));
  const theta = Math.acos(cos);
  const out = new Float32Array(za.length);
  if (theta < SLERP_LINEAR_BELOW) {
    for (let i = 0; i < za.length; i++) out[i] = (1 - s) * za[i] + s * zb[i];
    return out;
  }
  const sin = Math.sin(theta);
  if (Math.PI - theta < SLERP_LINEAR_BELOW) throw new RangeError('slerpNoise: the vectors point in opposite directions; the great circle between them is not unique');
  const r = (1 - s) * na + s * nb;
  // unit directions: ua = za / na, ub = zb / nb; point = r * (wa ua + wb ub)
  const wa = (r * Math.sin((1 - s) * theta)) / (sin * na);
  const wb = (r * Math.sin(s * theta)) / (sin * nb);
  for (let i = 0; i < za.length; i++) out[i] = wa * za[i] + wb * zb[i];
  return out;
}

/** The fractions s of a walk of `steps` points: 0, 1/(steps-1), ..., 1. */
export function walkFractions(steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 2) throw new RangeError(`a seed walk needs an integer number of steps >= 2, got ${steps}`);
  return Array.from({ length: steps }, (_, i) => (i === steps - 1 ? 1 : i / (steps - 1)));
}

/**
 * `steps` noise vectors from seed A's z_1 to seed B's (initialNoise([seed], per, noiseScale)),
 * evenly spaced in s along slerpNoise's path: flat [steps, per]. Row 0 is seed A's noise and
 * row steps - 1 seed B's, bit for bit, so their images are the seeds' images.
 */
export function seedWalk(seedA: number, seedB: number, steps: number, per: number, noiseScale: number): Float32Array {
  if (!Number.isInteger(per) || per < 1) throw new RangeError(`per must be a positive integer, got ${per}`);
  const fractions = walkFractions(steps);
  const za = initialNoise([seedA], per, noiseScale);
  const zb = initialNoise([seedB], per, noiseScale);
  const out = new Float32Array(steps * per);
  fractions.forEach((s, i) => out.set(slerpNoise(za, zb, s), i * per));
  return out;
}
