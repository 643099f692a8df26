// Every message between the extension host and the checkpoint inspector webview, in one
// place, validated on both sides (zod, src/shared/channel.ts). The summary keeps the part of
// src/core/checkpoint/inspect/types.ts that the panel shows; TypeChecks below proves at compile
// time that every core summary and statistic passes these schemas (the distances are checked in
// src/extension/inspector/inspectorEditor.ts: their core module uses Node timers, which the
// webview's compile does not know).
import { z } from 'zod';
import { MAX_BATCH, MAX_BATCH_SIZES, MAX_RUNS } from '../../core/benchPlan';
import type { PmfModelInfo } from '../../core/checkpoint/types';
import type { CheckpointSummary, TensorStats } from '../../core/checkpoint/inspect/types';
import type { Assert, Extends } from './common';

/**
 * A float that may be NaN or infinite (the statistics of an all-NaN tensor, the distance to an
 * all-zero one). Webview messages travel as JSON, which has no such numbers: the host's parse
 * turns them into null, and null is what the webview gets.
 */
const Float = z.preprocess((v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), z.number().nullable());

const TensorSpec = z.object({
  name: z.string(),
  elemType: z.string(),
  dims: z.array(z.union([z.number(), z.string(), z.null()])),
  unknownRank: z.boolean().optional(),
});

export const TensorEntry = z.object({
  name: z.string(),
  dtype: z.string(),
  shape: z.array(z.number()),
  numel: z.number(),
  data: z.object({ offset: z.number(), byteLength: z.number(), file: z.string().optional() }).optional(),
  note: z.string().optional(),
  usedBy: z.array(z.string()).optional(),
});
export type TensorEntry = z.infer<typeof TensorEntry>;

export const Finding = z.object({
  severity: z.enum(['info', 'warning', 'danger']),
  message: z.string(),
});
export type Finding = z.infer<typeof Finding>;

const Scalar = z.union([z.number(), z.string(), z.boolean()]);

/**
 * The part of a validated checkpoint's PmfModelInfo (src/core/checkpoint/types.ts) that the
 * inspector shows; zod drops the rest (the toy embedding, the metadata again, ...) on the way.
 */
export const ContractInfo = z.object({
  formatVersion: z.number(),
  name: z.string(),
  prediction: z.enum(['x', 'u']),
  declaredPrediction: z.enum(['x', 'u', 'v']),
  modelType: z.enum(['mean-flow', 'flow-matching']),
  guidance: z.enum(['inputs', 'two-pass', 'none']),
  defaultSolver: z.enum(['euler', 'heun']).optional(),
  kind: z.enum(['image', 'toy']),
  imageSize: z.number().optional(),
  channels: z.number().optional(),
  patchSize: z.number().optional(),
  dim: z.number().optional(),
  numClasses: z.number(),
  classNames: z.array(z.string()),
  inputs: z.array(z.string()),
  hasCfg: z.boolean(),
  defaultSampling: z.object({ steps: z.number(), omega: z.number(), tMin: z.number(), tMax: z.number() }),
  noiseScale: z.number(),
  tEps: z.number(),
  dataRange: z.tuple([z.number(), z.number()]),
  training: z.record(z.string(), z.unknown()),
});
export type ContractInfo = z.infer<typeof ContractInfo>;

/** What every summary holds, whatever the format (SummaryCommon of the core). */
const SummaryCommon = {
  fileName: z.string(),
  fileSize: z.number(),
  tensors: z.array(TensorEntry),
  totalParams: z.number(),
  paramsByDtype: z.record(z.string(), z.number()),
  metadata: z.record(z.string(), z.string()),
  architecture: z.object({
    family: z.enum(['pmfDiT-official', 'pmfDiT', 'toy-mlp', 'unknown']),
    label: z.string().optional(),
    config: z.record(z.string(), Scalar),
    basis: z.string(),
  }),
  findings: z.array(Finding),
};

