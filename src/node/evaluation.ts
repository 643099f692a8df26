// pmf eval: a shard of an evaluation run (generate, features, exact statistics; resumable), the
// merge of shards, the scores against reference statistics, and the protocol every score is
// saved with (docs/evaluation.md). Used by the CLI and the extension.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { FlowSolver, PmfModelInfo, SamplingSettings } from '../core/checkpoint/types';
import {
  EvalAccumulator,
  type FeatureNetInfo,
  manifoldMetrics,
  SAMPLE_RULE,
  shardRange,
  softmaxRows,
  UINT8_RULE,
} from '../core/eval';
import type { EngineClient } from '../engine/client';
import type { ProviderSetting } from '../engine/protocol';
import { onnxContentSha256 } from './contentHash';
import { readEvalState, writeEvalState, type EvalState } from './evalState';
import { frechetDistanceParallel } from './parallelFrechet';
import type { LoadedReference } from './evalReference';

export const EVAL_BLOCK = 1024;
/**
 * Samples (and reference images) whose features are kept for precision/recall and density/coverage
 * by default: their cost grows as its square (10,000 against 10,000 take about 48 s here).
 */
export const DEFAULT_KEEP = 5000;
/** Inception Score splits (as in the papers that report it). */
export const DEFAULT_SPLITS = 10;

/** What a run's scores depend on; shards must agree on all of it to merge. */
export interface EvalProtocol {
  tool: 'pmf eval';
  version: 1;
  model: { file: string; name: string; sha256: string; numClasses: number; sampleShape: number[]; dataRange: [number, number] };
  net: { file: string; name: string; sha256: string; resize: string; featureDim: number; logitClasses: number;
    source: { file: string; sha256: string } | null; classNames: string[] | null;
    /** What real data scores with this network (its model card's figures). */
    realData: Record<string, unknown> | null };
  images: string;
  samples: string;
  n: number;
  seed: number;
  /**
   * A flow-matching model's also its ODE solver (MeanFlow protocols have none, as before it existed);
   * a run at a noise scale other than 1 its noiseScale (none at 1: protocols, and state files, from
   * before it existed are those of noise scale 1).
   */
  sampling: SamplingSettings & { solver?: FlowSolver; noiseScale?: number };
  /** Samples 0..keep-1 keep their features (precision/recall, density/coverage). */
  keep: number;
  splits: number;
  blockSize: number;
}

export interface EvalRequest extends SamplingSettings {
  modelPath: string;
  netPath: string;
  provider: ProviderSetting;
  threads?: number;
  n: number;
  seed: number;
  batchSize: number;
  keep: number;
  splits: number;
  /** Shard k (0-based) of `of`. */
  shard: { k: number; of: number };
  /** Flow-matching models: the ODE solver (the model's default when absent); MeanFlow models have none. */
  solver?: FlowSolver;
  /** The sampling noise scale (absent or 1: the model's own noise); sample i's noise is its seed's times it, in any shard. */
  noiseScale?: number;
}

export interface EvalProgress {
  /** Samples of this shard done (including those resumed) and in all. */
  done: number;
  total: number;
  resumed: number;
  generateMs: number;
  featuresMs: number;
}

/** The first setting in which two protocols differ, or undefined when they agree. */
export function protocolDifference(a: EvalProtocol, b: EvalProtocol): string | undefined {
  const flat = (o: unknown, prefix = ''): Map<string, string> => {
    const m = new Map<string, string>();
    if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
      for (const [k, v] of Object.entries(o)) for (const [kk, vv] of flat(v, prefix ? `${prefix}.${k}` : k)) m.set(kk, vv);
    } else {
      m.set(prefix, JSON.stringify(o));
    }
    return m;
  };
  const fa = flat(a);
  const fb = flat(b);
  for (const k of new Set([...fa.keys(), ...fb.keys()])) {
    if (fa.get(k) !== fb.get(k)) return `${k} (${fa.get(k) ?? 'absent'} and ${fb.get(k) ?? 'absent'})`;
  }
  return undefined;
}

function newAccumulator(p: EvalProtocol): EvalAccumulator {
  return new EvalAccumulator({ total: p.n, featureDim: p.net.featureDim, logitClasses: p.net.logitClasses,
    modelClasses: p.model.numClasses, keep: p.keep, splits: p.splits, blockSize: p.blockSize });
}

