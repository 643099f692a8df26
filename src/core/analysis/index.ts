// Measurements of the pMF fields (pure TypeScript: no vscode, onnxruntime or DOM).
export {
  appendFrame, computeMeasurements, emptySeries, FrameMeasurer, toyPlaneView,
  type FrameMeasurement, type MeasurementOptions, type Measurements, type MeasurementSeries, type ToyPlane,
} from './measurements';
export {
  alwaysMeasured, MEASUREMENT_KEYS, measuredFor, measurement, MEASUREMENTS, scalar, SCALARS, title,
  type AlwaysMeasured, type MeasurementKey, type MeasurementKind, type MeasurementSpec, type PerMeasurement, type SometimesMeasured,
} from './measurementTable';
export { symmetricEigenvalues } from './symmetricEigenvalues';
export {
  DEFAULT_MAX_PATCHES, defaultPatchStride, patchDimension, pointDimension,
  type EffectiveDimension, type PatchOptions,
} from './patchDimension';
export { projectToPlane, type PlaneProjection } from './planeProjection';
export { highFrequencyShare, powerSpectrum } from './spectrum';
