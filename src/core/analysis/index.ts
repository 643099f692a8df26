// Measurements of the pMF fields (pure TypeScript: no vscode, onnxruntime or DOM).
export { computeMeasurements, toyPlaneView, type MeasurementOptions } from './measurements';
export {
  DEFAULT_MAX_PATCHES, defaultPatchStride, patchDimension, pointDimension,
  type EffectiveDimension, type PatchOptions,
} from './patchDimension';
export { projectToPlane, type PlaneProjection } from './planeProjection';
export { highFrequencyShare, powerSpectrum } from './spectrum';
