// Messages of the toy comparison panel (the paper's Fig. 2 from the bundled toy models),
// validated on both sides (src/shared/channel.ts).
import { z } from 'zod';
import { f32 } from './common';

export const ToyCell = z.object({
  name: z.string(),
  prediction: z.enum(['x', 'u']),
  dim: z.number().int(),
  /** One-step samples x(z_1, 0, 1) projected to the data plane, [n, 2]. */
  plane: f32,
  /** Mean norm of the samples' part outside the data plane. */
  offPlaneMean: z.number(),
  /** Participation ratio of the samples' point cloud (at most points - 1). */
  participationRatio: z.number(),
});
export type ToyCell = z.infer<typeof ToyCell>;

export const ToWebview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('cells'), cells: z.array(ToyCell), points: z.number().int(), ms: z.number() }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type ToWebview = z.infer<typeof ToWebview>;

export const FromWebview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('resample'), seed: z.number().int().min(0).max(0xffffffff - 4096) }),
]);
export type FromWebview = z.infer<typeof FromWebview>;