const OnnxDetails = z.object({
  irVersion: z.number(),
  producer: z.string(),
  opsets: z.array(z.object({ domain: z.string(), version: z.number() })),
  nodeCount: z.number(),
  opCounts: z.record(z.string(), z.number()),
  inputs: z.array(TensorSpec),
  outputs: z.array(TensorSpec),
  contract: z.union([
    z.object({ ok: z.literal(true), info: ContractInfo }),
    z.object({ ok: z.literal(false), code: z.string(), message: z.string() }),
  ]),
});

const PickleDetails = z.object({
  layout: z.enum(['zip', 'torchscript', 'legacy']),
  protocol: z.number(),
  globals: z.array(z.object({ module: z.string(), name: z.string(), allowed: z.boolean() })),
  tensorPath: z.string(),
  topLevel: z.record(z.string(), z.string()),
});

/** A checkpoint's summary, keyed on its format as CheckpointSummary is (FormatDetails of the core). */
export const Summary = z.discriminatedUnion('format', [
  z.object({ format: z.literal('onnx'), ...SummaryCommon, onnx: OnnxDetails }),
  z.object({ format: z.literal('safetensors'), ...SummaryCommon }),
  z.object({ format: z.literal('pytorch'), ...SummaryCommon, pickle: PickleDetails }),
]);
export type Summary = z.infer<typeof Summary>;

export const Stats = z.object({
  count: z.number(),
  min: Float,
  max: Float,
  mean: Float,
  std: Float,
  absMax: Float,
  nan: z.number(),
  inf: z.number(),
  zeros: z.number(),
  histogram: z.object({ lo: Float, hi: Float, counts: z.array(z.number()) }),
});
export type Stats = z.infer<typeof Stats>;

/** How far a tensor is from its namesake in the file it is compared with (core/checkpoint/inspect/compare.ts). */
export const Diff = z.object({
  count: z.number(),
  nonFinite: z.number(),
  relative: Float,
  maxAbs: z.number(),
  cosine: Float,
  identical: z.boolean(),
});
export type Diff = z.infer<typeof Diff>;

/** What the host offers for this file. */
export const Actions = z.object({
  /** A runnable pMF checkpoint: Generate Samples and the Field Visualizer can open it. */
  run: z.boolean(),
  /** An official pMF checkpoint: the convert-official command line can be copied. */
  convert: z.boolean(),
});
export type Actions = z.infer<typeof Actions>;

const ProviderName = z.enum(['cuda', 'webgpu', 'cpu']);
const Seconds = z.number().nonnegative();

/**
 * "Benchmark here": the checkpoint's one-step latency on each execution provider the machine
 * offers (src/node/benchmarkHere.ts, BenchResult; zod keeps the part the panel shows).
 */
export const BenchResult = z.object({
  modelName: z.string(),
  omega: z.number(),
  runs: z.number().int().positive(),
  batches: z.array(z.number().int().positive()),
  onnxruntimeVersion: z.string(),
  platform: z.string(),
  cpu: z.string(),
  providers: z.array(z.object({
    provider: ProviderName,
    ok: z.boolean(),
    error: z.string().optional(),
    loadS: Seconds.optional(),
    alreadyLoaded: z.boolean().optional(),
    modelCache: z.object({ state: z.enum(['hit', 'written', 'unused']), reason: z.string().optional() }).optional(),
    rssBytes: z.number().nonnegative().optional(),
  })),
  /** One per provider x batch. */
  rows: z.array(z.object({
    provider: ProviderName,
    batch: z.number().int().positive(),
    ok: z.boolean(),
    error: z.string().optional(),
    loadS: Seconds.optional(),
    medianS: Seconds.optional(),
    minS: Seconds.optional(),
    imagesPerS: z.number().nonnegative().optional(),
  })),
  notOffered: z.array(z.object({ provider: ProviderName, reason: z.string() })),
  notes: z.array(z.string()),
});
export type BenchResult = z.infer<typeof BenchResult>;

