// Messages of "pMF: Compare Models" (image models side by side at the same seeds and classes:
// the paper's Table 2 direction), validated on both sides (src/shared/channel.ts).
//
// A run (the page's `run`, its seq the requestId) is a job of the host: for each model, in slot
// order, a `column` event (its one-step samples and its x and u along t, 8-bit display frames)
// or a `failed` one, then its `measured` events (effective dimension of x's and u's patches
// along t, as the engine's measurement worker finishes them). The page takes only its latest
// run's events. pickModel is a request: the answer is `picked`, or nothing (the pick was
// dismissed).
import { z } from 'zod';
import { MAX_COMPARED } from '../../core/modelComparison';
import { f32, u8 } from './common';

/** 8-bit display frames (src/core/frameEncoding.ts): blocks of one sample's values, each with its range. */
export const Quantised = z.object({ data: u8, lo: f32, hi: f32 });
export type Quantised = z.infer<typeof Quantised>;

export const ClassChoice = z.union([z.literal('mixed'), z.number().int().min(0).max(100_000)]);

/** What the user chose; kept in webview state and restored by the panel serializer. */
export const CompareConfig = z.object({
  /** Bundled model names or .onnx paths, one per column. */
  models: z.array(z.string().min(1)).min(1).max(MAX_COMPARED),
  /** First seed: sample i of every model has seed + i. */
  seed: z.number().int().min(0).max(0xffffffff - 64),
  /** Samples per model. */
  samples: z.number().int().min(2).max(16),
  classChoice: ClassChoice,
  /** The frame whose x and u are shown (0: t = 1). */
  frame: z.number().int().min(0).max(64),
});
export type CompareConfig = z.infer<typeof CompareConfig>;

export const ColumnView = z.object({
  /** As in the config. */
  spec: z.string(),
  /** "x-pred, patch 4x4 (dim 16)" */
  label: z.string(),
  /** The checkpoint's name and its sizes ("28x28 images, width 96 (patch dim < width)"). */
  name: z.string(),
  detail: z.string(),
  prediction: z.enum(['x', 'u']),
  /** A flow-matching model's samples are its ODE's z_0 (many network calls), not one step. */
  modelType: z.enum(['mean-flow', 'flow-matching']),
  patchSize: z.number().int(),
  patchDim: z.number().int(),
  sampleShape: z.array(z.number().int()),
  dataRange: z.tuple([z.number(), z.number()]),
  /** The sampling every sample uses: the model's defaults. */
  sampling: z.object({ omega: z.number(), tMin: z.number(), tMax: z.number() }),
  metrics: z.object({ fd: z.number().optional(), classConsistency: z.number().optional() }).optional(),
  classNames: z.array(z.string()),
  /** Each sample's class (empty: unconditional). */
  labels: z.array(z.number().int()),
  provider: z.string(),
});
export type ColumnView = z.infer<typeof ColumnView>;

export const ColumnResult = z.object({
  requestId: z.number().int(),
  slot: z.number().int().min(0).max(MAX_COMPARED - 1),
  view: ColumnView,
  times: z.array(z.number()),
  n: z.number().int(),
  /** x and u at every frame, [frames, n, per] each; frame 0's x are the one-step samples x(z_1, 0, 1). */
  x: Quantised,
  u: Quantised,
  ms: z.number(),
});
export type ColumnResult = z.infer<typeof ColumnResult>;

export const MeasuredResult = z.object({
  requestId: z.number().int(),
  slot: z.number().int().min(0).max(MAX_COMPARED - 1),
  /** Frames measured so far (of `total`); the lists hold that many entries. */
  done: z.number().int(),
  total: z.number().int(),
  patchDim: z.number().int(),
  /** Participation ratio of the model's p x p patches of x and of u, per frame. */
  dimX: z.array(z.number()),
  dimU: z.array(z.number()),
  ms: z.number(),
});
export type MeasuredResult = z.infer<typeof MeasuredResult>;

export const ToWebview = z.discriminatedUnion('type', [
  /** The config the page shows (after ready: the saved one, or the Table 2 default). */
  z.object({ type: z.literal('config'), config: CompareConfig }),
  z.object({ type: z.literal('column'), result: ColumnResult }),
  z.object({ type: z.literal('measured'), result: MeasuredResult }),
  z.object({ type: z.literal('failed'), requestId: z.number().int(), slot: z.number().int(), spec: z.string(), message: z.string() }),
  z.object({ type: z.literal('done'), requestId: z.number().int(), ms: z.number() }),
  z.object({ type: z.literal('busy'), label: z.string().optional() }),
  z.object({ type: z.literal('picked'), spec: z.string() }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type ToWebview = z.infer<typeof ToWebview>;

export const FromWebview = z.discriminatedUnion('type', [
  /** The page is up: with the config it saved, if any. */
  z.object({ type: z.literal('ready'), config: CompareConfig.optional() }),
  z.object({ type: z.literal('run'), config: CompareConfig }),
  /** Request: a model for a slot (the answer: picked), from the bundled models or an .onnx file. */
  z.object({ type: z.literal('pickModel'), slot: z.number().int().min(0).max(MAX_COMPARED) }),
  z.object({ type: z.literal('cancel') }),
]);
export type FromWebview = z.infer<typeof FromWebview>;
