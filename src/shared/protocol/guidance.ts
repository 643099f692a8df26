// Every message between the extension host and the Explore Guidance webview, validated with zod on
// both sides (src/shared/channel.ts). Images cross as 8-bit pixels (binary), never JSON.
//
// pMF's guidance is an input of the network: omega, t_min and t_max go in, one evaluation makes
// an image (docs: /README "Explore guidance"). The grid is rows of omega by columns of seeds
// (one interval for every cell) or of intervals (one seed and class for every cell); the page owns
// it (GuidanceConfig, kept with setState) and asks the host for the cells it needs (`cells`, a
// request answered with `images`): only the cells a slider changed, one request in flight.
// The seed walk and the class switch are strips (`strip` -> `images`). The metric sweep is a job of
// the host (FD and class-consistency against omega, node/guidanceSweep.ts); its state reaches the
// page as `sweep` events, whole each time (a handful of rows).
import { z } from 'zod';
import type { SamplingSettings } from '../../core/checkpoint/types';
import type { NOISE_SCALE_RANGE as ENGINE_NOISE_SCALE_RANGE } from '../../engine/protocol';
import { type Assert, type Equals, type Extends, u8 } from './common';

const seed = z.number().int().min(0).max(0xffffffff);
const classIndex = z.number().int().min(0);

/** The most rows (omegas) and columns of the grid. */
export const MAX_ROWS = 8;
export const MAX_COLUMNS = 12;
/** omega's range on the slider (1: no guidance). */
export const OMEGA_MAX = 10;
/** The noise scale multiplies z_1 (1: the model's own noise); its slider's range (the engine's, TypeChecks). */
export const NOISE_SCALE_RANGE = [0.5, 1.5] as const;
/** Samples per omega the sweep offers (the first is the default: cheap, and said in the panel). */
export const SWEEP_COUNTS = [1024, 2048, 4096, 10000] as const;

export const Interval = z.object({ tMin: z.number().min(0).max(1), tMax: z.number().min(0).max(1) })
  .refine((i) => i.tMin <= i.tMax, 'the interval needs t_min <= t_max');
export type Interval = z.infer<typeof Interval>;

/** What the user chose; kept in webview state and restored by the panel serializer. */
export const GuidanceConfig = z.object({
  modelPath: z.string(),
  /** One omega per row. */
  omegas: z.array(z.number().min(1).max(OMEGA_MAX)).min(1).max(MAX_ROWS),
  /** What the columns vary: the seed (and class), or the guidance interval [t_min, t_max]. */
  columns: z.enum(['seeds', 'intervals']),
  /** One seed per column (columns = seeds); columns = intervals: every cell takes seeds[0]. */
  seeds: z.array(seed).min(1).max(MAX_COLUMNS),
  /** Column c's class is classes[c mod length] (columns = intervals: classes[0]); empty for unconditional models. */
  classes: z.array(classIndex).max(MAX_COLUMNS),
  /** columns = seeds: every cell's interval. */
  interval: Interval,
  /** columns = intervals: one per column. */
  intervals: z.array(Interval).min(1).max(MAX_COLUMNS),
  /** z_1 = noiseScale * (the model's noise_scale) * e: 1 is what the model was trained on. */
  noiseScale: z.number().min(NOISE_SCALE_RANGE[0]).max(NOISE_SCALE_RANGE[1]),
  steps: z.number().int().min(1).max(16),
  /** The cell the sliders, the seed walk and "Use these settings" are about. */
  selected: z.object({ row: z.number().int().min(0), col: z.number().int().min(0) }),
  /** The seed walk's other end, and its number of images. */
  walk: z.object({ seedB: seed, count: z.number().int().min(3).max(12) }),
  /** Samples per omega of the metric sweep. */
  sweepCount: z.number().int().min(64).max(50000),
});
export type GuidanceConfig = z.infer<typeof GuidanceConfig>;

/** One image to make: its guidance, noise seed and class. */
export const Cell = z.object({
  omega: z.number().min(1).max(OMEGA_MAX),
  tMin: z.number().min(0).max(1),
  tMax: z.number().min(0).max(1),
  seed,
  /** num_classes = unconditional; absent for unconditional models. */
  label: classIndex.optional(),
});
export type Cell = z.infer<typeof Cell>;

/** n images, 8-bit, [n, H, W, C] interleaved, in the order they were asked for. */
export const Images = z.object({
  pixels: u8,
  n: z.number().int().min(0),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  channels: z.number().int().positive(),
  /** Engine time (generation) and the host's whole time for the answer. */
  engineMs: z.number(),
  ms: z.number(),
});
export type Images = z.infer<typeof Images>;

export const ModelView = z.object({
  name: z.string(),
  path: z.string(),
  /** How `pmf` names it: the bundled name, or the path. */
  spec: z.string(),
  provider: z.string(),
  numClasses: z.number().int(),
  classNames: z.array(z.string()),
  sampleShape: z.array(z.number().int()),
  defaultSampling: z.object({ steps: z.number().int(), omega: z.number(), tMin: z.number(), tMax: z.number() }),
});
export type ModelView = z.infer<typeof ModelView>;

