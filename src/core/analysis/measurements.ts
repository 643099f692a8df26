// The Field Visualizer's measurements of z_t, x, u, v along a trajectory: the numbers behind
// the claim that x lies on a low-dimensional manifold while u and v carry noise.
import type { FieldName, Measurements, ToyPlane } from '../../../webview/visualizer/protocol';
import { patchDimension, pointDimension, type EffectiveDimension } from './patchDimension';
import { projectToPlane } from './planeProjection';
import { highFrequencyShare as imageHighFrequencyShare } from './spectrum';

/** The four fields in their order in a fields array (the protocol's FIELD_NAMES). */
const FIELDS: readonly FieldName[] = ['z', 'x', 'u', 'v'];

export interface MeasurementOptions {
  /** p of the p x p patches (image models; toys use the points themselves). */
  patchSize: number;
  kind: 'image' | 'toy';
  /** Toy models: the D x 2 column-orthonormal embedding of the data plane. */
  embedding?: number[][];
}

/**
 * Measurements per frame and field of fields [frames, 4, n, per] (z, x, u, v; per = product
 * of sampleShape), without the timing `ms`.
 *
 * Image models (sampleShape [C, H, W]): rms and highFrequencyShare are averaged over the n
 * samples; participationRatio and components95 are those of the p x p patches pooled over the
 * n samples (patchDim = p * p * C).
 * Toy models (sampleShape [D], opts.embedding required): rms; offPlaneNorm, the mean distance
 * of the samples from the data plane; participationRatio and components95 of the covariance of
 * the n points themselves (patchDim = D). A toy point has no spatial frequencies, so
 * highFrequencyShare is 0 throughout.
 */
/** Points used for a toy field's effective dimension (it cannot exceed this minus one). */
export const TOY_DIMENSION_POINTS = 64;

export function computeMeasurements(fields: Float32Array, frames: number, n: number, sampleShape: readonly number[],
  opts: MeasurementOptions): Omit<Measurements, 'ms'> {
  const per = checkFields(fields, frames, n, sampleShape);
  const sample = (block: Float32Array, i: number): Float32Array => block.subarray(i * per, (i + 1) * per);
  let patchDim: number;
  let dimension: (block: Float32Array) => EffectiveDimension;
  let hfShare: (block: Float32Array) => number;
  let offPlane: Float32Array | undefined;
  if (opts.kind === 'image') {
    if (sampleShape.length !== 3) throw new RangeError(`image sampleShape must be [C, H, W], got [${sampleShape.join(', ')}]`);
    const [C, H, W] = sampleShape;
    patchDim = opts.patchSize * opts.patchSize * C;
    dimension = (block) => patchDimension(block, n, [C, H, W], opts.patchSize);
    hfShare = (block) => mean(n, (i) => imageHighFrequencyShare(sample(block, i), C, H, W));
  } else {
    if (sampleShape.length !== 1) throw new RangeError(`toy sampleShape must be [D], got [${sampleShape.join(', ')}]`);
    if (opts.embedding === undefined) throw new RangeError('toy models need the embedding of the data plane');
    // The point cloud's dimension from at most TOY_DIMENSION_POINTS points (cost: an m x m
    // eigenproblem when m < D), so that D = 512 stays interactive.
    const m = Math.min(n, TOY_DIMENSION_POINTS);
    patchDim = Math.min(per, m - 1);
    dimension = (block) => ({ ...pointDimension(block.subarray(0, m * per), m, per), patchDim });
    hfShare = () => 0;
    offPlane = toyPlaneView(fields, frames, n, per, opts.embedding).offPlane;
  }

  const perField = (): Record<FieldName, number[]> => ({ z: [], x: [], u: [], v: [] });
  const rms = perField();
  const participationRatio = perField();
  const components95 = perField();
  const highFrequencyShare = perField();
  const offPlaneNorm = perField();
  for (let f = 0; f < frames; f++) {
    FIELDS.forEach((name, k) => {
      const first = (f * 4 + k) * n; // index of the block's first sample
      const block = fields.subarray(first * per, (first + n) * per);
      rms[name].push(mean(n, (i) => Math.sqrt(meanSquare(sample(block, i)))));
      const dim = dimension(block);
      participationRatio[name].push(dim.participationRatio);
      components95[name].push(dim.components95);
      highFrequencyShare[name].push(hfShare(block));
      if (offPlane !== undefined) offPlaneNorm[name].push(mean(n, (i) => offPlane[first + i]));
    });
  }
  return {
    rms, participationRatio, components95, patchDim, highFrequencyShare,
    ...(offPlane !== undefined ? { offPlaneNorm } : {}),
  };
}

/**
 * Toy models: every point of fields [frames, 4, n, D] in data-plane coordinates,
 * plane [frames, 4, n, 2] = P^T p, and its distance from the plane, offPlane [frames, 4, n].
 */
export function toyPlaneView(fields: Float32Array, frames: number, n: number, D: number, P: number[][]): ToyPlane {
  checkFields(fields, frames, n, [D]);
  if (P.length !== D) throw new RangeError(`the embedding has ${P.length} rows, expected D = ${D}`);
  return projectToPlane(fields, P);
}

/** Checks the [frames, 4, n, ...sampleShape] layout; returns per. */
function checkFields(fields: Float32Array, frames: number, n: number, sampleShape: readonly number[]): number {
  for (const v of [frames, n, ...sampleShape]) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`frames, n and sampleShape must be positive integers, got ${v}`);
  }
  const per = sampleShape.reduce((a, b) => a * b, 1);
  if (fields.length !== frames * 4 * n * per) {
    throw new RangeError(`fields hold ${fields.length} values, expected frames * 4 * n * per = ${frames * 4 * n * per}`);
  }
  return per;
}

function mean(n: number, value: (i: number) => number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += value(i);
  return s / n;
}

function meanSquare(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s / a.length;
}
