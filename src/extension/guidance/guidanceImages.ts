// The images of the Explore Guidance panel, made in the engine: grid cells (each its own omega,
// interval, seed and class) and strips (a seed walk: the norm-preserving spherical path from one
// seed's z_1 to another's, core/noiseWalk; a class switch: one noise in several classes), all as
// 8-bit [n, H, W, C] pixels (core/image). The noise scale multiplies z_1: z_1 = noiseScale *
// noise_scale * e, where noise_scale is the model's own (pmf.noise_scale) and e the seed's Gaussian
// noise; 1 is the noise the model was trained on, other values probe how the one-step map
// responds to noise off that shell. No vscode here: the panel calls it, so do the tests.
import type { PmfModelInfo } from '../../core/checkpoint/types';
import { toUint8HWC } from '../../core/image';
import { initialNoise } from '../../core/noise';
import { seedWalk } from '../../core/noiseWalk';
import type { EngineClient } from '../../engine/client';
import type { Cell, Images } from '../../shared/protocol/guidance';

export interface Loaded {
  modelId: string;
  info: PmfModelInfo;
}

export interface CellRequest {
  cells: Cell[];
  steps: number;
  noiseScale: number;
}

export interface StripRequest {
  kind: 'walk' | 'classes';
  cell: Cell;
  seedB: number;
  count: number;
  labels: number[];
  steps: number;
  noiseScale: number;
}

/** One generation: cells that share omega, t_min and t_max (the engine takes one guidance per call). */
interface Group {
  omega: number;
  tMin: number;
  tMax: number;
  /** Positions in the request. */
  at: number[];
}

/** The cells by guidance, in order of first appearance. */
export function groupByGuidance(cells: readonly Cell[]): Group[] {
  const groups = new Map<string, Group>();
  cells.forEach((c, i) => {
    const key = `${c.omega}|${c.tMin}|${c.tMax}`;
    let g = groups.get(key);
    if (!g) groups.set(key, g = { omega: c.omega, tMin: c.tMin, tMax: c.tMax, at: [] });
    g.at.push(i);
  });
  return [...groups.values()];
}

function per(info: PmfModelInfo): number {
  return info.sampleShape.reduce((a, b) => a * b, 1);
}

function imageShape(info: PmfModelInfo): { channels: number; height: number; width: number } {
  if (info.kind !== 'image') throw new Error(`${info.name || 'this model'} is a toy model: Explore Guidance shows images.`);
  const [channels, height, width] = info.sampleShape;
  return { channels, height, width };
}

function labelOf(info: PmfModelInfo, c: Cell): number {
  return info.numClasses > 0 ? Math.min(info.numClasses, c.label ?? info.numClasses) : 0;
}

/** z_1 of these seeds at noiseScale times the model's noise scale; undefined at 1 (the engine makes that noise itself). */
function scaledNoise(info: PmfModelInfo, seeds: number[], noiseScale: number): Float32Array | undefined {
  return noiseScale === 1 ? undefined : initialNoise(seeds, per(info), info.noiseScale * noiseScale);
}

/** Writes samples [k, C, H, W] in the data range into `out` at image positions `at`. */
function place(info: PmfModelInfo, samples: Float32Array, at: readonly number[], out: Uint8Array): void {
  const { channels, height, width } = imageShape(info);
  const n = per(info);
  at.forEach((pos, i) => out.set(toUint8HWC(samples.subarray(i * n, (i + 1) * n), channels, height, width, info.dataRange), pos * n));
}

/**
 * The cells' images, in the order asked. A model with CFG inputs takes a guidance per sample, so
 * all cells go as one engine request (one batch: a 5 x 8 grid whose t_max moved is one run, not
 * five). A two-pass model gets one request per guidance setting, one after the other (the
 * engine's session is one; two at once would only share its cores), stopping between them when
 * `signal` aborts (the engine cancels the one under way).
 */
export async function makeCells(engine: EngineClient, m: Loaded, req: CellRequest, signal?: AbortSignal): Promise<Images> {
  const t0 = performance.now();
  const { channels, height, width } = imageShape(m.info);
  const out = new Uint8Array(req.cells.length * per(m.info));
  const groups = groupByGuidance(req.cells);
  if (m.info.hasCfg && groups.length > 1) {
    const seeds = req.cells.map((c) => c.seed);
    const r = await engine.generate({
      modelId: m.modelId, seeds, labels: m.info.numClasses > 0 ? req.cells.map((c) => labelOf(m.info, c)) : undefined,
      steps: req.steps, omega: req.cells[0].omega, tMin: req.cells[0].tMin, tMax: req.cells[0].tMax,
      guidance: { omega: req.cells.map((c) => c.omega), tMin: req.cells.map((c) => c.tMin), tMax: req.cells.map((c) => c.tMax) },
      batchSize: Math.max(1, req.cells.length), noise: scaledNoise(m.info, seeds, req.noiseScale),
    }, signal);
    place(m.info, r.samples, req.cells.map((_, i) => i), out);
    return { pixels: out, n: req.cells.length, width, height, channels, engineMs: r.ms, ms: performance.now() - t0 };
  }
  let engineMs = 0;
  for (const g of groups) {
    const cells = g.at.map((i) => req.cells[i]);
    const seeds = cells.map((c) => c.seed);
    const r = await engine.generate({
      modelId: m.modelId, seeds, labels: m.info.numClasses > 0 ? cells.map((c) => labelOf(m.info, c)) : undefined,
      steps: req.steps, omega: g.omega, tMin: g.tMin, tMax: g.tMax, batchSize: Math.max(1, cells.length),
      noise: scaledNoise(m.info, seeds, req.noiseScale),
    }, signal);
    engineMs += r.ms;
    place(m.info, r.samples, g.at, out);
  }
  return { pixels: out, n: req.cells.length, width, height, channels, engineMs, ms: performance.now() - t0 };
}

/** A seed walk (count images from cell.seed to seedB) or a class switch (cell.seed's noise in each label). */
export async function makeStrip(engine: EngineClient, m: Loaded, req: StripRequest, signal?: AbortSignal): Promise<Images> {
  const t0 = performance.now();
  const { channels, height, width } = imageShape(m.info);
  const c = req.cell;
  const n = per(m.info);
  const scale = m.info.noiseScale * req.noiseScale;
  let noise: Float32Array;
  let labels: number[] | undefined;
  if (req.kind === 'walk') {
    noise = seedWalk(c.seed, req.seedB, req.count, n, scale);
    labels = m.info.numClasses > 0 ? Array.from({ length: req.count }, () => labelOf(m.info, c)) : undefined;
  } else {
    if (m.info.numClasses === 0) throw new Error(`${m.info.name || 'this model'} is unconditional: it has no classes to switch.`);
    if (req.labels.length === 0) throw new Error('A class switch needs at least one class.');
    const one = initialNoise([c.seed], n, scale);
    noise = new Float32Array(req.labels.length * n);
    for (let i = 0; i < req.labels.length; i++) noise.set(one, i * n);
    labels = req.labels.map((l) => Math.min(m.info.numClasses, l));
  }
  const count = noise.length / n;
  const r = await engine.generate({
    modelId: m.modelId, seeds: Array.from({ length: count }, () => c.seed), labels, steps: req.steps,
    omega: c.omega, tMin: c.tMin, tMax: c.tMax, batchSize: count, noise,
  }, signal);
  const out = new Uint8Array(count * n);
  place(m.info, r.samples, Array.from({ length: count }, (_, i) => i), out);
  return { pixels: out, n: count, width, height, channels, engineMs: r.ms, ms: performance.now() - t0 };
}
