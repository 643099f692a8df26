// Every message between the extension host and the Field Visualizer webview, validated with zod
// on both sides (src/shared/channel.ts). Field tensors cross as Float32Array or 8-bit display
// frames (binary), never JSON.
//
// Layout (src/core/fieldLayout.ts): fields are [frames, 4, n, per], for each frame the z_t, x, u, v
// of n samples; for toy models the engine sends the data-plane view instead (see ToyPlane).
// Frame f has time t = times[f] and was evaluated at r = rs[f] (x and u depend on r; v does not).
//
// Requests and their answers: fieldsAt -> fields, consistency -> consistency, exactAt -> exact
// (matched by the channel). A run is a job: its trajectory, frames and measurements are events
// carrying the run's seq as requestId.
import { z } from 'zod';
import {
  alwaysMeasured, type AlwaysMeasured, MEASUREMENTS, type SometimesMeasured,
} from '../../core/analysis/measurementTable';
import type { Measurements as CoreMeasurements, ToyPlane as CoreToyPlane } from '../../core/analysis/measurements';
import { FIELD_NAMES } from '../../core/fieldLayout';
import type { FlowSolver } from '../../core/checkpoint/types';
import { type Assert, type Equals, f32, u8 } from './common';

export { FIELD_NAMES, type FieldName } from '../../core/fieldLayout';

/**
 * Display frames, 8 bits per value (src/core/frameEncoding.ts): each block of `per` values (one
 * field of one sample) with its own finite range [lo, hi]; value = lo + q (hi - lo) / 255, within
 * (hi - lo) / 510 of the exact float32, which the host fetches from the engine on demand (hover
 * readout: `exactAt`; .npy export; the measurements run in the engine on exact values).
 */
export const Quantised = z.object({ data: u8, lo: f32, hi: f32 });
export type Quantised = z.infer<typeof Quantised>;

export const Mode = z.enum(['pmf', 'ode', 'image']);
export type Mode = z.infer<typeof Mode>;

/** A flow-matching model's ODE solver (core/flowSampler). */
export const Solver = z.enum(['euler', 'heun']);

/** What the user chose; kept in webview state and restored by the panel serializer. */
export const VizConfig = z.object({
  modelPath: z.string(),
  mode: Mode,
  /** One seed per displayed sample (side by side). */
  seeds: z.array(z.number().int().min(0).max(0xffffffff)).min(1).max(16),
  /** One class per sample (num_classes = unconditional); empty for unconditional models. */
  labels: z.array(z.number().int().min(0)),
  /** pmf: sampler steps N (frames = N + 1); ode and image: frames shown along t. */
  steps: z.number().int().min(1).max(64),
  /** ode: Euler steps of the v-ODE (a multiple of the frames is used). Flow-matching models: solver
   *  steps per unit of t (the path between frames and each z_r take ceil(odeSteps * length)). */
  odeSteps: z.number().int().min(1).max(2048),
  /** Flow-matching models: the ODE solver (the model's default when absent); MeanFlow models have none. */
  solver: Solver.optional(),
  omega: z.number().min(1),
  tMin: z.number().min(0).max(1),
  tMax: z.number().min(0).max(1),
  /** 'step': each frame's fields at the sampler step's own r (pmf and model paths; r = 0 on other
   *  paths); 'fraction': at r = rFraction * t (0: one-step end point, 1: the denoiser r = t). */
  rMode: z.enum(['step', 'fraction']),
  rFraction: z.number().min(0).max(1),
  /** image mode: start time and which path to follow from z_t0. */
  tStart: z.number().min(0).max(1),
  imagePath: z.enum(['straight', 'model']),
  noiseSeed: z.number().int().min(0).max(0xffffffff),
  patchSize: z.number().int().min(2).max(32),
});
export type VizConfig = z.infer<typeof VizConfig>;

export const ModelView = z.object({
  name: z.string(),
  path: z.string(),
  kind: z.enum(['image', 'toy']),
  prediction: z.enum(['x', 'u']),
  numClasses: z.number().int(),
  classNames: z.array(z.string()),
  hasCfg: z.boolean(),
  /** 'mean-flow': a network of (z, r, t); 'flow-matching': of (z, t) only, its u and x from its ODE (core/flowTrajectory). */
  modelType: z.enum(['mean-flow', 'flow-matching']),
  /** How the model guides: CFG inputs, two network passes (flow matching), or not at all. */
  guidance: z.enum(['inputs', 'two-pass', 'none']),
  /** Flow-matching models: the solver pmf.default_sampling names, and its steps. */
  flow: z.object({ solver: Solver, steps: z.number().int().min(1) }).optional(),
  sampleShape: z.array(z.number().int()),
  dataRange: z.tuple([z.number(), z.number()]),
  /** toy models: D x 2 embedding of the data plane. */
  embedding: z.array(z.array(z.number())).optional(),
  provider: z.string(),
});
export type ModelView = z.infer<typeof ModelView>;

