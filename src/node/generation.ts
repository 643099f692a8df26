// A generation job over the engine, shared by the CLI and the extension: load, generate,
// convert to pixels, count NaN / infinite values, and write PNGs (each with its settings) and a
// grid, all or nothing, under names no other run has (outputFiles.ts).
import type { FlowSolver, PmfModelInfo, SamplingSettings } from '../core/checkpoint/types';
import { costPerImage } from '../core/costDefaults';
import { solverEvaluations } from '../core/flowSampler';
import { planBatches, splitBatches } from '../core/generationBatches';
import { className, planSamples, slug } from '../core/generationPlan';
import { isBlank, toUint8HWC } from '../core/image';
import { CancelledError } from '../core/sampler';
import type { EngineClient } from '../engine/client';
import type { LoadResult, ProviderSetting } from '../engine/protocol';
import { countNonFinite, describeCount, type NonFiniteCount } from './nonFinite';
import { encodeNpy } from './npy';
import { StagedFiles } from './outputFiles';
import { encodePng, gridImage, type RawImage } from './png';

export interface GenerationRequest extends SamplingSettings {
  modelPath: string;
  /** How the user named the model (bundled name or path), for the CLI command. */
  modelSpec: string;
  provider: ProviderSetting;
  classes: number[];
  n: number;
  seed: number;
  batchSize: number;
  /** Flow-matching models: the ODE solver (the model's default when absent). */
  solver?: FlowSolver;
  /**
   * The sampling noise scale: z_1 = noiseScale * (the model's pmf.noise_scale) * e (absent or 1:
   * the model's own noise); sample i's noise is its seed's times it, however the run is batched.
   */
  noiseScale?: number;
}

/** The request's noise scale when it is not 1 (absent otherwise: what runs, files and commands without one mean). */
export function noiseScaleOf(req: { noiseScale?: number }): number | undefined {
  return req.noiseScale !== undefined && req.noiseScale !== 1 ? req.noiseScale : undefined;
}

export interface GeneratedSample {
  index: number;
  seed: number;
  label?: number;
  className: string;
  /** Image models: the sample as 8-bit pixels. */
  image?: RawImage;
  /** The sample in the data range (flat). */
  values: Float32Array;
  /** How many of its values are NaN and how many infinite (counted once, as it comes back from the engine). */
  nonFinite: NonFiniteCount;
}

/** A generation whose samples hold NaN or infinite values: not images, so nothing is written. */
export class NonFiniteOutputError extends Error {
  constructor(readonly modelPath: string, readonly samples: number, readonly total: number, readonly nan: number,
    readonly inf: number, readonly values: number, advice: string) {
    super(`${modelPath} returned NaN or infinite values: ${describeNonFinite(samples, total, nan, inf, values)}. ` +
      `Nothing was written. ${advice}`);
    this.name = 'NonFiniteOutputError';
  }
}

/** "3 of 8 samples (1234 NaN and 5 infinite values of 6272)". */
function describeNonFinite(samples: number, total: number, nan: number, inf: number, values: number): string {
  return `${samples} of ${total} sample${total === 1 ? '' : 's'} (${describeCount({ nan, inf })} of ${values})`;
}

/** The error for a generation with non-finite samples, or undefined when every value is finite. */
export function nonFiniteError(req: GenerationRequest, samples: readonly GeneratedSample[],
  advice = 'Re-generate those samples, or generate again with other settings (fewer steps, a smaller omega, the CPU provider).'):
  NonFiniteOutputError | undefined {
  const bad = samples.filter((s) => s.nonFinite.nan + s.nonFinite.inf > 0);
  if (bad.length === 0) return undefined;
  const sum = (k: keyof NonFiniteCount) => bad.reduce((a, s) => a + s.nonFinite[k], 0);
  const values = samples.reduce((a, s) => a + s.values.length, 0);
  return new NonFiniteOutputError(req.modelPath, bad.length, samples.length, sum('nan'), sum('inf'), values, advice);
}

export interface GenerationResult {
  load: LoadResult;
  /** The samples in order: all of them, or, when the run was stopped, the first ones (a prefix). */
  samples: GeneratedSample[];
  ms: number;
  /** True when `stop` ended the run before every sample was made. */
  stopped?: boolean;
}

export interface GenerationHooks {
  /**
   * Each batch's samples as they come back, in order: every sample exactly once, the same values
   * as one unbatched run (the noise depends on the seed only). `done` samples of `total` so far.
   */
  onBatch?: (samples: GeneratedSample[], done: number, total: number, ms: number) => void;
  /**
   * Ends the run after the batch in flight (the abort signal, by contrast, stops the engine at
   * once and the run throws): the result holds the samples made so far, with `stopped`.
   */
  stop?: AbortSignal;
  /** The first batch's size; by default the model's cost decides (planBatches: 1 image for pMF-B/16). */
  firstBatch?: number;
}

