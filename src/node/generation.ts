// A generation job over the engine, shared by the CLI and the extension: load, generate,
// convert to pixels, and write PNGs (each with its settings) and a grid, all or nothing.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PmfModelInfo } from '../core/checkpoint/types';
import { className, planSamples, slug } from '../core/generationPlan';
import { isBlank, toUint8HWC } from '../core/image';
import type { EngineClient } from '../engine/client';
import type { LoadResult, ProviderSetting } from '../engine/protocol';
import { encodeNpy } from './npy';
import { encodePng, gridImage, type RawImage } from './png';

export interface GenerationRequest {
  modelPath: string;
  /** How the user named the model (bundled name or path), for the CLI command. */
  modelSpec: string;
  provider: ProviderSetting;
  classes: number[];
  n: number;
  seed: number;
  steps: number;
  omega: number;
  tMin: number;
  tMax: number;
  batchSize: number;
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
}

export interface GenerationResult {
  load: LoadResult;
  samples: GeneratedSample[];
  ms: number;
}

export async function runGeneration(client: EngineClient, req: GenerationRequest, signal?: AbortSignal,
  onProgress?: (done: number, total: number) => void): Promise<GenerationResult> {
  const load = await client.load(req.modelPath, req.provider, signal);
  const info = load.info;
  const plan = planSamples(req.n, req.seed, req.classes);
  const res = await client.generate({
    modelId: load.modelId, seeds: plan.seeds, labels: plan.labels.length ? plan.labels : undefined,
    steps: req.steps, omega: req.omega, tMin: req.tMin, tMax: req.tMax, batchSize: req.batchSize,
  }, signal, onProgress);
  const per = info.sampleShape.reduce((a, b) => a * b, 1);
  const samples = plan.seeds.map((seed, i): GeneratedSample => {
    const values = res.samples.slice(i * per, (i + 1) * per);
    const label = plan.labels[i];
    const s: GeneratedSample = { index: i, seed, label, className: className(info, label), values };
    if (info.kind === 'image') {
      const [c, h, w] = info.sampleShape;
      s.image = { pixels: toUint8HWC(values, c, h, w, info.dataRange), width: w, height: h, channels: c };
    }
    return s;
  });
  return { load, samples, ms: res.ms };
}

/** The settings that reproduce one sample; embedded in its PNG. */
export function sampleSettings(req: GenerationRequest, info: PmfModelInfo, s: GeneratedSample, provider: string) {
  return {
    model: info.name || req.modelSpec, modelSpec: req.modelSpec, class: s.className, label: s.label ?? null,
    seed: s.seed, steps: req.steps, omega: req.omega, t_min: req.tMin, t_max: req.tMax,
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
    const names = req.classes.map((c) => (c === info.numClasses ? 'none' : info.classNames[c]));
    parts.push('--class', quote(names.join(',')));
  }
  if (info.hasCfg) parts.push('--omega', String(req.omega), '--t-min', String(req.tMin), '--t-max', String(req.tMax));
  parts.push('--out', quote(out));
  return parts.join(' ');
}

export function sampleFileName(s: GeneratedSample, ext: string): string {
  return `${String(s.index).padStart(3, '0')}-${slug(s.className)}-seed${s.seed}.${ext}`;
}

export interface WrittenOutputs {
  files: string[];
  grid?: string;
  blank: number;
}

/**
 * Writes every sample (PNG with settings for images, one .npy for toys) and a grid PNG into
 * `dir`. Files are written under temporary names and renamed at the end; on any failure or
 * cancellation, nothing of this run is left in `dir`.
 */
export async function writeOutputs(dir: string, req: GenerationRequest, result: GenerationResult,
  opts: { scale?: number; gridCols?: number; signal?: AbortSignal } = {}): Promise<WrittenOutputs> {
  const info = result.load.info;
  await mkdir(dir, { recursive: true });
  const staged: Array<{ tmp: string; final: string }> = [];
  const stage = async (name: string, data: Buffer) => {
    if (opts.signal?.aborted) throw new Error('Cancelled');
    const final = join(dir, name);
    const tmp = join(dir, `.${name}.partial-${process.pid}`);
    staged.push({ tmp, final });
    await writeFile(tmp, data);
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
    for (const f of staged) await rename(f.tmp, f.final);
  } catch (e) {
    await Promise.all(staged.map((f) => rm(f.tmp, { force: true })));
    throw e;
  }
  const files = staged.map((f) => f.final);
  return { files, grid: files.find((f) => f.endsWith('grid.png')), blank };
}
