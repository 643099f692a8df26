// What "pMF: Compare Models" knows about the models it puts side by side (the paper's Table 2
// direction: x- vs u-prediction at a low and a high patch dimension): the default set, how a
// model is labelled, the classes every model gets for the same seeds, the published metrics of
// its metadata (pmf.training.metrics), and the times along t its fields are shown at.
import type { PmfModelInfo } from './checkpoint/types';

/** Bundled names the panel opens on, in this order: low patch dimension first, x before u. */
export const TABLE2_MODELS = ['table2/x-p4', 'table2/u-p4', 'table2/x-p16', 'table2/u-p16'] as const;

/** Most models side by side. */
export const MAX_COMPARED = 4;

/** Frames along t - 1: the fields are shown at t = 1, 1 - 1/STEPS, ..., 0 (the v-ODE's path). */
export const COMPARE_STEPS = 8;

/** The times of the frames, from t = 1 (noise) down to 0. */
export function compareTimes(steps = COMPARE_STEPS): number[] {
  return Array.from({ length: steps + 1 }, (_, i) => 1 - i / steps);
}

/** The patch a model's network sees: its side p and dimension p * p * C. */
export function patchOf(info: Pick<PmfModelInfo, 'patchSize' | 'channels' | 'sampleShape'>): { size: number; dim: number } {
  const size = info.patchSize ?? 0;
  const C = info.channels ?? info.sampleShape[0] ?? 1;
  return { size, dim: size * size * C };
}

/** The network width (architecture.hidden_size), when the metadata says. */
export function networkWidth(info: Pick<PmfModelInfo, 'architecture'>): number | undefined {
  const w = info.architecture.hidden_size;
  return typeof w === 'number' && Number.isFinite(w) && w > 0 ? w : undefined;
}

/** "x-pred, patch 4x4 (dim 16)": what distinguishes the models of Table 2. */
export function comparisonLabel(info: Pick<PmfModelInfo, 'prediction' | 'declaredPrediction' | 'modelType' | 'patchSize' | 'channels' | 'sampleShape'>): string {
  const { size, dim } = patchOf(info);
  const pred = info.modelType === 'flow-matching' ? `flow matching (${info.declaredPrediction}-pred)` : `${info.prediction}-pred`;
  return size > 0 ? `${pred}, patch ${size}x${size} (dim ${dim})` : pred;
}

/** "28x28 images, width 96 (patch dim < width)": the sizes behind the label. */
export function comparisonDetail(info: Pick<PmfModelInfo, 'patchSize' | 'channels' | 'sampleShape' | 'architecture'>): string {
  const [, H, W] = info.sampleShape;
  const width = networkWidth(info);
  const { dim } = patchOf(info);
  const parts = [`${H}x${W} images`];
  if (width !== undefined) {
    parts.push(`width ${width}${dim > 0 ? ` (patch dim ${dim < width ? '<' : dim > width ? '>' : '='} width)` : ''}`);
  }
  return parts.join(', ');
}

export interface PublishedMetrics {
  /** Frechet distance of one-step samples to the test set, in the project's classifier features. */
  fd?: number;
  /** Share of one-step samples the classifier puts in the class they were generated for, 0..1. */
  classConsistency?: number;
}

const finite = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * pmf.training.metrics as the trainer publishes them (fd_vs_test_1nfe, class_consistency_1nfe;
 * the evaluator's fd_vs_test, class_consistency; or plain fd): undefined when there are none.
 */
export function publishedMetrics(training: Record<string, unknown>): PublishedMetrics | undefined {
  const m = training.metrics;
  if (!m || typeof m !== 'object' || Array.isArray(m)) return undefined;
  const o = m as Record<string, unknown>;
  const fd = finite(o.fd_vs_test_1nfe) ?? finite(o.fd_vs_test) ?? finite(o.fd);
  const cc = finite(o.class_consistency_1nfe) ?? finite(o.class_consistency);
  const out: PublishedMetrics = {};
  if (fd !== undefined) out.fd = fd;
  if (cc !== undefined && cc >= 0 && cc <= 1) out.classConsistency = cc;
  return out.fd === undefined && out.classConsistency === undefined ? undefined : out;
}

/** 'mixed': sample i gets class i mod numClasses; a number: every sample gets that class. */
export type ClassChoice = 'mixed' | number;

/**
 * The class of each of n samples for a model with numClasses classes: the same list for every
 * model of the comparison that has the same classes; undefined for an unconditional model. A
 * class beyond a model's classes wraps around (mod numClasses).
 */
export function comparisonLabels(numClasses: number, n: number, choice: ClassChoice): number[] | undefined {
  if (numClasses <= 0) return undefined;
  if (choice === 'mixed') return Array.from({ length: n }, (_, i) => i % numClasses);
  if (!Number.isInteger(choice) || choice < 0) throw new RangeError(`class must be a non-negative integer, got ${choice}`);
  return new Array<number>(n).fill(choice % numClasses);
}

/** The seeds of the comparison: n consecutive seeds from `seed` (sample i's noise depends on seed + i only). */
export function comparisonSeeds(seed: number, n: number): number[] {
  if (!Number.isInteger(seed) || seed < 0 || seed + n - 1 > 0xffffffff) throw new RangeError(`seeds ${seed}..${seed + n - 1} are not uint32`);
  return Array.from({ length: n }, (_, i) => seed + i);
}