/** One tensor of this file against its namesake there (`other`); diff, or why not. */
export const DiffMessage = z.object({ type: z.literal('diff'), index: z.number().int().nonnegative(), other: z.string(), transposed: z.boolean(),
  diff: Diff.optional(), error: z.string().optional() });

/** Compile-time: what the core produces always passes the schemas that carry it (src/shared/protocol/common.ts). */
export type TypeChecks = [
  Assert<Extends<CheckpointSummary, z.input<typeof Summary>>>,
  Assert<Extends<PmfModelInfo, z.input<typeof ContractInfo>>>,
  Assert<Extends<TensorStats, z.input<typeof Stats>>>,
];

/** Host -> webview. */
export const ToWebview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('loading'), fileName: z.string() }),
  z.object({ type: z.literal('summary'), summary: Summary, actions: Actions, ms: z.number() }),
  /** The file cannot be inspected; `findings` are the danger findings of a file refused as unsafe. */
  z.object({ type: z.literal('error'), fileName: z.string(), message: z.string(), findings: z.array(Finding).optional() }),
  z.object({ type: z.literal('stats'), index: z.number().int().nonnegative(), stats: Stats }),
  z.object({ type: z.literal('statsError'), index: z.number().int().nonnegative(), message: z.string() }),
  /** Statistics: tensors done of all; bytesDone/bytesTotal while a large read goes on. */
  z.object({ type: z.literal('progress'), done: z.number().int().nonnegative(), total: z.number().int().nonnegative(),
    bytesDone: z.number().nonnegative().optional(), bytesTotal: z.number().nonnegative().optional(),
    running: z.boolean() }),
  /** A comparison with another checkpoint begins: what pairs up, what does not. */
  z.object({ type: z.literal('compare'), fileName: z.string(), pairs: z.number().int().nonnegative(),
    onlyHere: z.array(z.number().int().nonnegative()), onlyThere: z.array(z.string()),
    /** The other file's danger and warning findings, shown with the comparison. */
    otherFindings: z.array(Finding) }),
  DiffMessage,
  z.object({ type: z.literal('compareProgress'), done: z.number().int().nonnegative(), total: z.number().int().nonnegative(),
    running: z.boolean() }),
  z.object({ type: z.literal('compareError'), message: z.string() }),
  /** Benchmark here: what it is doing (generations done of all), while running; running false when it ended. */
  z.object({ type: z.literal('benchProgress'), message: z.string(), done: z.number().int().nonnegative(),
    total: z.number().int().nonnegative(), running: z.boolean() }),
  z.object({ type: z.literal('bench'), result: BenchResult }),
  /** The benchmark could not run at all (the engine did not start, the workspace is not trusted, ...). */
  z.object({ type: z.literal('benchError'), message: z.string() }),
]);
export type ToWebview = z.infer<typeof ToWebview>;

/** Webview -> host. */
export const FromWebview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  /** Statistics of these tensors (indices into summary.tensors), in order. */
  z.object({ type: z.literal('stats'), indices: z.array(z.number().int().nonnegative()).max(1_000_000) }),
  z.object({ type: z.literal('cancel') }),
  z.object({ type: z.literal('action'), action: z.enum(['generate', 'visualize', 'exploreGuidance', 'copyConvert', 'reload', 'showFormatDoc', 'compare']) }),
  /** Stops a comparison in progress. */
  z.object({ type: z.literal('cancelCompare') }),
  /** Benchmark here: the checkpoint's latency on every provider the machine offers (default batches 1 and 4, 5 runs). */
  z.object({ type: z.literal('benchmark'),
    batches: z.array(z.number().int().min(1).max(MAX_BATCH)).min(1).max(MAX_BATCH_SIZES).optional(),
    runs: z.number().int().min(1).max(MAX_RUNS).optional() }),
  z.object({ type: z.literal('cancelBenchmark') }),
]);
export type FromWebview = z.infer<typeof FromWebview>;