/**
 * Runs shard k of n of an evaluation, writing its state to `statePath` after every block of
 * samples (all or nothing), and resuming from that file when it holds an unfinished run under
 * the same protocol. Returns the finished state.
 */
export async function runEvalShard(client: EngineClient, req: EvalRequest, statePath: string, signal: AbortSignal,
  onProgress: (p: EvalProgress) => void = () => {}, log: (line: string) => void = () => {}, ref?: LoadedReference):
  Promise<{ state: EvalState<EvalProtocol>; model: PmfModelInfo; net: FeatureNetInfo; provider: string; generateMs: number; featuresMs: number }> {
  const model = await client.load(req.modelPath, req.provider, signal, req.threads);
  const net = await client.loadFeatureNet(req.netPath, req.provider, signal, req.threads);
  const info = model.info;
  if (info.kind !== 'image') throw new Error(`${req.modelPath} is a toy model: pmf eval evaluates image models.`);
  log(`hashing ${basename(req.modelPath)} and ${basename(req.netPath)} for the protocol`);
  const [modelSha, netSha] = await Promise.all([onnxContentSha256(req.modelPath), onnxContentSha256(req.netPath)]);
  const protocol: EvalProtocol = {
    tool: 'pmf eval', version: 1,
    model: { file: basename(req.modelPath), name: info.name, sha256: modelSha, numClasses: info.numClasses,
      sampleShape: info.sampleShape, dataRange: info.dataRange },
    net: { file: basename(req.netPath), name: net.info.name, sha256: netSha, resize: net.info.resize,
      featureDim: net.info.featureDim, logitClasses: net.info.logitClasses, source: net.info.source,
      classNames: net.info.classNames, realData: net.info.realData },
    images: UINT8_RULE, samples: SAMPLE_RULE,
    n: req.n, seed: req.seed, sampling: { steps: req.steps, omega: req.omega, tMin: req.tMin, tMax: req.tMax,
      ...(info.modelType === 'flow-matching' ? { solver: req.solver ?? info.defaultSolver ?? 'euler' } : {}),
      ...(req.noiseScale !== undefined && req.noiseScale !== 1 ? { noiseScale: req.noiseScale } : {}) },
    keep: Math.min(req.keep, req.n), splits: req.splits, blockSize: EVAL_BLOCK,
  };
  if (ref) checkReference(ref, protocol); // before any work
  const { start, end } = shardRange(req.n, req.shard.k, req.shard.of, EVAL_BLOCK);
  let state: EvalState<EvalProtocol> = { protocol, start, end, done: 0, accumulator: newAccumulator(protocol) };
  if (existsSync(statePath)) {
    const saved = await readEvalState<EvalProtocol>(statePath);
    const diff = protocolDifference(saved.protocol, protocol);
    if (diff) {
      throw new Error(`${statePath} holds an evaluation under other settings: they differ in ${diff}. ` +
        `Pass another --state (or --out) for this run, or delete that file to start again.`);
    }
    if (saved.start !== start || saved.end !== end) {
      throw new Error(`${statePath} holds samples ${saved.start}..${saved.end - 1}, but shard ${req.shard.k + 1}/${req.shard.of} ` +
        `is samples ${start}..${end - 1}. Pass the state file of this shard.`);
    }
    state = saved;
    if (saved.done > 0) log(`resuming ${statePath}: ${saved.done} of ${end - start} samples already done`);
  }
  const resumed = state.done;
  let generateMs = 0;
  let featuresMs = 0;
  onProgress({ done: state.done, total: end - start, resumed, generateMs, featuresMs });
  while (start + state.done < end) {
    const from = start + state.done;
    // up to the next block boundary: every saved state holds whole blocks but the run's last
    const to = Math.min(end, (Math.floor(from / EVAL_BLOCK) + 1) * EVAL_BLOCK);
    const r = await client.evalSamples({ modelId: model.modelId, netId: net.netId, start: from, count: to - from, seed: req.seed,
      steps: req.steps, omega: req.omega, tMin: req.tMin, tMax: req.tMax, batchSize: req.batchSize,
      ...(protocol.sampling.solver ? { solver: protocol.sampling.solver } : {}),
      ...(protocol.sampling.noiseScale !== undefined ? { noiseScale: protocol.sampling.noiseScale } : {}) }, signal,
    (d) => onProgress({ done: state.done + d, total: end - start, resumed, generateMs, featuresMs }));
    const probs = r.logits ? softmaxRows(r.logits, net.info.logitClasses) : undefined;
    state.accumulator.add(from, r.features, probs, r.classes);
    state.done = to - start;
    generateMs += r.generateMs;
    featuresMs += r.featuresMs;
    await writeEvalState(statePath, state);
    onProgress({ done: state.done, total: end - start, resumed, generateMs, featuresMs });
  }
  if (resumed === end - start && !existsSync(statePath)) await writeEvalState(statePath, state);
  return { state, model: info, net: net.info, provider: net.provider, generateMs, featuresMs };
}

