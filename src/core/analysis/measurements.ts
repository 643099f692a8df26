// The Field Visualizer's measurements of z_t, x, u, v along a trajectory: the numbers behind
// the claim that x lies on a low-dimensional manifold while u and v carry noise.
import { FIELD_NAMES as FIELDS, FieldLayout, type FieldName } from '../fieldLayout';
import { checkPatchSize, patchDimension, pointDimension, type EffectiveDimension } from './patchDimension';
import { type PlaneProjection, projectToPlane } from './planeProjection';
import { type Flat, MEASUREMENTS, type MeasurementKey, type MeasurementKind, measuredFor, type PerMeasurement } from './measurementTable';
import { highFrequencyShare as imageHighFrequencyShare } from './spectrum';

/**
 * The measurements of one frame: for each measurement of MEASUREMENTS (measurementTable.ts, where
 * each is described) one number per field (z, x, u, v); offPlaneNorm for toy models only.
 */
export type FrameMeasurement = PerMeasurement<Record<FieldName, number>>;

/**
 * Measurements along t without the timing `ms`: for each measurement of MEASUREMENTS one array
 * entry per frame (measured so far) and field, and patchDim, the dimension of a patch (p * p * C):
 * the largest possible participation ratio or number of components.
 */
export type MeasurementSeries = Flat<PerMeasurement<Record<FieldName, number[]>> & { patchDim: number }>;

/** Per-frame measurements along t (a series) and the time they took, `ms`. */
export type Measurements = Flat<MeasurementSeries & { ms: number }>;

/** Toy models: points projected to the data plane, plane [frames, 4, n, 2] = P^T p, and their off-plane norms [frames, 4, n]. */
export type ToyPlane = PlaneProjection;

export interface MeasurementOptions {
  /** p of the p x p patches (image models; toys use the points themselves). */
  patchSize: number;
  kind: MeasurementKind;
  /** Toy models: the D x 2 column-orthonormal embedding of the data plane. */
  embedding?: number[][];
}

/** Points used for a toy field's effective dimension (it cannot exceed this minus one). */
export const TOY_DIMENSION_POINTS = 64;

/**
 * Measures frames one at a time (a frame is [4, n, ...sampleShape]: z, x, u, v), so a caller
 * can report each frame as it is done and stop between frames.
 *
 * Image models (sampleShape [C, H, W]): rms and highFrequencyShare are averaged over the n
 * samples; participationRatio and components95 are those of the p x p patches pooled over the
 * n samples (patchDim = p * p * C).
 * Toy models (sampleShape [D], opts.embedding required): rms; offPlaneNorm, the mean distance
 * of the samples from the data plane; participationRatio and components95 of the covariance of
 * the first TOY_DIMENSION_POINTS points themselves (patchDim = min(D, points - 1)). A toy point
 * has no spatial frequencies, so highFrequencyShare is 0 throughout.
 */
export class FrameMeasurer {
  readonly patchDim: number;
  private readonly per: number;
  private readonly dimension: (block: Float32Array) => EffectiveDimension;
  private readonly hfShare: (block: Float32Array) => number;

  constructor(private readonly n: number, sampleShape: readonly number[],
    private readonly opts: MeasurementOptions) {
    this.per = checkShape(n, sampleShape);
    const per = this.per;
    const sample = (block: Float32Array, i: number): Float32Array => block.subarray(i * per, (i + 1) * per);
    if (opts.kind === 'image') {
      if (sampleShape.length !== 3) throw new RangeError(`image sampleShape must be [C, H, W], got [${sampleShape.join(', ')}]`);
      const [C, H, W] = sampleShape;
      checkPatchSize(opts.patchSize, H, W); // here, not at the first frame
      this.patchDim = opts.patchSize * opts.patchSize * C;
      this.dimension = (block) => patchDimension(block, n, [C, H, W], opts.patchSize);
      this.hfShare = (block) => mean(n, (i) => imageHighFrequencyShare(sample(block, i), C, H, W));
    } else {
      if (sampleShape.length !== 1) throw new RangeError(`toy sampleShape must be [D], got [${sampleShape.join(', ')}]`);
      if (opts.embedding === undefined) throw new RangeError('toy models need the embedding of the data plane');
      // The point cloud's dimension from at most TOY_DIMENSION_POINTS points (cost: an m x m
      // eigenproblem when m < D), so that D = 512 stays interactive.
      const m = Math.min(n, TOY_DIMENSION_POINTS);
      const patchDim = Math.min(per, m - 1);
      this.patchDim = patchDim;
      this.dimension = (block) => ({ ...pointDimension(block.subarray(0, m * per), m, per), patchDim });
      this.hfShare = () => 0;
    }
  }