/** The sample at plan position i, from the engine's values for it. */
function toSample(info: PmfModelInfo, index: number, seed: number, label: number | undefined, values: Float32Array): GeneratedSample {
  const s: GeneratedSample = { index, seed, label, className: className(info, label), values, nonFinite: countNonFinite(values) };
  if (info.kind === 'image') {
    const [c, h, w] = info.sampleShape;
    s.image = { pixels: toUint8HWC(values, c, h, w, info.dataRange), width: w, height: h, channels: c };
  }
  return s;
}

/**
 * Loads (the engine keeps a loaded model) and generates req.n samples, one generate request per
 * batch (planBatches: a small first batch for an expensive model, so the first image comes
 * early). onProgress sees (steps done, steps in all) across batches.
 */
export async function runGeneration(client: EngineClient, req: GenerationRequest, signal?: AbortSignal,
  onProgress?: (done: number, total: number) => void, hooks: GenerationHooks = {}): Promise<GenerationResult> {
  const load = await client.load(req.modelPath, req.provider, signal);
  const info = load.info;
  const plan = planSamples(req.n, req.seed, req.classes);
  const cost = { flopsPerImage: costPerImage(info).flops, steps: networkEvaluations(info, req), fixedBatch: info.fixedBatch };
  const batches = hooks.firstBatch !== undefined ? splitBatches(req.n, hooks.firstBatch, info.fixedBatch ?? req.batchSize)
    : planBatches(req.n, req.batchSize, cost);
  const per = info.sampleShape.reduce((a, b) => a * b, 1);
  const totalSteps = batches.length * req.steps;
  const samples: GeneratedSample[] = [];
  let ms = 0;
  for (const [b, k] of batches.entries()) {
    if (hooks.stop?.aborted) return { load, samples, ms, stopped: true };
    const lo = samples.length;
    const seeds = plan.seeds.slice(lo, lo + k);
    const labels = plan.labels.length ? plan.labels.slice(lo, lo + k) : undefined;
    const res = await client.generate({
      modelId: load.modelId, seeds, labels, steps: req.steps, omega: req.omega, tMin: req.tMin, tMax: req.tMax, batchSize: k,
      ...(req.solver ? { solver: req.solver } : {}), ...(noiseScaleOf(req) !== undefined ? { noiseScale: noiseScaleOf(req) } : {}),
    }, signal, onProgress && ((done) => onProgress(b * req.steps + Math.min(done, req.steps), totalSteps)));
    ms += res.ms;
    const batch = seeds.map((seed, j) => toSample(info, lo + j, seed, labels?.[j], res.samples.slice(j * per, (j + 1) * per)));
    samples.push(...batch);
    hooks.onBatch?.(batch, samples.length, req.n, ms);
  }
  return { load, samples, ms };
}

/**
 * Network evaluations per sample: the steps, or a flow-matching solve's (Heun: 2N - 1), twice for
 * two-pass guidance (an upper bound: outside [t_min, t_max] it is one pass).
 */
export function networkEvaluations(info: PmfModelInfo, req: Pick<GenerationRequest, 'steps' | 'omega' | 'solver'>): number {
  if (info.modelType !== 'flow-matching') return req.steps;
  const solves = solverEvaluations(req.steps, req.solver ?? info.defaultSolver ?? 'euler');
  return info.guidance === 'two-pass' && req.omega !== 1 ? 2 * solves : solves;
}

/** The settings that reproduce one sample; embedded in its PNG. */
export function sampleSettings(req: GenerationRequest, info: PmfModelInfo, s: GeneratedSample, provider: string) {
  return {
    model: info.name || req.modelSpec, modelSpec: req.modelSpec, class: s.className, label: s.label ?? null,
    seed: s.seed, steps: req.steps, omega: req.omega, t_min: req.tMin, t_max: req.tMax,
    ...(info.modelType === 'flow-matching' ? { solver: req.solver ?? info.defaultSolver ?? 'euler' } : {}),
    ...(noiseScaleOf(req) !== undefined ? { noise_scale: noiseScaleOf(req) } : {}),
    noise: 'pmf-lab xoshiro128** Box-Muller v1', provider, generator: 'pMF Lab',
    command: cliCommand({ ...req, n: 1, seed: s.seed, classes: s.label === undefined ? [] : [s.label] }, info),
  };
}

