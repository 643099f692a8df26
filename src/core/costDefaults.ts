// Defaults that fit a model's cost: how many samples and steps the Field Visualizer starts with,
// and how many images Generate Samples suggests in how large batches. pMF is one-step: an
// expensive model starts at its own default steps (1 for the official models) and a long
// trajectory is there on request; a cheap model (the bundled ones) keeps the 16-step trajectory,
// which it computes in well under a second. Pure: the cost comes from the pmf.architecture
// metadata (ditFlopsPerImage) or, without it, from the image size.
import { ditFlopsPerImage } from './checkpoint/inspect/architecture';

/** What the policy needs to know of a model (a subset of PmfModelInfo). */
export interface CostModelInfo {
  kind: 'image' | 'toy';
  sampleShape: number[];
  patchSize?: number;
  defaultSampling: { steps: number };
  architecture: Record<string, unknown>;
}

export interface CostDefaults {
  /** Floating-point operations of one network evaluation of one image. */
  flopsPerImage: number;
  /** Where that figure comes from. */
  costSource: 'architecture' | 'image size' | 'toy';
  /** Field Visualizer: sampler steps (frames = steps + 1) and samples shown side by side. */
  vizSteps: number;
  vizSamples: number;
  /** Field Visualizer: p of the p x p patches measured (the model's own patch size when it fits). */
  vizPatchSize: number;
  /** Generate Samples: suggested count and batch size. */
  generateCount: number;
  generateBatch: number;
  /** Why, for people: "1 step: this model costs 66.7 GFLOP per image; more steps on request". */
  reason: string;
}

/**
 * Network work the Field Visualizer's first trajectory may take: about 2 s of a 2-core laptop
 * CPU (tens of GFLOP/s with onnxruntime). A trajectory of N steps and n samples costs
 * (N + 1) frames x 2n rows (x, u at the frame's r and v at r = t) x the cost per image.
 */
export const VIZ_BUDGET_FLOP = 150e9;
/** Generate Samples: the suggested count costs at most this much (one step each). */
export const GENERATE_BUDGET_FLOP = 2e12;
/** The trajectory the cheap models get. */
export const LONG_STEPS = 16;
export const MAX_SAMPLES = 4;
/** Cost per pixel of pMF-B/16 (66.7 GFLOP for 256 x 256), used when the architecture is unknown. */
const FLOP_PER_PIXEL_FALLBACK = 66.7e9 / (256 * 256);

function flatten(obj: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, `${prefix}${k}.`, out);
    else out[prefix + k] = v;
  }
  return out;
}

/** The cost of one image and where it comes from. */
export function costPerImage(info: CostModelInfo): { flops: number; source: CostDefaults['costSource'] } {
  if (info.kind === 'toy') return { flops: 1e6 * Math.max(1, info.sampleShape[0] ?? 1), source: 'toy' };
  const flat = flatten(info.architecture ?? {});
  if (flat.patch_size === undefined && info.patchSize) flat.patch_size = info.patchSize;
  const fromArch = ditFlopsPerImage(flat as Record<string, number | string | boolean>);
  if (fromArch !== undefined && Number.isFinite(fromArch) && fromArch > 0) return { flops: fromArch, source: 'architecture' };
  const [, H = 1, W = 1] = info.sampleShape;
  return { flops: FLOP_PER_PIXEL_FALLBACK * H * W, source: 'image size' };
}

/** "66.7 GFLOP", "3.1 MFLOP". */
export function formatFlops(f: number): string {
  const units: Array<[number, string]> = [[1e12, 'TFLOP'], [1e9, 'GFLOP'], [1e6, 'MFLOP'], [1e3, 'kFLOP']];
  for (const [u, name] of units) if (f >= u) return `${(f / u).toPrecision(3).replace(/\.?0+$/, '')} ${name}`;
  return `${Math.round(f)} FLOP`;
}

/** The network work of a Field Visualizer trajectory (pmf mode, fields at the steps' r). */
export function trajectoryFlops(flopsPerImage: number, steps: number, samples: number): number {
  return (steps + 1) * 2 * samples * flopsPerImage;
}

export function costDefaults(info: CostModelInfo): CostDefaults {
  const { flops, source } = costPerImage(info);
  const modelSteps = Math.max(1, Math.min(64, Math.floor(info.defaultSampling?.steps ?? 1)));
  const cheap = trajectoryFlops(flops, Math.max(LONG_STEPS, modelSteps), MAX_SAMPLES) <= VIZ_BUDGET_FLOP;
  const vizSteps = cheap ? Math.max(LONG_STEPS, modelSteps) : modelSteps;
  const fit = Math.floor(VIZ_BUDGET_FLOP / trajectoryFlops(flops, vizSteps, 1));
  const vizSamples = Math.max(1, Math.min(MAX_SAMPLES, fit));
  const [, H = 0, W = 0] = info.sampleShape;
  const p = info.patchSize;
  const vizPatchSize = info.kind === 'image' && p && p >= 2 && p <= 32 && p <= Math.min(H, W) ? p
    : Math.max(2, Math.min(4, H || 4, W || 4));
  const genCost = flops * modelSteps;
  const generateCount = Math.max(1, Math.min(64, Math.floor(GENERATE_BUDGET_FLOP / genCost)));
  // a batch of expensive images holds a lot of activations and gives no speed-up on a CPU
  const generateBatch = Math.max(1, Math.min(16, generateCount, Math.floor(VIZ_BUDGET_FLOP / flops)));
  const cost = `this model costs ${formatFlops(flops)} per image${source === 'image size' ? ' (estimated from its image size)' : ''}`;
  const reason = cheap
    ? `${vizSteps} steps, ${vizSamples} samples: ${cost}, so the whole trajectory takes well under a second`
    : `${vizSteps} step${vizSteps === 1 ? '' : 's'}${vizSamples < MAX_SAMPLES ? `, ${vizSamples} sample${vizSamples === 1 ? '' : 's'}` : ''}: ` +
      `${cost}; more steps on request`;
  return { flopsPerImage: flops, costSource: source, vizSteps, vizSamples, vizPatchSize, generateCount, generateBatch, reason };
}
