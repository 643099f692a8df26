// onnxruntime sessions: loading with the provider policy, a cache, and running contract feeds.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readCheckpoint } from '../core/checkpoint';
import { InspectError } from '../core/checkpoint/inspect/types';
import type { PmfModelInfo } from '../core/checkpoint/types';
import type { Feeds } from '../core/sampler';
import { readRegularFile } from '../node/regularFile';
import { EngineFailure } from './errors';
import type { Provider, ProviderSetting } from './protocol';
import { executionProviders, providerReport } from './providers';

export interface LoadedModel {
  id: string;
  path: string;
  info: PmfModelInfo;
  session: ort.InferenceSession;
  provider: Provider;
  skipped: Array<{ provider: Provider; reason: string }>;
  loadMs: number;
}

function toOrtFeeds(feeds: Feeds): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, f] of Object.entries(feeds)) {
    if (!f) continue;
    out[name] = f.type === 'int64' ? new ort.Tensor('int64', f.data, f.dims) : new ort.Tensor('float32', f.data, f.dims);
  }
  return out;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Sessions kept at once; loading another releases the least recently used. */
export const MAX_SESSIONS = 4;

export class SessionCache {
  /** In use order: the most recently used last. */
  private readonly models = new Map<string, LoadedModel>();

  constructor(private readonly maxSessions = MAX_SESSIONS) {}

  has(id: string): boolean {
    return this.models.has(id);
  }

  get(id: string): LoadedModel {
    const m = this.models.get(id);
    if (!m) {
      throw new EngineFailure('unknown-model', `Model ${id} is not loaded (the engine may have restarted, or released it ` +
        `to load others): load it again.`);
    }
    this.models.delete(id); // mark as most recently used
    this.models.set(id, m);
    return m;
  }

  private async add(m: LoadedModel): Promise<void> {
    this.models.set(m.id, m);
    while (this.models.size > this.maxSessions) {
      const oldest = this.models.keys().next().value as string;
      await this.unload(oldest);
    }
  }

  /** Loads (or reuses) a checkpoint on the provider the setting resolves to. */
  async load(path: string, setting: ProviderSetting, threads = 0): Promise<{ model: LoadedModel; cached: boolean }> {
    let bytes: Buffer;
    let mtime: number;
    try {
      ({ bytes, mtimeMs: mtime } = await readRegularFile(path)); // a FIFO or a device is refused, not read forever
    } catch (e) {
      throw new EngineFailure('not-found', e instanceof InspectError ? e.message : `Cannot read ${path}: ${errorText(e)}`);
    }
    const id = createHash('sha256').update(`${path}\0${mtime}\0${bytes.length}\0${setting}\0${threads}`)
      .digest('hex').slice(0, 16);
    if (this.models.has(id)) return { model: this.get(id), cached: true };

    let info: PmfModelInfo;
    try {
      info = readCheckpoint(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), basename(path));
    } catch (e) {
      throw new EngineFailure('checkpoint', errorText(e));
    }
    const report = providerReport();
    const order: Provider[] = setting === 'auto' ? report.autoOrder : [setting];
    const skipped: LoadedModel['skipped'] = [];
    if (setting === 'auto') {
      for (const p of ['cuda', 'webgpu'] as const) {
        if (!order.includes(p)) skipped.push({ provider: p, reason: report.available[p].reason });
      }
    } else if (!report.available[setting].usable) {
      throw new EngineFailure('provider', `The ${setting} execution provider cannot run here: ${report.available[setting].reason}.`);
    }
    const t0 = performance.now();
    for (const provider of order) {
      try {
        const session = await ort.InferenceSession.create(bytes, {
          executionProviders: executionProviders(provider),
          graphOptimizationLevel: 'all',
          ...(threads > 0 ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
        });
        const model: LoadedModel = { id, path, info, session, provider, skipped, loadMs: performance.now() - t0 };
        await this.add(model);
        return { model, cached: false };
      } catch (e) {
        skipped.push({ provider, reason: errorText(e).split('\n')[0] });
        if (setting !== 'auto') {
          throw new EngineFailure('provider', `The ${provider} execution provider failed to load ${basename(path)}: ${errorText(e)}`);
        }
      }
    }
    throw new EngineFailure('runtime', `No execution provider could load ${basename(path)}: ` +
      skipped.map((s) => `${s.provider}: ${s.reason}`).join('; '));
  }

  /** Runs the network on contract feeds; returns its single output. */
  async run(model: LoadedModel, feeds: Feeds): Promise<{ data: Float32Array; dims: number[] }> {
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await model.session.run(toOrtFeeds(feeds));
    } catch (e) {
      throw new EngineFailure('runtime', `onnxruntime (${model.provider}) failed: ${errorText(e)}`);
    }
    const out = result[model.session.outputNames[0]] as ort.Tensor;
    const data = out.data as Float32Array;
    // Copy out of onnxruntime's buffer so the caller owns (and may transfer) it.
    return { data: new Float32Array(data), dims: out.dims.map(Number) };
  }

  async unload(id: string): Promise<void> {
    const m = this.models.get(id);
    if (!m) return;
    this.models.delete(id);
    await m.session.release();
  }
}