  /** The measurements of one frame, [4, n, ...sampleShape]. */
  measure(frame: Float32Array): FrameMeasurement {
    const { n, per } = this;
    const layout = new FieldLayout(n, per);
    if (frame.length !== layout.frameSize) throw new RangeError(`a frame holds ${frame.length} values, expected 4 * n * per = ${layout.frameSize}`);
    const sample = (block: Float32Array, i: number): Float32Array => block.subarray(i * per, (i + 1) * per);
    const offPlane = this.opts.kind === 'toy' ? toyPlaneView(frame, 1, n, per, this.opts.embedding!).offPlane : undefined;
    const out: FrameMeasurement = { rms: perField(), participationRatio: perField(), components95: perField(),
      highFrequencyShare: perField(), ...(offPlane ? { offPlaneNorm: perField() } : {}) };
    FIELDS.forEach((name, k) => {
      const block = layout.field(frame, 0, k);
      out.rms[name] = mean(n, (i) => Math.sqrt(meanSquare(sample(block, i))));
      const dim = this.dimension(block);
      out.participationRatio[name] = dim.participationRatio;
      out.components95[name] = dim.components95;
      out.highFrequencyShare[name] = this.hfShare(block);
      if (offPlane && out.offPlaneNorm) out.offPlaneNorm[name] = mean(n, (i) => offPlane[k * n + i]);
    });
    return out;
  }

  /** An empty series to append this measurer's frames to. */
  series(): MeasurementSeries {
    return emptySeries(this.patchDim, this.opts.kind);
  }
}

/** An empty series to append frames to: the measurements of MEASUREMENTS made for `kind` (toy series have offPlaneNorm). */
export function emptySeries(patchDim: number, kind: MeasurementKind): MeasurementSeries {
  const lists: Partial<Record<MeasurementKey, Record<FieldName, number[]>>> = {};
  for (const spec of MEASUREMENTS) if (measuredFor(spec, kind)) lists[spec.key] = { z: [], x: [], u: [], v: [] };
  // every always-measured key is measured for every kind, so none is missing
  return { ...lists, patchDim } as MeasurementSeries;
}

/** Appends one frame's measurements to a series (in frame order). */
export function appendFrame(series: MeasurementSeries, m: FrameMeasurement): void {
  for (const { key } of MEASUREMENTS) {
    const target = series[key];
    const values = m[key];
    if (!target || !values) continue;
    for (const f of FIELDS) target[f].push(values[f]);
  }
}

/**
 * Measurements per frame and field of fields [frames, 4, n, per] (z, x, u, v; per = product
 * of sampleShape), without the timing `ms`; see FrameMeasurer for what each one is.
 */
export function computeMeasurements(fields: Float32Array, frames: number, n: number, sampleShape: readonly number[],
  opts: MeasurementOptions): MeasurementSeries {
  const per = checkFields(fields, frames, n, sampleShape);
  const measurer = new FrameMeasurer(n, sampleShape, opts);
  const series = measurer.series();
  const layout = new FieldLayout(n, per);
  for (let f = 0; f < frames; f++) appendFrame(series, measurer.measure(layout.frames(fields, f)));
  return series;
}

function perField(): Record<FieldName, number> {
  return { z: 0, x: 0, u: 0, v: 0 };
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

/** Checks n and the sample shape; returns per, the values of one sample. */
function checkShape(n: number, sampleShape: readonly number[]): number {
  for (const v of [n, ...sampleShape]) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`frames, n and sampleShape must be positive integers, got ${v}`);
  }
  return sampleShape.reduce((a, b) => a * b, 1);
}

/** Checks the [frames, 4, n, ...sampleShape] layout; returns per. */
function checkFields(fields: Float32Array, frames: number, n: number, sampleShape: readonly number[]): number {
  if (!Number.isInteger(frames) || frames < 1) throw new RangeError(`frames, n and sampleShape must be positive integers, got ${frames}`);
  const per = checkShape(n, sampleShape);
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
