// onnxruntime sessions: loading with the provider policy, the optimised model cache and the
// memory check, a cache of sessions, and running contract feeds.
import { createHash } from 'node:crypto';
import { readFileSync, statfsSync } from 'node:fs';
import { arch, cpus, freemem, platform } from 'node:os';
import { dirname } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CheckpointError } from '../core/checkpoint';
import { readOnnxHeader } from '../core/checkpoint/onnxReader';
import { FeatureNetError, type FeatureNetInfo, readFeatureNet } from '../core/eval/featureNet';
import { InspectError } from '../core/checkpoint/inspect/types';
import type { PmfModelInfo } from '../core/checkpoint/types';
import type { Feeds } from '../core/sampler';
import { cacheFromEnv, ENTRY_WEIGHTS, ModelCache } from '../node/modelCache';
import { type OnnxFile, openModelFile, openOnnxFile } from '../node/modelFile';
import { EngineFailure } from './errors';
import type { LoadPhase, ModelCacheUse, Provider, ProviderSetting } from './protocol';
import { executionProviders, providerReport } from './providers';

/** A loaded session: a pMF generator (info: its contract) or a feature network (docs/evaluation.md). */
export interface LoadedModel<I = PmfModelInfo> {
  id: string;
  kind: I extends FeatureNetInfo ? 'feature-net' : 'generator';
  path: string;
  info: I;
  session: ort.InferenceSession;
  provider: Provider;
  skipped: Array<{ provider: Provider; reason: string }>;
  loadMs: number;
  weightBytes: number;
  modelCache: ModelCacheUse;
}

/** Reports a load phase: what it is, for people, and the weights' size once known. */
export type LoadReporter = (phase: LoadPhase, message: string, weightBytes?: number) => void;

/**
 * Memory a load may take, as a multiple of the weights: measured on the B/16-sized model (473 MB
 * of weights, bench/load.ts): 1.2x after a load from the optimised model cache and after a plain
 * load, 2.2x at the peak of a first load, which optimises and saves (then frees that and loads
 * what it saved). The margins cover onnxruntime's own buffers.
 */
