// Every message between the extension host (or CLI) and the engine process, in one place.
//
// Transport: JSON-RPC (vscode-jsonrpc) over the child process's IPC channel with Node's
// 'advanced' serialization, so Float32Array / BigInt64Array payloads cross as binary
// (structured clone), never as JSON number arrays. Requests can be cancelled with the
// JSON-RPC cancellation token; long requests report progress with notifications.
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc/node';
import type { FrameMeasurement, MeasurementSeries } from '../core/analysis';
import type { FlowSolver, PmfModelInfo, SamplingSettings } from '../core/checkpoint/types';
import type { FeatureNetInfo } from '../core/eval/featureNet';
import type { Feeds, PerSampleGuidance } from '../core/sampler';

export type ProviderSetting = 'auto' | 'cuda' | 'webgpu' | 'cpu';
export type Provider = 'cuda' | 'webgpu' | 'cpu';

/** Error codes the engine puts in ResponseError.data.code. */
export type EngineErrorCode =
  | 'checkpoint' // the file breaks the pMF contract (message says how)
  | 'not-found' // the file does not exist or cannot be read
  | 'provider' // the requested execution provider cannot run here
  | 'bad-request' // invalid parameters (out-of-range class, steps, ...)
  | 'unknown-model' // modelId not loaded (engine restarted?)
  | 'unknown-trajectory' // the engine no longer holds that trajectory (restarted, or evicted)
  | 'cancelled'
  | 'memory' // the model would not fit in the memory available (message gives the figures)
  | 'runtime'; // onnxruntime failed while running

export interface EngineErrorData {
  code: EngineErrorCode;
}

export interface ProviderReport {
  /** Providers this build of onnxruntime-node can load at all, with why not otherwise. */
  available: Record<Provider, { usable: boolean; reason: string }>;
  /** What `auto` picks on this machine, in order of preference. */
  autoOrder: Provider[];
}

export interface HelloResult {
  pid: number;
  onnxruntimeVersion: string;
  nodeVersion: string;
  platform: string;
  providers: ProviderReport;
}

export interface LoadParams {
  path: string;
  provider: ProviderSetting;
  /** CPU threads for onnxruntime's intra-op pool (0 or absent: onnxruntime's default). */
  threads?: number;
  /** Load phases (model/loadProgress) are reported under this token. */
  progressToken?: string;
}

/**
 * What a load is doing: reading the file's header and checking its files and the memory;
 * optimising (first load of a file: onnxruntime optimises the graph and packs the weights, and
 * the result goes into the optimised model cache); cached (loading that result); loading (the
 * model as it is, without the cache); ready.
 */
export type LoadPhase = 'reading' | 'optimising' | 'cached' | 'loading' | 'ready';

export interface LoadProgressParams {
  token: string;
  phase: LoadPhase;
  /** For people, e.g. "optimising pMF-B-16.onnx for the CPU (first load of this file; later loads use the cache)". */
  message: string;
  /** Bytes of weights the model holds (known from 'optimising', 'cached' and 'loading' on). */
  weightBytes?: number;
  /** Since the load began. */
  elapsedMs: number;
}

/** The optimised model cache on a load: hit, written by this load, or not used (reason says why). */
export interface ModelCacheUse {
  state: 'hit' | 'written' | 'unused';
  reason?: string;
}

export interface LoadResult {
  modelId: string;
  info: PmfModelInfo;
  /** The provider the session actually runs on. */
  provider: Provider;
  /** Providers tried before it, with the reason each was passed over. */
  skipped: Array<{ provider: Provider; reason: string }>;
  loadMs: number;
  cached: boolean;
  /** Bytes of weights (in the file and in its external data). */
  weightBytes?: number;
  modelCache?: ModelCacheUse;
}

/**
 * The sampling noise scales the engine takes (GenerateParams.noiseScale, EvalSamplesParams.noiseScale):
 * a multiplier of the model's own pmf.noise_scale, 1 = as trained; Explore Guidance's slider spans it.
 */
export const NOISE_SCALE_RANGE = [0.5, 1.5] as const;