/** Merges shard states (each of the same protocol, disjoint samples); checks they cover the run. */
export async function mergeEvalStates(paths: readonly string[]): Promise<EvalState<EvalProtocol>> {
  if (paths.length === 0) throw new Error('--merge needs the shards\' state files');
  const states = await Promise.all(paths.map((p) => readEvalState<EvalProtocol>(p)));
  const first = states[0];
  const acc = newAccumulator(first.protocol);
  const covered: Array<[number, number, string]> = [];
  states.forEach((s, i) => {
    const diff = protocolDifference(first.protocol, s.protocol);
    if (diff) throw new Error(`${paths[i]} and ${paths[0]} are shards of different evaluations: they differ in ${diff}.`);
    if (s.start + s.done < s.end) {
      throw new Error(`${paths[i]} is unfinished: ${s.done} of its ${s.end - s.start} samples are done. Run that shard again (it resumes).`);
    }
    covered.push([s.start, s.end, paths[i]]);
    try {
      acc.merge(s.accumulator);
    } catch (e) {
      throw new Error(`${paths[i]} cannot be merged: ${(e as Error).message}.`);
    }
  });
  covered.sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [s, e, p] of covered) {
    if (s > at) throw new Error(`samples ${at}..${s - 1} are in none of the shards given (the next one is ${p}): pass every shard's file.`);
    at = Math.max(at, e);
  }
  if (at < first.protocol.n) throw new Error(`samples ${at}..${first.protocol.n - 1} are in none of the shards given: pass every shard's file.`);
  return { protocol: first.protocol, start: 0, end: first.protocol.n, done: first.protocol.n, accumulator: acc };
}

export interface EvalScores {
  n: number;
  fd: { value: number; meanTerm: number; traceTerm: number; referenceCount?: number };
  classConsistency?: { overall: number; perClass: number[]; classNames?: string[] };
  inceptionScore?: { mean: number; std: number; splits: number };
  precisionRecall?: { precision: number; recall: number; k: number; samples: number; reference: number };
  densityCoverage?: { density: number; coverage: number; k: number };
  /** What the reference's own data scores with this network (the net's model card). */
  realData?: Record<string, unknown>;
  notes: string[];
}

/** Throws when the reference cannot be compared with the run's features (another dimension, another network). */
export function checkReference(ref: LoadedReference, p: EvalProtocol): void {
  if (ref.dim !== p.net.featureDim) {
    const made = ref.net ? ` (made with ${ref.net.file})` : '';
    throw new Error(`${ref.path} holds ${ref.dim}-dimensional statistics${made}; ${p.net.file} gives ${p.net.featureDim} features. ` +
      'Use a reference made with the same feature network (pmf eval-ref).');
  }
  if (ref.net && ref.net.sha256 !== p.net.sha256) {
    throw new Error(`${ref.path} was made with ${ref.net.file} (sha256 ${ref.net.sha256.slice(0, 12)}...), this run uses ` +
      `${p.net.file} (${p.net.sha256.slice(0, 12)}...): their features are not comparable. Make the reference with this network.`);
  }
}

/**
 * Why a run has no class-consistency although its network has logits: they are not the model's
 * classes (Inception-v3's 1008 outputs are not ImageNet's 1000 classes in their order), so
 * "argmax = the class it was made for" would measure nothing.
 */
function classConsistencyNote(p: EvalProtocol): string {
  return `no class-consistency: ${p.net.file} has ${p.net.logitClasses} classes, ${p.model.file} makes ${p.model.numClasses}; ` +
    'it needs a classifier of the model\'s own classes, in their order (Inception-v3\'s 1008 are not ImageNet\'s 1000)';
}