function quote(s: string): string {
  return /^[\w./:@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The `pmf generate` command line that reproduces a request. */
export function cliCommand(req: GenerationRequest, info: PmfModelInfo, out = 'pmf-samples'): string {
  const parts = ['pmf', 'generate', '--model', quote(req.modelSpec), '--n', String(req.n), '--seed', String(req.seed),
    '--steps', String(req.steps)];
  if (info.numClasses > 0) {
    // Sample i takes classes[i mod k]: only the first min(n, k) are ever used, so those reproduce
    // the run. The default (every class in order) is left out; a long list goes as indices.
    const used = req.classes.slice(0, Math.min(req.n, req.classes.length));
    const isDefault = used.every((c, i) => c === i) && (used.length === info.numClasses || used.length === req.n);
    if (!isDefault) {
      const names = used.length > 12
        ? used.map((c) => (c === info.numClasses ? 'none' : String(c)))
        : used.map((c) => (c === info.numClasses ? 'none' : info.classNames[c]));
      parts.push('--class', quote(names.join(',')));
    }
  }
  if (info.hasCfg || info.guidance === 'two-pass') {
    parts.push('--omega', String(req.omega), '--t-min', String(req.tMin), '--t-max', String(req.tMax));
  }
  if (info.modelType === 'flow-matching') parts.push('--solver', req.solver ?? info.defaultSolver ?? 'euler');
  const noiseScale = noiseScaleOf(req);
  if (noiseScale !== undefined) parts.push('--noise-scale', String(noiseScale));
  parts.push('--out', quote(out));
  return parts.join(' ');
}

export function sampleFileName(s: GeneratedSample, ext: string): string {
  return `${String(s.index).padStart(3, '0')}-${slug(s.className)}-seed${s.seed}.${ext}`;
}

export interface WrittenOutputs {
  /** The files as written: their names carry -runK when an earlier run's names were taken. */
  files: string[];
  grid?: string;
  blank: number;
  /** 1 when the plain names were free, else the run number in the names. */
  run: number;
}

export interface WriteOptions {
  scale?: number;
  gridCols?: number;
  signal?: AbortSignal;
  /** Completes "rename or remove it, or ..." in messages about the folder (default: choose another folder). */
  hint?: string;
  /** What to do about NaN or infinite samples, for their error message. */
  nonFiniteAdvice?: string;
}

/**
 * Writes every sample (PNG with settings for images, one .npy for toys) and a grid PNG into
 * `dir`, all or nothing: staged in a temporary folder and moved into place at the end, under the
 * plain names or, when another run has them, all with the next free -runK (outputFiles.ts). On
 * any failure or cancellation nothing of this run is left. Samples with NaN or infinite values
 * are an error (NonFiniteOutputError), and nothing is written.
 */
export async function writeOutputs(dir: string, req: GenerationRequest, result: GenerationResult,
  opts: WriteOptions = {}): Promise<WrittenOutputs> {
  const info = result.load.info;
  const bad = nonFiniteError(req, result.samples, opts.nonFiniteAdvice);
  if (bad) throw bad;
  if (opts.signal?.aborted) throw new CancelledError();
  const set = await StagedFiles.open(dir, { hint: opts.hint });
  const stage = async (name: string, data: Buffer) => {
    if (opts.signal?.aborted) throw new CancelledError();
    await set.add(name, data);
  };
  let blank = 0;
  try {
    if (info.kind === 'image') {
      for (const s of result.samples) {
        if (isBlank(s.image!.pixels)) blank++;
        await stage(sampleFileName(s, 'png'), await encodePng(s.image!, {
          scale: opts.scale, settings: sampleSettings(req, info, s, result.load.provider),
          description: `${info.name}: ${s.className}, seed ${s.seed}`,
        }));
      }
      const cols = opts.gridCols ?? Math.min(result.samples.length, Math.max(1, req.classes.length || 8));
      await stage('grid.png', await encodePng(gridImage(result.samples.map((s) => s.image!), cols), {
        scale: opts.scale, settings: { ...sampleSettings(req, info, result.samples[0], result.load.provider),
          command: cliCommand(req, info), grid: { cols, n: result.samples.length } },
        description: `${info.name}: ${result.samples.length} samples`,
      }));
    } else {
      const per = result.samples[0].values.length;
      const all = new Float32Array(result.samples.length * per);
      result.samples.forEach((s, i) => all.set(s.values, i * per));
      await stage('samples.npy', encodeNpy(all, [result.samples.length, per]));
    }
    if (opts.signal?.aborted) throw new CancelledError();
  } catch (e) {
    await set.discard();
    throw e;
  }
  // the grid (toys: samples.npy) first: every run into this folder has one, so it decides the run number
  const { files, run } = await set.commit(info.kind === 'image' ? 'grid.png' : 'samples.npy');
  return { files, grid: info.kind === 'image' ? files[files.length - 1] : undefined, blank, run };
}