/** One measurement along t: for each field, an array entry per frame (measured so far). */
const Series = z.record(z.enum(FIELD_NAMES), z.array(z.number()));

type SeriesShape = { [K in AlwaysMeasured]: typeof Series } & { [K in SometimesMeasured]: z.ZodOptional<typeof Series> };

/**
 * A schema for each measurement of MEASUREMENTS (src/core/analysis/measurementTable.ts), optional
 * for those only some kinds of model have (offPlaneNorm: toys). The type is asserted here; the
 * TypeChecks below and test/core/measurementTable.test.ts check that it is the table's.
 */
function seriesShape(): SeriesShape {
  const shape: Record<string, z.ZodType> = {};
  for (const spec of MEASUREMENTS) shape[spec.key] = alwaysMeasured(spec) ? Series : Series.optional();
  return shape as SeriesShape;
}

/**
 * Per-frame measurements along t, one array entry per frame (measured so far), for each
 * measurement of MEASUREMENTS; patchDim, the dimension of a patch (p * p * C: the largest possible
 * participation ratio or number of components); ms, the time measuring took (see SCALARS).
 */
export const Measurements = z.object({
  ...seriesShape(),
  patchDim: z.number().int(),
  ms: z.number(),
});
export type Measurements = z.infer<typeof Measurements>;

/** Toy models: points projected to the data plane (P^T p) and their off-plane norms. */
export const ToyPlane = z.object({
  /** [frames, 4, n, 2] */
  plane: f32,
  /** [frames, 4, n] */
  offPlane: f32,
});
export type ToyPlane = z.infer<typeof ToyPlane>;

/** Compile-time: these schemas are the core types exactly (src/shared/protocol/common.ts). */
export type TypeChecks = [Assert<Equals<Measurements, CoreMeasurements>>, Assert<Equals<ToyPlane, CoreToyPlane>>,
  Assert<Equals<z.infer<typeof Solver>, FlowSolver>>];

export const TrajectoryResult = z.object({
  requestId: z.number().int(),
  mode: Mode,
  times: z.array(z.number()),
  rs: z.array(z.number()),
  n: z.number().int(),
  sampleShape: z.array(z.number().int()),
  /**
   * image models: the fields of the first frames, [k, 4, n, per] with 1 <= k <= frames; the
   * rest follow in `frames` messages (a 256 x 256 model's trajectory is hundreds of MB). Absent
   * for toys (see toy).
   */
  fields: f32.optional(),
  /** The same first frames as 8-bit display frames (sent instead of fields by the host). */
  q8: Quantised.optional(),
  toy: ToyPlane.optional(),
  ms: z.number(),
});
export type TrajectoryResult = z.infer<typeof TrajectoryResult>;

/** More frames of the trajectory of run `requestId`: frames start.. as [k, 4, n, per]. */
export const FramesResult = z.object({
  requestId: z.number().int(),
  start: z.number().int().min(1),
  /** float32 frames, or (as the host sends them) q8: 8-bit display frames. One of the two. */
  fields: f32.optional(),
  q8: Quantised.optional(),
});
export type FramesResult = z.infer<typeof FramesResult>;

/**
 * The measurements of the trajectory of run `requestId`, computed after its fields arrive: the
 * first `done` of `total` frames (each series has `done` entries, in frame order).
 */
export const MeasurementsResult = z.object({
  requestId: z.number().int(),
  done: z.number().int().min(0),
  total: z.number().int().min(0),
  measurements: Measurements,
});
export type MeasurementsResult = z.infer<typeof MeasurementsResult>;

/** Fields of one frame at another r (the r slider): the answer to fieldsAt. */
export const FieldsResult = z.object({
  frame: z.number().int(),
  t: z.number(),
  r: z.number(),
  /** image models: x and u at r, [2, n, per] (z and v are the frame's own: they do not depend on r). */
  fields: f32.optional(),
  /** x and u at r as 8-bit display values (sent instead of fields by the host). */
  q8: Quantised.optional(),
  toy: ToyPlane.optional(),
  ms: z.number(),
});
export type FieldsResult = z.infer<typeof FieldsResult>;

/** MeanFlow consistency per frame: |u(z_t, r, t) - mean of v over [r, t]| / |mean of v|. */
export const ConsistencyResult = z.object({
  relativeError: z.array(z.number()),
  fineSteps: z.number().int(),
  ms: z.number(),
});
export type ConsistencyResult = z.infer<typeof ConsistencyResult>;