export const LOAD_FACTOR = 1.5;
export const OPTIMISE_FACTOR = 2.5;
/** Disk a cache entry takes, as a multiple of the weights (the optimised weights and their packed copies). */
const ENTRY_DISK_FACTOR = 2.2;

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GB`;
  if (n >= 2 ** 20) return `${Math.round(n / 2 ** 20)} MB`;
  return `${Math.round(n / 2 ** 10)} kB`;
}

/**
 * Memory this process may still take: PMF_MEMORY_LIMIT_BYTES when set (tests), else Linux's
 * MemAvailable (free memory plus what the kernel can reclaim), bounded by a cgroup's limit (a
 * container), else os.freemem().
 */
export function availableMemory(env: NodeJS.ProcessEnv = process.env): { bytes: number; source: string } {
  const fake = env.PMF_MEMORY_LIMIT_BYTES;
  if (fake && /^\d+$/.test(fake.trim())) return { bytes: Number(fake), source: 'PMF_MEMORY_LIMIT_BYTES' };
  const read = (p: string) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  };
  const kb = /^MemAvailable:\s+(\d+) kB/m.exec(read('/proc/meminfo') ?? '');
  let best = kb ? { bytes: Number(kb[1]) * 1024, source: 'available memory' } : { bytes: freemem(), source: 'free memory' };
  const max = read('/sys/fs/cgroup/memory.max')?.trim();
  const current = Number(read('/sys/fs/cgroup/memory.current')?.trim());
  if (max && /^\d+$/.test(max) && Number.isFinite(current)) {
    const room = Math.max(0, Number(max) - current);
    if (room < best.bytes) best = { bytes: room, source: "the container's memory limit" };
  }
  return best;
}

/** Free disk space at `dir` (or its nearest existing parent), or Infinity when it cannot be told. */
function freeDisk(dir: string): number {
  for (let d = dir; ; d = dirname(d)) {
    try {
      const s = statfsSync(d);
      return s.bavail * s.bsize;
    } catch {
      if (dirname(d) === d) return Infinity;
    }
  }
}

function toOrtFeeds(feeds: Feeds): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, f] of Object.entries(feeds)) {
    if (!f) continue;
    out[name] = f.type === 'int64' ? new ort.Tensor('int64', f.data, f.dims) : new ort.Tensor('float32', f.data, f.dims);
  }
  return out;
}

/** Lets a progress notification go out before onnxruntime's load, which holds this thread. */
function yieldToLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Sessions kept at once; loading another releases the least recently used. */
export const MAX_SESSIONS = 4;

export class SessionCache {
  /** In use order: the most recently used last. */
  private readonly models = new Map<string, LoadedModel | LoadedModel<FeatureNetInfo>>();

  constructor(private readonly maxSessions = MAX_SESSIONS) {}

  has(id: string): boolean {
    return this.models.has(id);
  }

  /** The loaded generator `id` (marked as most recently used). */
  get(id: string): LoadedModel {
    const m = this.touch(id);
    if (m.kind !== 'generator') throw new EngineFailure('bad-request', `${m.path} is a feature network, not a pMF generator.`);
    return m;
  }

  /** The loaded feature network `id`. */
  getFeatureNet(id: string): LoadedModel<FeatureNetInfo> {
    const m = this.touch(id);
    if (m.kind !== 'feature-net') throw new EngineFailure('bad-request', `${m.path} is a pMF generator, not a feature network.`);
    return m;
  }

  private touch(id: string): LoadedModel | LoadedModel<FeatureNetInfo> {
    const m = this.models.get(id);
    if (!m) {
      throw new EngineFailure('unknown-model', `Model ${id} is not loaded (the engine may have restarted, or released it ` +
        `to load others): load it again.`);
    }
    this.models.delete(id); // mark as most recently used
    this.models.set(id, m);
    return m;
  }

  private async add(m: LoadedModel | LoadedModel<FeatureNetInfo>): Promise<void> {
    this.models.set(m.id, m);
    while (this.models.size > this.maxSessions) {
      const oldest = this.models.keys().next().value as string;
      await this.unload(oldest);
    }
  }

  /** The optimised model cache (PMF_CACHE_DIR, which the client sets), or none. */
  private readonly modelCache: ModelCache | undefined = cacheFromEnv();

  /** Loads (or reuses) a checkpoint on the provider the setting resolves to. */
  async load(path: string, setting: ProviderSetting, threads = 0, report: LoadReporter = () => {}):
    Promise<{ model: LoadedModel; cached: boolean }> {
    const r = await this.loadFile(path, setting, threads, report, 'generator', openModelFile);
    return { model: r.model as LoadedModel, cached: r.cached };
  }

  /** Loads (or reuses) a feature network (docs/evaluation.md, "Feature networks"). */
  async loadFeatureNet(path: string, setting: ProviderSetting, threads = 0, report: LoadReporter = () => {}):
    Promise<{ model: LoadedModel<FeatureNetInfo>; cached: boolean }> {
    const r = await this.loadFile(path, setting, threads, report, 'feature-net',
      (p) => openOnnxFile(p, (header, fileName) => readFeatureNet(readOnnxHeader(header, fileName), fileName)));
    return { model: r.model as LoadedModel<FeatureNetInfo>, cached: r.cached };
  }

  private async loadFile<I extends PmfModelInfo | FeatureNetInfo>(path: string, setting: ProviderSetting, threads: number,
    report: LoadReporter, kind: 'generator' | 'feature-net', open: (path: string) => OnnxFile<I>):
    Promise<{ model: LoadedModel | LoadedModel<FeatureNetInfo>; cached: boolean }> {
    const t0 = performance.now();
    report('reading', `reading ${path}`);
    let file: OnnxFile<I>;
    try {
      // The model and its external data: regular files only (a FIFO is refused, not handed to
      // onnxruntime to block on), the contract from the header, never the weights.
      file = open(path);
    } catch (e) {
      if (e instanceof CheckpointError || e instanceof FeatureNetError) throw new EngineFailure('checkpoint', e.message);
      if (e instanceof InspectError) throw new EngineFailure(e.code === 'not-a-file' ? 'not-found' : 'checkpoint', e.message);
      throw new EngineFailure('not-found', `Cannot read ${path}: ${errorText(e)}`);
    }
    const id = createHash('sha256').update(`${kind}\0${path}\0${file.contentKey}\0${setting}\0${threads}`).digest('hex').slice(0, 16);
    if (this.models.has(id)) return { model: this.touch(id), cached: true };
    const info = file.info;

    const memory = availableMemory();
    const need = file.weightBytes * LOAD_FACTOR;
    if (need > memory.bytes) {
      throw new EngineFailure('memory', `${file.fileName} needs about ${formatBytes(need)} of memory to load ` +
        `(${formatBytes(file.weightBytes)} of weights x ${LOAD_FACTOR}), but only ${formatBytes(memory.bytes)} is free ` +
        `(${memory.source}). Close other programs, release other models, or use a machine with more memory.`);
    }
    const report_ = providerReport();
    const order: Provider[] = setting === 'auto' ? report_.autoOrder : [setting];
    const skipped: LoadedModel['skipped'] = [];
    if (setting === 'auto') {
      for (const p of ['cuda', 'webgpu'] as const) {
        if (!order.includes(p)) skipped.push({ provider: p, reason: report_.available[p].reason });
      }
    } else if (!report_.available[setting].usable) {
      throw new EngineFailure('provider', `The ${setting} execution provider cannot run here: ${report_.available[setting].reason}.`);
    }
    for (const provider of order) {
      try {
        const { session, modelCache } = await this.createSession(file, provider, threads, memory.bytes, (phase, message) =>
          report(phase, message, file.weightBytes));
        const model = { id, kind, path, info, session, provider, skipped, loadMs: performance.now() - t0,
          weightBytes: file.weightBytes, modelCache } as LoadedModel | LoadedModel<FeatureNetInfo>;
        await this.add(model);
        report('ready', `${file.fileName} is loaded on ${provider}`, file.weightBytes);
        return { model, cached: false };
      } catch (e) {
        skipped.push({ provider, reason: errorText(e).split('\n')[0] });
        if (setting !== 'auto') {
          throw new EngineFailure('provider', `The ${provider} execution provider failed to load ${file.fileName}: ${errorText(e)}`);
        }
      }
    }
    throw new EngineFailure('runtime', `No execution provider could load ${file.fileName}: ` +
      skipped.map((s) => `${s.provider}: ${s.reason}`).join('; '));
  }

  /** Why the optimised model cache is not used for this load, or undefined when it is. */
  private cacheUnusable(file: OnnxFile<unknown>, provider: Provider, cache: ModelCache | undefined): string | undefined {
    if (!cache) return 'no cache folder is set';
    if (provider !== 'cpu') {
      return `the cache serves the CPU provider only (the optimised graphs of GPU providers hold their own nodes)`;
    }
    if (file.weightBytes < cache.limits.minWeightBytes) {
      return `${formatBytes(file.weightBytes)} of weights load quickly as they are`;
    }
    return undefined;
  }

  /**
   * A session for `file` on `provider`. With the optimised model cache: the cached optimised
   * model when there is one (onnxruntime's optimisations off, the weights already packed);
   * otherwise the model is optimised once into a new cache entry, that session released (its
   * peak memory goes back to the system) and the entry loaded, so a first load and a cached one
   * run the same graph. Without the cache (none set, a GPU provider, a small model, too little
   * memory or disk to write an entry, a failed write): the model as it is, optimised in memory.
   */
  private async createSession(file: OnnxFile<unknown>, provider: Provider, threads: number, memory: number,
    report: (phase: LoadPhase, message: string) => void): Promise<{ session: ort.InferenceSession; modelCache: ModelCacheUse }> {
    const base: ort.InferenceSession.SessionOptions = {
      executionProviders: executionProviders(provider),
      ...(threads > 0 ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
    };
    const plain = async (reason: string) => {
      report('loading', `loading ${file.fileName} on ${provider} (${formatBytes(file.weightBytes)} of weights)`);
      await yieldToLoop();
      return { session: await ort.InferenceSession.create(file.path, { ...base, graphOptimizationLevel: 'all' }),
        modelCache: { state: 'unused' as const, reason } };
    };
    const cache = this.modelCache;
    const unusable = this.cacheUnusable(file, provider, cache);
    if (unusable || !cache) return plain(unusable ?? 'no cache');
    const key = ModelCache.key({
      content: file.contentKey, onnxruntime: ort.env.versions?.common ?? 'unknown', provider, level: 'all', prepacked: true,
      cpu: cpus()[0]?.model ?? 'unknown', arch: arch(), platform: platform(),
    });
    const fromCache = async (entry: string) => {
      await yieldToLoop();
      return ort.InferenceSession.create(entry, { ...base, graphOptimizationLevel: 'disabled' });
    };
    const hit = cache.lookup(key);
    if (hit) {
      report('cached', `loading ${file.fileName} from the optimised model cache`);
      try {
        return { session: await fromCache(hit), modelCache: { state: 'hit' } };
      } catch (e) {
        cache.remove(key); // onnxruntime could not read it: built again below
        process.stderr.write(`optimised model cache entry ${key} failed to load and was removed: ${errorText(e)}\n`);
      }
    }
    const needMemory = file.weightBytes * OPTIMISE_FACTOR;
    if (needMemory > memory) {
      return plain(`optimising into the cache takes about ${formatBytes(needMemory)} of memory, ${formatBytes(memory)} is free`);
    }
    const needDisk = file.weightBytes * ENTRY_DISK_FACTOR;
    const disk = freeDisk(cache.root);
    if (needDisk > disk) {
      return plain(`a cache entry takes about ${formatBytes(needDisk)} of disk, ${formatBytes(disk)} is free in ${cache.root}`);
    }
    report('optimising', `optimising ${file.fileName} for the CPU (the first load of this file; later loads use the cache)`);
    await yieldToLoop();
    let entry: string;
    const staging = cache.stage(key);
    try {
      const optimising = await ort.InferenceSession.create(file.path, {
        ...base,
        graphOptimizationLevel: 'all',
        optimizedModelFilePath: staging.modelPath,
        // onnxruntime's warning that an 'all'-level model suits this machine only: the key holds the CPU
        logSeverityLevel: 3,
        extra: {
          session: {
            // the initializers in a file beside the graph: a model over protobuf's 2 GB limit saves too
            optimized_model_external_initializers_file_name: ENTRY_WEIGHTS,
            optimized_model_external_initializers_min_size_in_bytes: '1024',
            // and the CPU kernels' packed weights, so a cached load does not pack them again
            save_external_prepacked_constant_initializers: '1',
          },
        },
      });
      await optimising.release();
      entry = staging.commit({ model: file.path, parts: file.parts.map((p) => ({ ...p, mtimeNs: String(p.mtimeNs) })),
        weightBytes: file.weightBytes, onnxruntime: ort.env.versions?.common, provider, cpu: cpus()[0]?.model,
        written: new Date().toISOString() });
    } catch (e) {
      staging.discard();
      return plain(`the optimised model could not be saved: ${errorText(e).split('\n')[0]}`);
    }
    report('cached', `loading the optimised ${file.fileName}`);
    return { session: await fromCache(entry), modelCache: { state: 'written' } };
  }

  /** Runs the network on contract feeds; returns its single output. */
  async run(model: LoadedModel, feeds: Feeds): Promise<{ data: Float32Array; dims: number[] }> {
    const [out] = await this.runOutputs(model, toOrtFeeds(feeds), [model.session.outputNames[0]]);
    return out;
  }

  /** Runs a session on ready tensors; returns the named outputs, copied out of onnxruntime's buffers. */
  async runOutputs(model: LoadedModel | LoadedModel<FeatureNetInfo>, feeds: Record<string, ort.Tensor>,
    names: readonly string[]): Promise<Array<{ data: Float32Array; dims: number[] }>> {
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await model.session.run(feeds, [...names]);
    } catch (e) {
      throw new EngineFailure('runtime', `onnxruntime (${model.provider}) failed: ${errorText(e)}`);
    }
    // Copy out of onnxruntime's buffer so the caller owns (and may transfer) it.
    return names.map((name) => ({ data: new Float32Array(result[name].data as Float32Array), dims: result[name].dims.map(Number) }));
  }

  async unload(id: string): Promise<void> {
    const m = this.models.get(id);
    if (!m) return;
    this.models.delete(id);
    await m.session.release();
  }
}