/** The scores of a finished run against reference statistics (FD's O(d³) part on worker threads: parallelFrechet.ts). */
export async function scoreEval(state: EvalState<EvalProtocol>, ref: LoadedReference): Promise<EvalScores> {
  const p = state.protocol;
  const acc = state.accumulator;
  const notes: string[] = [];
  checkReference(ref, p);
  if (!ref.net) notes.push(`${basename(ref.path)} does not say how it was made: its feature dimension matches, but check that it comes from the same network and pixel pipeline`);
  const m = acc.statistics.finish();
  const fd = await frechetDistanceParallel(m.mean, m.covariance, ref.mu, ref.sigma);
  const scores: EvalScores = {
    n: m.count,
    fd: { value: fd.distance, meanTerm: fd.meanTerm, traceTerm: fd.trace1 + fd.trace2 - 2 * fd.traceSqrtProduct, referenceCount: ref.count },
    notes,
  };
  const cc = acc.classConsistency();
  if (cc && p.net.logitClasses === p.model.numClasses) scores.classConsistency = { ...cc, classNames: p.net.classNames ?? undefined };
  else if (cc) notes.push(classConsistencyNote(p));
  const is = acc.inceptionScore();
  if (is) scores.inceptionScore = { mean: is.mean, std: is.std, splits: is.splits };
  const kept = acc.keptFeatures();
  if (ref.features && kept.indices.length >= 6 && ref.features.length / ref.dim >= 6) {
    // as many real images as generated ones (the first of each): the k-NN balls then have comparable scales
    const m = Math.min(kept.indices.length, ref.features.length / ref.dim);
    const mm = manifoldMetrics(ref.features.subarray(0, m * ref.dim), kept.features.subarray(0, m * ref.dim), ref.dim, 3, 5);
    scores.precisionRecall = { ...mm.precisionRecall, samples: m, reference: m };
    scores.densityCoverage = mm.densityCoverage;
  } else if (!ref.features) {
    notes.push(`precision/recall and density/coverage need the reference's features; ${basename(ref.path)} has only mu and sigma (make one with pmf eval-ref)`);
  }
  if (p.net.realData) scores.realData = p.net.realData;
  return scores;
}

/** The scores as lines for people. */
export function describeScores(p: EvalProtocol, s: EvalScores, refPath: string): string {
  const f = (x: number, d = 4) => x.toFixed(d);
  const lines = [
    `${p.model.name || p.model.file}: ${s.n} samples (seed ${p.seed}; ${p.sampling.steps} ` +
      `${p.sampling.solver ? `${p.sampling.solver} ` : ''}step(s), omega ${p.sampling.omega}, ` +
      `interval [${p.sampling.tMin}, ${p.sampling.tMax}]${p.sampling.noiseScale !== undefined ? `, noise scale x${p.sampling.noiseScale}` : ''})`,
    `features: ${p.net.name} (${p.net.file}, sha256 ${p.net.sha256.slice(0, 12)}..., ${p.net.featureDim}-d, resize ${p.net.resize}); ` +
      `reference ${basename(refPath)}${s.fd.referenceCount ? ` (${s.fd.referenceCount} images)` : ''}`,
    `  FD            ${f(s.fd.value)}   (mean term ${f(s.fd.meanTerm)}, trace term ${f(s.fd.traceTerm)})`,
  ];
  if (s.classConsistency) lines.push(`  class-consistency ${f(s.classConsistency.overall)}`);
  if (s.inceptionScore) lines.push(`  Inception Score ${f(s.inceptionScore.mean, 3)} ± ${f(s.inceptionScore.std, 3)} (${s.inceptionScore.splits} splits)`);
  if (s.precisionRecall) {
    lines.push(`  precision ${f(s.precisionRecall.precision)}  recall ${f(s.precisionRecall.recall)}  (k ${s.precisionRecall.k}, ` +
      `${s.precisionRecall.samples} samples vs ${s.precisionRecall.reference} real)`);
  }
  if (s.densityCoverage) lines.push(`  density ${f(s.densityCoverage.density)}  coverage ${f(s.densityCoverage.coverage)}  (k ${s.densityCoverage.k})`);
  const real = Object.entries(s.realData ?? {}).filter(([, v]) => typeof v === 'number');
  if (real.length) lines.push(`  real data with this network: ${real.map(([k, v]) => `${k} ${f(v as number)}`).join(', ')} (its model card; the JSON has the protocol)`);
  for (const n of s.notes) lines.push(`  note: ${n}`);
  return lines.join('\n') + '\n';
}
