// Evaluation inside the engine: generate a run's samples batch by batch, round them to 8 bits
// and run the feature network on them, so only features (not images) leave the process.
import * as ort from 'onnxruntime-node';
import type { PmfModelInfo } from '../core/checkpoint/types';
import { featureBatch, sampleClass, sampleSeed, toLevels } from '../core/eval/evalPlan';
import type { FeatureNetInfo } from '../core/eval/featureNet';
import { throwIfAborted } from '../core/sampler';
import { EngineFailure } from './errors';
import { checkNoiseScale, generate } from './generate';
import type { EvalSamplesParams, EvalSamplesResult, NetFeaturesParams, NetFeaturesResult } from './protocol';
import type { LoadedModel, SessionCache } from './sessions';

/** Checks that the network can take the model's images; throws a bad-request EngineFailure saying why not. */
export function checkCompatible(model: PmfModelInfo, net: FeatureNetInfo, modelFile: string, netFile: string): void {
  if (model.kind !== 'image') throw new EngineFailure('bad-request', `${modelFile} is a toy model: only image models are evaluated.`);
  const [C, H, W] = model.sampleShape;
  if (net.channels !== C && !(C === 1 && net.channels === 3)) {
    throw new EngineFailure('bad-request', `${netFile} takes ${net.channels}-channel images; ${modelFile} makes ${C}-channel ones.`);
  }
  if (net.inputSize && (net.inputSize[0] !== H || net.inputSize[1] !== W)) {
    throw new EngineFailure('bad-request', `${netFile} takes ${net.inputSize.join('x')} images; ${modelFile} makes ${H}x${W} ones ` +
      `(a feature network that resizes inside its graph declares input_size null).`);
  }
}

/** The network's features (and logits) of a batch of 8-bit levels [n, C, H, W]. */
async function runNet(cache: SessionCache, net: LoadedModel<FeatureNetInfo>, levels: Float32Array,
  dims: readonly number[]): Promise<{ features: Float32Array; logits?: Float32Array }> {
  const outs = await cache.runOutputs(net, { images: new ort.Tensor('float32', levels, [...dims]) }, net.info.outputs);
  const n = dims[0];
  const [features, logits] = outs;
  if (features.data.length !== n * net.info.featureDim) {
    throw new EngineFailure('runtime', `${net.path} returned ${features.data.length} feature values for ${n} images of ${net.info.featureDim}.`);
  }
  if (logits && logits.data.length !== n * net.info.logitClasses) {
    throw new EngineFailure('runtime', `${net.path} returned ${logits.data.length} logits for ${n} images of ${net.info.logitClasses} classes.`);
  }
  return { features: features.data, logits: logits?.data };
}

export async function evalSamples(cache: SessionCache, model: LoadedModel, net: LoadedModel<FeatureNetInfo>, p: EvalSamplesParams,
  signal: AbortSignal, onProgress: (done: number, total: number) => void): Promise<EvalSamplesResult> {
  const info = model.info;
  checkCompatible(info, net.info, model.path, net.path);
  if (!Number.isSafeInteger(p.start) || p.start < 0 || !Number.isSafeInteger(p.count) || p.count < 1) {
    throw new EngineFailure('bad-request', `samples ${p.start} + ${p.count}: a start >= 0 and a count >= 1 are needed.`);
  }
  if (!Number.isInteger(p.seed) || p.seed < 0 || p.seed > 0xffffffff) throw new EngineFailure('bad-request', `Seed ${p.seed} is not an integer in [0, 4294967295].`);
  checkNoiseScale(p.noiseScale); // before any work
  const batch = Math.max(1, Math.floor(p.batchSize));
  const [C, H, W] = info.sampleShape;
  const D = net.info.featureDim;
  const K = net.info.logitClasses;
  const features = new Float32Array(p.count * D);
  const logits = K > 0 ? new Float32Array(p.count * K) : undefined;
  const classes = Array.from({ length: p.count }, (_, s) => sampleClass(p.start + s, info.numClasses));
  let generateMs = 0;
  let featuresMs = 0;
  // The network runs on chunks of whole generator batches, as many images as featureBatch
  // allows (256 small images; 15 for Inception, which resizes to 299x299 inside)
  const perLevels = net.info.channels * H * W;
  const chunk = featureBatch(net.info.channels, [H, W], net.info.resize, batch);
  for (let lo = 0; lo < p.count; lo += chunk) {
    const m = Math.min(chunk, p.count - lo);
    const levels = new Float32Array(m * perLevels);
    for (let b = 0; b < m; b += batch) {
      throwIfAborted(signal);
      const k = Math.min(batch, m - b);
      const seeds = Array.from({ length: k }, (_, s) => sampleSeed(p.seed, p.start + lo + b + s));
      const t0 = performance.now();
      const z0 = await generate(cache, model, { modelId: model.id, seeds, labels: classes.slice(lo + b, lo + b + k), steps: p.steps,
        omega: p.omega, tMin: p.tMin, tMax: p.tMax, batchSize: k, ...(p.solver ? { solver: p.solver } : {}),
        ...(p.noiseScale !== undefined ? { noiseScale: p.noiseScale } : {}) }, signal, () => {});
      generateMs += performance.now() - t0;
      levels.set(toLevels(z0, k, [C, H, W], info.dataRange, net.info.channels), b * perLevels);
      onProgress(lo + b + k, p.count);
    }
    const t0 = performance.now();
    const out = await runNet(cache, net, levels, [m, net.info.channels, H, W]);
    featuresMs += performance.now() - t0;
    features.set(out.features, lo * D);
    if (logits && out.logits) logits.set(out.logits, lo * K);
  }
  return { features, logits, classes, generateMs, featuresMs };
}

/** Features of given images (reference statistics from real data). */
export async function netFeatures(cache: SessionCache, net: LoadedModel<FeatureNetInfo>, p: NetFeaturesParams): Promise<NetFeaturesResult> {
  const [n, C, H, W] = p.dims;
  if (p.images.length !== n * C * H * W) throw new EngineFailure('bad-request', `${p.images.length} values for images [${p.dims.join(', ')}].`);
  if (C !== net.info.channels) throw new EngineFailure('bad-request', `${net.path} takes ${net.info.channels}-channel images, got ${C}.`);
  const t0 = performance.now();
  const D = net.info.featureDim;
  const K = net.info.logitClasses;
  const features = new Float32Array(n * D);
  const logits = K > 0 ? new Float32Array(n * K) : undefined;
  // at most the images featureBatch allows at once, whatever the caller asked for
  const batch = Math.min(Math.max(1, Math.floor(p.batchSize)), featureBatch(C, [H, W], net.info.resize));
  const per = C * H * W;
  for (let lo = 0; lo < n; lo += batch) {
    const k = Math.min(batch, n - lo);
    const out = await runNet(cache, net, p.images.subarray(lo * per, (lo + k) * per), [k, C, H, W]);
    features.set(out.features, lo * D);
    if (logits && out.logits) logits.set(out.logits, lo * K);
  }
  return { features, logits, ms: performance.now() - t0 };
}
