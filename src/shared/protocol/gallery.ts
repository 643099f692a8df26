// Every message between the extension host and the gallery webview, in one place, with
// runtime validation on both sides (zod, src/shared/channel.ts). Images cross as PNG bytes
// (Uint8Array), not JSON.
import { z } from 'zod';

const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected PNG bytes (Uint8Array)');

export const SampleView = z.object({
  index: z.number().int().nonnegative(),
  seed: z.number().int().nonnegative(),
  className: z.string(),
  png: bytes,
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  blank: z.boolean(),
  /** NaN and infinite values in the sample: when any, the tile shows their count, not the image. */
  nonFinite: z.object({ nan: z.number().int().nonnegative(), inf: z.number().int().nonnegative() }),
});
export type SampleView = z.infer<typeof SampleView>;

/** A sample of the run, known before it is generated: its tile shows class and seed until the image comes. */
export const PlannedSample = z.object({
  index: z.number().int().nonnegative(),
  seed: z.number().int().nonnegative(),
  className: z.string(),
});
export type PlannedSample = z.infer<typeof PlannedSample>;

/**
 * Where the generation stands. While it runs, Save All and re-generate are off (the engine is
 * busy, and a save would miss samples); Copy CLI command copies the requested run's command.
 * Stopped: the gallery is the samples made (a prefix), and the command reproduces those.
 */
export const RunStatus = z.object({
  status: z.enum(['running', 'done', 'stopped', 'failed']),
  done: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  /** Generation time so far (engine). */
  ms: z.number(),
  command: z.string(),
});
export type RunStatus = z.infer<typeof RunStatus>;

export const GalleryState = z.object({
  modelName: z.string(),
  provider: z.string(),
  /**
   * The run's sampling. hasCfg: guidance inputs (Explore Guidance works on them); guided: omega
   * applies (inputs or two passes); solver: a flow-matching model's ODE solver (absent for MeanFlow);
   * noiseScale: the sampling noise scale when it is not 1 (z_1 = noiseScale * the model's noise_scale * e).
   */
  settings: z.object({ steps: z.number(), omega: z.number(), tMin: z.number(), tMax: z.number(), hasCfg: z.boolean(),
    guided: z.boolean().optional(), solver: z.enum(['euler', 'heun']).optional(), noiseScale: z.number().positive().optional() }),
  /** The image size, for the placeholders' shape. */
  imageSize: z.object({ width: z.number().int().positive(), height: z.number().int().positive() }),
  /** Every sample of the run, in order (placeholders until generated). */
  planned: z.array(PlannedSample),
  /** The samples generated so far. */
  samples: z.array(SampleView),
  run: RunStatus,
});
export type GalleryState = z.infer<typeof GalleryState>;

/** Host -> webview. */
export const ToWebview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('show'), state: GalleryState }),
  /** A batch of the run: its samples fill their placeholder tiles. */
  z.object({ type: z.literal('samples'), samples: z.array(SampleView), run: RunStatus }),
  /** The run's status changed (finished, stopped, failed). */
  z.object({ type: z.literal('run'), run: RunStatus }),
  z.object({ type: z.literal('replace'), sample: SampleView, ms: z.number() }),
  z.object({ type: z.literal('busy'), busy: z.boolean(), label: z.string().optional() }),
  z.object({ type: z.literal('error'), message: z.string() }),
  /** run: 1 when the files have their plain names, K when they carry -runK (an earlier save had those). */
  z.object({ type: z.literal('saved'), folder: z.string(), count: z.number().int(), run: z.number().int().positive() }),
]);
export type ToWebview = z.infer<typeof ToWebview>;

/** Webview -> host. */
export const FromWebview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('regenerate'), index: z.number().int().nonnegative() }),
  z.object({ type: z.literal('saveAll') }),
  z.object({ type: z.literal('copyCommand') }),
  /** Open pMF: Explore Guidance on this gallery's model (shown for a model with guidance inputs). */
  z.object({ type: z.literal('exploreGuidance') }),
]);
export type FromWebview = z.infer<typeof FromWebview>;