export interface GenerateParams extends SamplingSettings {
  modelId: string;
  /** One seed per sample (uint32); sample i's noise depends on seeds[i] only. */
  seeds: number[];
  /** One class per sample (num_classes = unconditional); ignored by unconditional models. */
  labels?: number[];
  batchSize: number;
  /**
   * z_1 given instead of the seeds' noise (a seed walk, core/noiseWalk): flat [n, ...sampleShape]
   * for n = seeds.length, finite; the seeds then only label the samples.
   */
  noise?: Float32Array;
  /**
   * Sampling noise scale: sample i's z_1 = noiseScale * (the model's pmf.noise_scale) * e(seeds[i])
   * (1 or absent: the noise the model was trained on), in NOISE_SCALE_RANGE. Not with `noise`
   * (give that noise already scaled).
   */
  noiseScale?: number;
  /** Flow-matching models: the ODE solver (the model's default_sampling solver when absent); MeanFlow models ignore it. */
  solver?: FlowSolver;
  /**
   * One CFG setting per sample (each seeds.length long), in place of omega / tMin / tMax: models
   * with CFG inputs only. Sample i is the image a request with its own omega, tMin, tMax gives.
   */
  guidance?: PerSampleGuidance;
  /** Progress notifications carry this token. */
  progressToken?: string;
}

export interface GenerateResult {
  /** z_0 for every sample, flat [N, ...sampleShape], in the model's data range. */
  samples: Float32Array;
  sampleShape: number[];
  provider: Provider;
  ms: number;
}

export interface RunParams {
  modelId: string;
  feeds: Feeds;
}

export interface RunResult {
  output: Float32Array;
  dims: number[];
  ms: number;
}

export interface ProgressParams {
  token: string;
  done: number;
  total: number;
}

export const Hello = new RequestType0<HelloResult, EngineErrorData>('engine/hello');
export const LoadModel = new RequestType<LoadParams, LoadResult, EngineErrorData>('model/load');
export const Generate = new RequestType<GenerateParams, GenerateResult, EngineErrorData>('model/generate');
export const Run = new RequestType<RunParams, RunResult, EngineErrorData>('model/run');
export const UnloadModel = new RequestType<{ modelId: string }, void, EngineErrorData>('model/unload');
/** Test hook (only with PMF_ENGINE_TEST=1): the engine aborts like a native fault would. */
export const Crash = new RequestType0<void, EngineErrorData>('engine/crash');
export const Progress = new NotificationType<ProgressParams>('engine/progress');
export const LoadProgress = new NotificationType<LoadProgressParams>('model/loadProgress');

// ---- Evaluation (pmf eval; docs/evaluation.md) -------------------------------------------

export interface LoadFeatureNetResult {
  netId: string;
  info: FeatureNetInfo;
  provider: Provider;
  loadMs: number;
  cached: boolean;
}

/**
 * Samples start .. start + count - 1 of an evaluation run, generated and turned into features in
 * the engine (the images never cross the process boundary): sample i's seed and class follow
 * core/eval evalPlan (sampleSeed, sampleClass), its pixels are rounded to 8 bits as a PNG's.
 */
export interface EvalSamplesParams extends SamplingSettings {
  modelId: string;
  netId: string;
  start: number;
  count: number;
  seed: number;
  batchSize: number;
  /** Flow-matching models: the ODE solver (the model's default_sampling solver when absent); MeanFlow models ignore it. */
  solver?: FlowSolver;
  /** Sampling noise scale (GenerateParams.noiseScale): sample i's noise is its seed's times this; 1 when absent. */
  noiseScale?: number;
  /** Progress (samples done of count) under this token. */
  progressToken?: string;
}

export interface EvalSamplesResult {
  /** count x feature_dim */
  features: Float32Array;
  /** count x logit_classes, when the network has logits. */
  logits?: Float32Array;
  /** The class each sample was generated for. */
  classes: number[];
  generateMs: number;
  featuresMs: number;
}

export interface NetFeaturesParams {
  netId: string;
  /** 8-bit levels 0..255 as floats, [N, C, H, W] flat. */
  images: Float32Array;
  dims: [number, number, number, number];
  batchSize: number;
}

export interface NetFeaturesResult {
  features: Float32Array;
  logits?: Float32Array;
  ms: number;
}