/** Host -> webview. */
export const ToWebview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('init'), model: ModelView, config: VizConfig, models: z.array(z.object({ name: z.string(), path: z.string() })),
    /** Why the defaults are what they are (costDefaults' reason), shown in the panel. */
    defaultsNote: z.string().optional() }),
  /** Exact float32 values of one pixel of one sample at a frame: values[field][channel] (z, x, u, v). */
  z.object({ type: z.literal('exact'), frame: z.number().int(), sample: z.number().int(), x: z.number().int(), y: z.number().int(),
    values: z.array(z.array(z.number())) }),
  z.object({ type: z.literal('trajectory'), result: TrajectoryResult }),
  z.object({ type: z.literal('frames'), result: FramesResult }),
  z.object({ type: z.literal('measurements'), result: MeasurementsResult }),
  z.object({ type: z.literal('fields'), result: FieldsResult }),
  z.object({ type: z.literal('consistency'), result: ConsistencyResult }),
  z.object({ type: z.literal('image'), name: z.string(), preview: f32, sampleShape: z.array(z.number().int()),
    /** What was changed to fit the model (size, colour), shown to the user. */
    notice: z.string().optional() }),
  z.object({ type: z.literal('busy'), busy: z.boolean(), label: z.string().optional() }),
  z.object({ type: z.literal('error'), message: z.string() }),
  z.object({ type: z.literal('exported'), path: z.string() }),
]);
export type ToWebview = z.infer<typeof ToWebview>;

/** Webview -> host. */
export const FromWebview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  /** Compute the trajectory for a config and measure it (only measure it again when just the patch size changed). */
  z.object({ type: z.literal('run'), config: VizConfig }),
  /** Fields of frame `frame` of the last trajectory at r = rFraction * t. */
  z.object({ type: z.literal('fieldsAt'), frame: z.number().int().min(0), rFraction: z.number().min(0).max(1) }),
  z.object({ type: z.literal('consistency'), fineSteps: z.number().int().min(2).max(256) }),
  /** Stop the trajectory, the frames on their way, the measurements and the consistency check. */
  z.object({ type: z.literal('cancel') }),
  /** Switch model (keeps what applies of the config). */
  z.object({ type: z.literal('pickModel') }),
  /** Ask the host for a PNG / JPEG to use in image mode (a file dialog). */
  z.object({ type: z.literal('pickImage') }),
  /** A real image dropped on the panel (encoded file bytes). */
  z.object({ type: z.literal('dropImage'), name: z.string(), bytes: z.custom<Uint8Array>((v) => v instanceof Uint8Array) }),
  /** Save the panel strip (PNG bytes rendered by the webview). */
  z.object({ type: z.literal('exportPng'), png: z.custom<Uint8Array>((v) => v instanceof Uint8Array) }),
  /** Save the trajectory as an animation (host renders it with sharp). */
  z.object({ type: z.literal('exportAnimation'), format: z.enum(['gif', 'webp']), field: z.enum(FIELD_NAMES) }),
  /** Save the fields of one frame as .npy (z, x, u, v). */
  z.object({ type: z.literal('exportNpy'), frame: z.number().int().min(0) }),
  /** Exact values of a pixel (the hover readout; the panels show 8-bit display values). */
  z.object({ type: z.literal('exactAt'), frame: z.number().int().min(0), sample: z.number().int().min(0),
    x: z.number().int().min(0), y: z.number().int().min(0) }),
  /** The webview's timing of a round trip it measured (r slider -> pixels drawn), for the bench. */
  z.object({ type: z.literal('timing'), name: z.string(), ms: z.number() }),
]);
export type FromWebview = z.infer<typeof FromWebview>;

/**
 * The first config for a model. `cost` (src/core/costDefaults.ts) fits the steps, samples and
 * patch size to the model's cost per image; without it, 4 samples of the 16-step trajectory.
 */
export function defaultConfig(modelPath: string, numClasses: number, defaults: { omega: number; tMin: number; tMax: number },
  cost?: { steps: number; samples: number; patchSize: number }, flow?: { solver: FlowSolver; steps: number }): VizConfig {
  const n = Math.max(1, Math.min(16, cost?.samples ?? 4));
  const seeds = Array.from({ length: n }, (_, i) => i);
  const base: VizConfig = {
    modelPath, mode: 'pmf', seeds,
    labels: numClasses > 0 ? seeds.map((i) => i % numClasses) : [],
    steps: Math.max(1, Math.min(64, cost?.steps ?? 16)), odeSteps: 128, omega: defaults.omega, tMin: defaults.tMin, tMax: defaults.tMax,
    rMode: 'step', rFraction: 0, tStart: 0.7, imagePath: 'straight', noiseSeed: 0, patchSize: Math.max(2, Math.min(32, cost?.patchSize ?? 4)),
  };
  // a flow-matching model: its ODE with the model's own solver and steps, u and x down to r = 0
  return flow ? { ...flowConfig(base, flow), odeSteps: Math.max(1, Math.min(2048, flow.steps)) } : base;
}

/**
 * What a flow-matching model's trajectory can be: its ODE (mode 'ode'), u and x at r = rFraction t
 * from the ODE solution (rMode 'fraction': the network has no r, so no step's own r), a solver.
 */
export function flowConfig(c: VizConfig, flow: { solver: FlowSolver }): VizConfig {
  return { ...c, mode: 'ode', rMode: 'fraction', solver: c.solver ?? flow.solver };
}
