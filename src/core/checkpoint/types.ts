import type { Precision } from './precision';
// The pMF checkpoint contract (docs/checkpoint-format.md, version 1) as TypeScript types.

export const FORMAT_VERSION = 1;
export const CONTRACT_INPUTS = ['z', 't', 'h', 'y', 'omega', 't_min', 't_max'] as const;
export type InputName = (typeof CONTRACT_INPUTS)[number];
/** The field the runtime's conversions read the output as (a flow-matching v output is u at r = t). */
export type Prediction = 'x' | 'u';
/** pmf.prediction as the file declares it: x or u for a MeanFlow model, x or v for a flow-matching one. */
export type DeclaredPrediction = 'x' | 'u' | 'v';
export type ModelKind = 'image' | 'toy';
/** pmf.model_type: a (pixel) MeanFlow network of (z, r, t), or a flow-matching network of (z, t) only. */
export type ModelType = 'mean-flow' | 'flow-matching';
export const MODEL_TYPES: readonly ModelType[] = ['mean-flow', 'flow-matching'];
/** How classifier-free guidance is done: by the network's omega/t_min/t_max inputs, by two network passes, or not. */
export type Guidance = 'inputs' | 'two-pass' | 'none';
/** The ODE solver of a flow-matching model's sampler. */
export type FlowSolver = 'euler' | 'heun';
export const FLOW_SOLVERS: readonly FlowSolver[] = ['euler', 'heun'];

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
  /** The output as the field conversions read it: x, or u (a flow-matching v output is u(z, t, t) = v). */
  prediction: Prediction;
  /** pmf.prediction as declared (the output's name). */
  declaredPrediction: DeclaredPrediction;
  /** pmf.model_type ('mean-flow' when absent). */
  modelType: ModelType;
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
  /** 'inputs' when hasCfg; 'two-pass' for a flow-matching model declaring pmf.guidance "two-pass"; else 'none'. */
  guidance: Guidance;
  /** Flow-matching models: the solver pmf.default_sampling names ('euler' when it names none). */
  defaultSolver?: FlowSolver;
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
  | 'bad-model-type'
  | 'guidance'
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
