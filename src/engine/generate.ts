// Batched generation inside the engine: seeded noise, the core sampler (MeanFlow's, or the
// flow-matching ODE solver), the session.
import { FLOW_SOLVERS, type PmfModelInfo } from '../core/checkpoint/types';
import { flowSample } from '../core/flowSampler';
import { initialNoise } from '../core/noise';
import { type Conditioning, type Feeds, perSample, sample, sliceGuidance, validateGuidance, validateSampling } from '../core/sampler';
import { EngineFailure } from './errors';
import { type GenerateParams, NOISE_SCALE_RANGE } from './protocol';
import type { LoadedModel, SessionCache } from './sessions';

/** Repeats the last sample's rows of every batched feed until the batch has `size` samples. */
export function padFeeds(feeds: Feeds, n: number, size: number): Feeds {
  if (n === size) return feeds;
  const out: Feeds = {};
  for (const [name, f] of Object.entries(feeds) as Array<[keyof Feeds, NonNullable<Feeds[keyof Feeds]>]>) {
    const per = f.data.length / n;
    const data = f.type === 'int64' ? new BigInt64Array(size * per) : new Float32Array(size * per);
    for (let i = 0; i < size; i++) {
      const src = Math.min(i, n - 1) * per;
      (data as Float32Array | BigInt64Array).set(f.data.subarray(src, src + per) as never, i * per);
    }
    out[name] = { ...f, dims: [size, ...f.dims.slice(1)], data } as never;
  }
  return out;
}

function checkSeeds(seeds: readonly number[]): void {
  if (seeds.length === 0) throw new EngineFailure('bad-request', 'Nothing to generate: no seeds given.');
  for (const s of seeds) {
    if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) {
      throw new EngineFailure('bad-request', `Seed ${s} is not an integer in [0, 4294967295].`);
    }
  }
}

/** Given noise (GenerateParams.noise): a Float32Array of n samples' z_1, all finite. */
function checkNoise(noise: unknown, n: number, per: number, sampleShape: readonly number[]): void {
  if (!(noise instanceof Float32Array)) throw new EngineFailure('bad-request', 'The noise must be a Float32Array.');
  if (noise.length !== n * per) {
    throw new EngineFailure('bad-request', `The noise has ${noise.length} values; ${n} sample(s) of shape ` +
      `[${sampleShape.join(', ')}] need ${n * per}.`);
  }
  for (let i = 0; i < noise.length; i++) {
    if (!Number.isFinite(noise[i])) throw new EngineFailure('bad-request', `The noise has a non-finite value (${noise[i]}) at index ${i}.`);
  }
}

/** GenerateParams.noiseScale: a number in NOISE_SCALE_RANGE (absent: 1); a bad-request EngineFailure says why not. */
export function checkNoiseScale(s: unknown): number {
  if (s === undefined) return 1;
  const [lo, hi] = NOISE_SCALE_RANGE;
  if (typeof s !== 'number' || !Number.isFinite(s) || s < lo || s > hi) {
    throw new EngineFailure('bad-request', `The noise scale must be a number from ${lo} to ${hi} (1: the model's own noise), got ${JSON.stringify(s) ?? typeof s}.`);
  }
  return s;
}

export async function generate(cache: SessionCache, model: LoadedModel, p: GenerateParams, signal: AbortSignal,
  onProgress: (done: number, total: number) => void): Promise<Float32Array> {
  const info: PmfModelInfo = model.info;
  checkSeeds(p.seeds);
  const labels = info.numClasses > 0 ? p.labels : undefined;
  if (labels && labels.length !== p.seeds.length) {
    throw new EngineFailure('bad-request', `${labels.length} labels for ${p.seeds.length} seeds.`);
  }
  try {
    validateSampling(info, p, labels);
    if (p.guidance) validateGuidance(info, p.guidance, p.seeds.length, p.steps);
  } catch (e) {
    throw new EngineFailure('bad-request', (e as Error).message);
  }
  if (!Number.isInteger(p.batchSize) || p.batchSize < 1) {
    throw new EngineFailure('bad-request', `Batch size must be a positive integer, got ${p.batchSize}.`);
  }
  if (p.solver !== undefined && !FLOW_SOLVERS.includes(p.solver)) {
    throw new EngineFailure('bad-request', `Unknown solver '${p.solver}': use ${FLOW_SOLVERS.join(' or ')}.`);
  }
  const solver = p.solver ?? info.defaultSolver ?? 'euler';
  const per = perSample(info);
  const n = p.seeds.length;
  const noiseScale = checkNoiseScale(p.noiseScale);
  if (p.noise !== undefined) checkNoise(p.noise, n, per, info.sampleShape);
  if (p.noise !== undefined && noiseScale !== 1) {
    throw new EngineFailure('bad-request', `A noise scale (${noiseScale}) with given noise: give the noise already scaled.`);
  }
  // the same product Explore Guidance takes (guidanceImages: info.noiseScale * noiseScale), so its cells match bit for bit
  const scale = info.noiseScale * noiseScale;
  const batch = info.fixedBatch ?? p.batchSize;
  const batches = Math.ceil(n / batch);
  const out = new Float32Array(n * per);
  let done = 0;
  for (let b = 0; b < batches; b++) {
    const lo = b * batch;
    const k = Math.min(batch, n - lo);
    const cond: Conditioning = { labels: labels?.slice(lo, lo + k), omega: p.omega, tMin: p.tMin, tMax: p.tMax,
      perSample: sliceGuidance(p.guidance, lo, k) };
    const z1 = p.noise ? p.noise.slice(lo * per, (lo + k) * per) : initialNoise(p.seeds.slice(lo, lo + k), per, scale);
    const evaluate = async (feeds: Feeds) => {
      const padded = info.fixedBatch ? padFeeds(feeds, k, info.fixedBatch) : feeds;
      const { data } = await cache.run(model, padded);
      return info.fixedBatch ? data.subarray(0, k * per) : data;
    };
    const hooks = { signal, onStep: () => onProgress(++done, batches * p.steps) };
    const z0 = info.modelType === 'flow-matching'
      ? await flowSample(evaluate, info, z1, k, cond, p.steps, solver, hooks)
      : await sample(evaluate, info, z1, k, cond, p.steps, hooks);
    out.set(z0, lo * per);
  }
  return out;
}