/** What the metric sweep scores with: found for the bundled model, else picked when it starts. */
export const EvaluatorView = z.object({
  /** The feature network and reference are known (no questions when the sweep starts). */
  ready: z.boolean(),
  description: z.string(),
});
export type EvaluatorView = z.infer<typeof EvaluatorView>;

export const SweepRowView = z.object({
  omega: z.number(),
  tMin: z.number(),
  tMax: z.number(),
  fd: z.number(),
  classConsistency: z.number().optional(),
  seconds: z.number(),
  /** Samples read back from the setting's state file. */
  resumed: z.number().int(),
});
export type SweepRowView = z.infer<typeof SweepRowView>;

/** The metric sweep as the page shows it. */
export const SweepView = z.object({
  status: z.enum(['idle', 'running', 'done', 'stopped', 'failed']),
  /** The settings planned (omega outermost), samples per setting, and the seed of sample 0. */
  settings: z.array(z.object({ omega: z.number(), tMin: z.number(), tMax: z.number() })),
  n: z.number().int(),
  seed: z.number().int(),
  rows: z.array(SweepRowView),
  /** Index in rows of the lowest FD. */
  best: z.number().int().optional(),
  /** The setting under way and its samples done. */
  progress: z.object({ setting: z.number().int(), done: z.number().int(), total: z.number().int() }).optional(),
  /** The feature network and reference statistics used (names). */
  net: z.string().optional(),
  reference: z.string().optional(),
  message: z.string().optional(),
});
export type SweepView = z.infer<typeof SweepView>;

/**
 * The workspace's defaults for a model as "Use these settings" saved them: the sampling settings
 * and the noise scale (absent in entries saved before it was; absent or 1: the model's own noise).
 */
export const SavedDefaults = z.object({
  steps: z.number().int().min(1),
  omega: z.number().min(1),
  tMin: z.number().min(0).max(1),
  tMax: z.number().min(0).max(1),
  noiseScale: z.number().min(NOISE_SCALE_RANGE[0]).max(NOISE_SCALE_RANGE[1]).optional(),
});
export type SavedDefaults = z.infer<typeof SavedDefaults>;

/** Compile-time: the schemas agree with the core and node types they carry. */
export type TypeChecks = [
  Assert<Equals<Omit<SavedDefaults, 'noiseScale'>, SamplingSettings>>,
  Assert<Equals<typeof NOISE_SCALE_RANGE, typeof ENGINE_NOISE_SCALE_RANGE>>,
  Assert<Extends<Omit<SamplingSettings, 'steps'>, z.infer<typeof SweepView>['settings'][number]>>,
];

/** Host -> webview. */
export const ToWebview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('init'), model: ModelView, config: GuidanceConfig, evaluator: EvaluatorView, sweep: SweepView,
    /** The workspace's saved defaults for this model, if any ("Use these settings"). */
    saved: SavedDefaults.optional() }),
  /** The answer to `cells` and `strip`. */
  z.object({ type: z.literal('images'), images: Images }),
  z.object({ type: z.literal('sweep'), sweep: SweepView }),
  /** The answer to `useSettings`: what was saved and the command lines copied to the clipboard. */
  z.object({ type: z.literal('used'), saved: SavedDefaults, generate: z.string(), eval: z.string() }),
  z.object({ type: z.literal('busy'), busy: z.boolean(), label: z.string().optional() }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type ToWebview = z.infer<typeof ToWebview>;

/** Webview -> host. */
export const FromWebview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  /** Make these cells (request; answered with `images`, in the same order). */
  z.object({ type: z.literal('cells'), cells: z.array(Cell).min(1).max(MAX_ROWS * MAX_COLUMNS), steps: z.number().int().min(1).max(16),
    noiseScale: z.number().min(NOISE_SCALE_RANGE[0]).max(NOISE_SCALE_RANGE[1]) }),
  /**
   * A strip (request; answered with `images`): walk, `count` images from seed's noise to seedB's
   * along the norm-preserving spherical path (core/noiseWalk); classes, the same noise in each of
   * `labels`. Guidance and steps from the cell.
   */
  z.object({ type: z.literal('strip'), kind: z.enum(['walk', 'classes']), cell: Cell, seedB: seed, count: z.number().int().min(2).max(12),
    labels: z.array(classIndex).max(MAX_COLUMNS), steps: z.number().int().min(1).max(16),
    noiseScale: z.number().min(NOISE_SCALE_RANGE[0]).max(NOISE_SCALE_RANGE[1]) }),
  /** Start the metric sweep over these omegas at one interval (a running one is stopped first). */
  z.object({ type: z.literal('sweep'), omegas: z.array(z.number().min(1).max(OMEGA_MAX)).min(1).max(MAX_ROWS), interval: Interval,
    n: z.number().int().min(64).max(50000), steps: z.number().int().min(1).max(16) }),
  z.object({ type: z.literal('stopSweep') }),
  /** Make these the model's defaults in this workspace and copy the command lines (request; answered with `used`). */
  z.object({ type: z.literal('useSettings'), settings: SavedDefaults }),
  /** The page's timing of a round trip (slider moved -> cells drawn), for the benchmark. */
  z.object({ type: z.literal('timing'), name: z.string(), ms: z.number(), cells: z.number().int() }),
]);
export type FromWebview = z.infer<typeof FromWebview>;