export const LoadFeatureNet = new RequestType<LoadParams, LoadFeatureNetResult, EngineErrorData>('eval/loadNet');
export const EvalSamples = new RequestType<EvalSamplesParams, EvalSamplesResult, EngineErrorData>('eval/samples');
export const NetFeatures = new RequestType<NetFeaturesParams, NetFeaturesResult, EngineErrorData>('eval/features');

// ---- Field Visualizer -------------------------------------------------------------------

export interface TrajectoryParams extends SamplingSettings {
  modelId: string;
  mode: 'pmf' | 'ode' | 'image';
  /** One seed per sample: the noise z_1 (pmf, ode) or e (image mode). */
  seeds: number[];
  labels?: number[];
  odeSteps: number;
  /** Fields at r = rFraction * t, or 'step': at each sampler step's own r (pmf and image/model paths). */
  rFraction: number | 'step';
  /** image mode: the real image in the data range ([C, H, W], flat), start time and path. */
  image?: { x: Float32Array; tStart: number; path: 'straight' | 'model' };
  /** Flow-matching models (ode mode only): the ODE solver (the model's default when absent). */
  solver?: FlowSolver;
  /**
   * Whether the engine keeps the trajectory for follow-up requests (measure, fieldsAt,
   * consistency, frameData; default true). A caller that takes every frame at once passes false,
   * so its runs do not push the Field Visualizer's trajectories out of the engine's few kept ones.
   */
  keep?: boolean;
  /** Progress (network calls done of all) is reported under this token. */
  progressToken?: string;
}

export interface TrajectoryReply {
  /**
   * Names the trajectory kept in the engine for follow-up requests. With keep: false it names
   * a trajectory that was not kept: follow-up requests on it fail with 'bad-request' saying so.
   */
  trajectoryId: string;
  times: number[];
  rs: number[];
  n: number;
  sampleShape: number[];
  /** Image models: [frames, 4, n, per] (z, x, u, v). */
  fields?: Float32Array;
  /** Toy models: the data-plane view, [frames, 4, n, 2] and [frames, 4, n]. */
  toy?: { plane: Float32Array; offPlane: Float32Array };
  ms: number;
}

/**
 * Measure a kept trajectory (viz/measure). The work runs in a worker thread of the engine, so
 * the engine keeps answering; each frame is reported with viz/measured as it is done.
 */
export interface MeasureParams {
  trajectoryId: string;
  /** p of the p x p patches (image models; ignored for toys). */
  patchSize: number;
  progressToken?: string;
}

export interface MeasuredParams {
  token: string;
  frame: number;
  frames: number;
  /** p * p * C for image models, as in the series. */
  patchDim: number;
  measurement: FrameMeasurement;
}

export interface MeasureReply {
  /** Measurements along t (see core/analysis FrameMeasurer), one entry per frame. */
  measurements: MeasurementSeries;
  ms: number;
}

export interface FieldsAtParams {
  trajectoryId: string;
  frame: number;
  rFraction: number;
}

export interface FieldsAtReply {
  t: number;
  r: number;
  /**
   * Image models: x and u at the new r, [2, n, per] (z and v do not depend on r: the frame's own
   * hold); toy models: the plane view [4, n, 2] / [4, n].
   */
  fields?: Float32Array;
  toy?: { plane: Float32Array; offPlane: Float32Array };
  ms: number;
}

export interface FrameDataReply {
  t: number;
  r: number;
  /** [4, n, per] at full dimension, for export. */
  fields: Float32Array;
  sampleShape: number[];
  n: number;
}

export const VizTrajectory = new RequestType<TrajectoryParams, TrajectoryReply, EngineErrorData>('viz/trajectory');
export const VizMeasure = new RequestType<MeasureParams, MeasureReply, EngineErrorData>('viz/measure');
export const VizMeasured = new NotificationType<MeasuredParams>('viz/measured');
export const VizFieldsAt = new RequestType<FieldsAtParams, FieldsAtReply, EngineErrorData>('viz/fieldsAt');
export const VizConsistency = new RequestType<{ trajectoryId: string; fineSteps: number; progressToken?: string }, { relativeError: number[]; ms: number },
  EngineErrorData>('viz/consistency');
export const VizFrameData = new RequestType<{ trajectoryId: string; frame: number }, FrameDataReply, EngineErrorData>('viz/frameData');
