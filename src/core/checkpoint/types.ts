import type { Precision } from './precision';
// The pMF checkpoint contract (docs/checkpoint-format.md, version 1) as TypeScript types.

export const FORMAT_VERSION = 1;
export const CONTRACT_INPUTS = ['z', 't', 'h', 'y', 'omega', 't_min', 't_max'] as const;
export type InputName = (typeof CONTRACT_INPUTS)[number];
export type Prediction = 'x' | 'u';
export type ModelKind = 'image' | 'toy';

/** A graph input or output as declared in the ONNX file (dims: number, symbolic name, or null). */
export interface TensorSpec {
  name: string;
  elemType: string; // 'float32' | 'int64' | ... (lower-case ONNX element type)
  dims: Array<number | string | null>;
  /** Set when the file declares no shape at all (dims is then empty, which would otherwise mean a scalar). */
  unknownRank?: boolean;
}

export interface SamplingSettings {
  steps: number;
  omega: number;
  tMin: number;
  tMax: number;
}

/** Everything a runtime needs to know about a validated pMF checkpoint. */
export interface PmfModelInfo {
  formatVersion: number;
  name: string;
  description: string;
  prediction: Prediction;
  kind: ModelKind;
  dataRange: [number, number];
  noiseScale: number;
  tEps: number;
  numClasses: number;
  classNames: string[]; // numClasses names (index strings when the file has none)
  imageSize?: number;
  channels?: number;
  patchSize?: number;
  dim?: number; // toy models: D
  embedding?: number[][]; // toy models: D x 2
  defaultSampling: SamplingSettings;
  architecture: Record<string, unknown>;
  training: Record<string, unknown>;
  /** Set for a reduced-precision variant (pmf.precision): what it is and its measured cost. */
  precision?: Precision;
  /** Contract inputs the graph declares, in canonical order. */
  inputs: InputName[];
  inputSpecs: TensorSpec[];
  outputSpec: TensorSpec;
  /** Shape of one sample: [C, H, W] for images, [D] for toys. */
  sampleShape: number[];
  /** Set when the graph's batch dimension is a fixed number. */
  fixedBatch?: number;
  /** True when the model takes omega, t_min and t_max. */
  hasCfg: boolean;
  /** pmf.* keys this reader does not know, and other non-fatal findings. */
  warnings: string[];
  /** All metadata_props as stored (strings). */
  metadata: Record<string, string>;
}

export type CheckpointErrorCode =
  | 'not-onnx'
  | 'no-pmf-metadata'
  | 'bad-version'
  | 'future-version'
  | 'bad-json'
  | 'missing-metadata'
  | 'bad-prediction'
  | 'bad-kind'
  | 'output-count'
  | 'output-name'
  | 'missing-input'
  | 'unknown-input'
  | 'input-dtype'
  | 'input-rank'
  | 'shape-mismatch'
  | 'cfg-partial'
  | 'class-input'
  | 'class-names'
  | 'embedding';

/** A checkpoint that breaks the contract; `message` is meant for the user as is. */
export class CheckpointError extends Error {
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}