/**
 * The first config for a model: rows omega 1, 1.5, 2, 3, 4 (the model's default among them), 8
 * columns of seeds 0..7 cycling through the classes, the model's interval, noise scale 1.
 */
export function defaultGuidanceConfig(model: ModelView): GuidanceConfig {
  const d = model.defaultSampling;
  const omegas = [...new Set([1, 1.5, d.omega, 3, 4].map((w) => Math.min(OMEGA_MAX, Math.max(1, w))))].sort((a, b) => a - b).slice(0, 5);
  const seeds = Array.from({ length: 8 }, (_, i) => i);
  const classes = model.numClasses > 0 ? seeds.map((i) => i % model.numClasses) : [];
  const interval = { tMin: d.tMin, tMax: d.tMax };
  return {
    modelPath: model.path, omegas, columns: 'seeds', seeds, classes, interval,
    intervals: [{ tMin: 0, tMax: 1 }, { tMin: 0, tMax: 0.5 }, { tMin: 0.25, tMax: 0.75 }, { tMin: 0.5, tMax: 1 }],
    noiseScale: 1, steps: Math.max(1, Math.min(16, d.steps)), selected: { row: Math.max(0, omegas.indexOf(d.omega)), col: 0 },
    walk: { seedB: 8, count: 8 }, sweepCount: SWEEP_COUNTS[0],
  };
}

/** The grid's rows (omegas) and columns (seeds, or intervals). */
export function gridShape(c: GuidanceConfig): { rows: number; cols: number } {
  return { rows: c.omegas.length, cols: c.columns === 'seeds' ? c.seeds.length : c.intervals.length };
}

/** The interval of column `col` (columns = intervals), or every cell's (columns = seeds). */
export function columnInterval(c: GuidanceConfig, col: number): Interval {
  return c.columns === 'intervals' ? c.intervals[Math.min(col, c.intervals.length - 1)] : c.interval;
}

/** The cell at (row, col): the row's omega, the column's seed and class or interval. */
export function cellAt(c: GuidanceConfig, row: number, col: number): Cell {
  const k = c.columns === 'seeds' ? col : 0;
  const { tMin, tMax } = columnInterval(c, col);
  return { omega: c.omegas[row], tMin, tMax, seed: c.seeds[Math.min(k, c.seeds.length - 1)],
    label: c.classes.length ? c.classes[k % c.classes.length] : undefined };
}

/** Names what a cell's image depends on: two cells with one key show the same image. */
export function cellKey(cell: Cell, steps: number, noiseScale: number): string {
  return `${cell.omega}|${cell.tMin}|${cell.tMax}|${cell.seed}|${cell.label ?? '-'}|${steps}|${noiseScale}`;
}

/** The selection, kept inside the grid (after rows or columns were removed). */
export function clampSelection(c: GuidanceConfig): GuidanceConfig['selected'] {
  const { rows, cols } = gridShape(c);
  return { row: Math.min(c.selected.row, rows - 1), col: Math.min(c.selected.col, cols - 1) };
}

/** "1, 1.5, 2": numbers from lo to hi, at most `max` of them; a string says why not. */
export function parseNumbers(text: string, lo: number, hi: number, max: number, integer = false): number[] | string {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) return 'Give at least one number';
  if (parts.length > max) return `At most ${max} values`;
  const xs = parts.map(Number);
  const bad = xs.findIndex((x) => !Number.isFinite(x) || x < lo || x > hi || (integer && !Number.isInteger(x)));
  if (bad >= 0) return `${parts[bad]}: ${integer ? 'integers' : 'numbers'} from ${lo} to ${hi} only`;
  return xs;
}

/** "0-1, 0.2-0.8": intervals [t_min, t_max] with 0 <= t_min <= t_max <= 1; a string says why not. */
export function parseIntervals(text: string, max: number): Interval[] | string {
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) return 'Give at least one interval, e.g. 0-1, 0.2-0.8';
  if (parts.length > max) return `At most ${max} intervals`;
  const out: Interval[] = [];
  for (const p of parts) {
    const m = /^(\d*\.?\d+)\s*-\s*(\d*\.?\d+)$/.exec(p);
    const tMin = m ? Number(m[1]) : NaN;
    const tMax = m ? Number(m[2]) : NaN;
    if (!(tMin >= 0 && tMin <= tMax && tMax <= 1)) return `${p}: write t_min-t_max with 0 <= t_min <= t_max <= 1`;
    out.push({ tMin, tMax });
  }
  return out;
}
