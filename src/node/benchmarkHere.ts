// "Benchmark here": a checkpoint's one-step latency on each execution provider this machine
// offers, through the engine (the CLI's `pmf bench` and the Inspect Checkpoint panel share it).
// For each provider: load the model once (the load's time and what the optimised model cache
// did), then at each batch size one untimed warm-up generation (a new shape allocates buffers and,
// on GPUs, compiles kernels) and N timed one-step generations; the median and the fastest seconds
// per batch, images per second at the median, and the engine's RSS after the runs. A provider
// that cannot load or run the model gives error rows (one per batch size) with its message; only
// a cancel (the signal) ends the whole run.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename } from 'node:path';
import { checkBenchPlan, DEFAULT_BATCHES, DEFAULT_RUNS } from '../core/benchPlan';
import type { PmfModelInfo } from '../core/checkpoint/types';
import { EngineError, type EngineClient } from '../engine/client';
import type { LoadProgressParams, LoadResult, ModelCacheUse, Provider } from '../engine/protocol';

export const ALL_PROVIDERS: readonly Provider[] = ['cuda', 'webgpu', 'cpu'];

export interface BenchOptions {
  /** The .onnx file (resolved: a path, not a bundled name). */
  modelPath: string;
  /** Providers to measure, in this order; default: every provider the engine reports usable. */
  providers?: readonly Provider[];
  /** Batch sizes; default 1 and 4. */
  batches?: readonly number[];
  /** Timed runs per batch size (after one warm-up); default 5. */
  runs?: number;
  /** Stops the benchmark: it rejects with EngineError('cancelled'). */
  signal?: AbortSignal;
  onProgress?: (p: BenchProgress) => void;
}

export interface BenchProgress {
  provider: Provider;
  /** Absent while the model loads. */
  batch?: number;
  /** For people: "cpu: batch 4, run 3 of 5", or the engine's load phase. */
  message: string;
  /** Generations (warm-ups included) done of all; a load counts as one. */
  done: number;
  total: number;
}

/** One provider at one batch size: timings, or why there are none. */
export interface BenchRow {
  provider: Provider;
  batch: number;
  ok: boolean;
  /** Why this provider could not load or run the model (ok false). */
  error?: string;
  /** The engine's error kind (provider, runtime, memory, crashed, ...). */
  errorCode?: string;
  /** The provider's model load, in seconds (the same on every row of the provider). */
  loadS?: number;
  /** Timed runs, seconds per batch (wall time through the engine's process boundary). */
  runsS?: number[];
  medianS?: number;
  minS?: number;
  /** batch / medianS. */
  imagesPerS?: number;
  /** The median of the engine's own timing of the same runs (without the IPC), seconds. */
  engineMedianS?: number;
}

export interface ProviderBench {
  provider: Provider;
  ok: boolean;
  error?: string;
  errorCode?: string;
  loadS?: number;
  /** The engine held this model on this provider already (loadS is then its earlier load). */
  alreadyLoaded?: boolean;
  /** What the optimised model cache did on this load (hit, written, unused and why). */
  modelCache?: ModelCacheUse;
  /** The engine process's resident memory after this provider's runs (Linux), bytes. */
  rssBytes?: number;
}

export interface BenchResult {
  modelPath: string;
  modelName: string;
  kind: PmfModelInfo['kind'] | undefined;
  /** Sampling the runs use: one step, the model's default guidance. */
  steps: 1;
  omega: number;
  runs: number;
  batches: number[];
  onnxruntimeVersion: string;
  platform: string;
  cpu: string;
  providers: ProviderBench[];
  /** One row per provider x batch, providers in order. */
  rows: BenchRow[];
  /** Providers the machine does not offer (not measured unless asked for), with the reason. */
  notOffered: Array<{ provider: Provider; reason: string }>;
  /** Notes on the run (a model with a fixed batch size, ...). */
  notes: string[];
}

/** The median of a non-empty list (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A process's resident memory in bytes (VmRSS from /proc; Linux only), or undefined. */
export function processRss(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const errorCode = (e: unknown) => (e instanceof EngineError ? e.code : 'runtime');
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

function cancelled(signal: AbortSignal | undefined, e?: unknown): boolean {
  return !!signal?.aborted || (e instanceof EngineError && e.code === 'cancelled');
}

/** Measures the model on each provider (see the file's comment). Rejects only when cancelled or the engine cannot start. */
export async function benchmarkHere(client: EngineClient, opts: BenchOptions): Promise<BenchResult> {
  const batches = [...new Set(opts.batches ?? DEFAULT_BATCHES)];
  const runs = opts.runs ?? DEFAULT_RUNS;
  checkBenchPlan(batches, runs);
  const signal = opts.signal;
  const throwIfCancelled = () => {
    if (signal?.aborted) throw new EngineError('cancelled', 'Cancelled');
  };
  throwIfCancelled();
  const hello = await client.hello();
  const offered = ALL_PROVIDERS.filter((p) => hello.providers.available[p].usable);
  const providers = [...new Set(opts.providers ?? offered)];
  const result: BenchResult = {
    modelPath: opts.modelPath, modelName: basename(opts.modelPath), kind: undefined, steps: 1, omega: 1, runs, batches,
    onnxruntimeVersion: hello.onnxruntimeVersion, platform: hello.platform, cpu: cpus()[0]?.model ?? 'unknown',
    providers: [], rows: [],
    notOffered: ALL_PROVIDERS.filter((p) => !offered.includes(p)).map((p) => ({ provider: p, reason: hello.providers.available[p].reason })),
    notes: [],
  };
  for (const p of providers) {
    // measured, but auto would pass it over (WebGPU on a software Vulkan driver): say why
    if (offered.includes(p) && !hello.providers.autoOrder.includes(p)) result.notes.push(`${p}: ${hello.providers.available[p].reason}`);
  }
  const fileName = basename(opts.modelPath);
  const total = providers.length * (1 + batches.length * (runs + 1));
  let done = 0;
  const report = (provider: Provider, message: string, batch?: number) =>
    opts.onProgress?.({ provider, batch, message, done, total });

  for (const provider of providers) {
    throwIfCancelled();
    const entry: ProviderBench = { provider, ok: false };
    result.providers.push(entry);
    const base = done;
    const fail = (e: unknown, batch?: number) => {
      const row = { provider, batch: batch ?? 0, ok: false, error: errorText(e), errorCode: errorCode(e), loadS: entry.loadS };
      if (batch === undefined) {
        entry.error = row.error;
        entry.errorCode = row.errorCode;
        for (const b of batches) result.rows.push({ ...row, batch: b });
      } else {
        result.rows.push(row);
      }
    };
    report(provider, `${provider}: loading ${fileName}`);
    let load: LoadResult;
    try {
      load = await client.load(opts.modelPath, provider, signal, undefined,
        (p: LoadProgressParams) => report(provider, `${provider}: ${p.message}`));
    } catch (e) {
      if (cancelled(signal, e)) throw new EngineError('cancelled', 'Cancelled');
      fail(e);
      done = base + 1 + batches.length * (runs + 1);
      continue;
    }
    done++;
    const info = load.info;
    if (result.kind === undefined) {
      result.kind = info.kind;
      if (info.name) result.modelName = info.name;
      result.omega = info.hasCfg ? info.defaultSampling.omega : 1;
      if (info.fixedBatch) {
        result.notes.push(`the model's batch size is fixed at ${info.fixedBatch}: smaller batches are padded to it, ` +
          'larger ones run in several evaluations');
      }
    }
    entry.loadS = load.loadMs / 1000;
    entry.alreadyLoaded = load.cached;
    if (load.modelCache && !load.cached) entry.modelCache = load.modelCache;
    const d = info.defaultSampling;
    let measured = 0;
    try {
      for (const batch of batches) {
        const seeds = Array.from({ length: batch }, (_, i) => i);
        const params = {
          modelId: load.modelId, seeds, labels: info.numClasses > 0 ? seeds.map((s) => s % info.numClasses) : undefined,
          steps: 1, omega: result.omega, tMin: info.hasCfg ? d.tMin : 0, tMax: info.hasCfg ? d.tMax : 1, batchSize: batch,
        };
        const runsS: number[] = [];
        const engineS: number[] = [];
        try {
          for (let r = 0; r <= runs; r++) {
            throwIfCancelled();
            report(provider, r === 0 ? `${provider}: batch ${batch}, warm-up` : `${provider}: batch ${batch}, run ${r} of ${runs}`, batch);
            const t0 = performance.now();
            const g = await client.generate(params, signal);
            const s = (performance.now() - t0) / 1000;
            done++;
            if (r > 0) {
              runsS.push(s);
              engineS.push(g.ms / 1000);
            }
          }
        } catch (e) {
          if (cancelled(signal, e)) throw new EngineError('cancelled', 'Cancelled');
          fail(e, batch);
          done = base + 1 + (batches.indexOf(batch) + 1) * (runs + 1);
          if (e instanceof EngineError && (e.code === 'crashed' || e.code === 'unknown-model')) {
            // the engine restarted without the model: the other batch sizes would fail the same way
            for (const b of batches.slice(batches.indexOf(batch) + 1)) fail(e, b);
            done = base + 1 + batches.length * (runs + 1);
            break;
          }
          continue;
        }
        const med = median(runsS);
        result.rows.push({
          provider, batch, ok: true, loadS: entry.loadS, runsS, medianS: med, minS: Math.min(...runsS),
          imagesPerS: batch / med, engineMedianS: median(engineS),
        });
        measured++;
      }
      entry.ok = measured > 0;
      if (!entry.ok && !entry.error) entry.error = result.rows.find((r) => r.provider === provider && r.error)?.error;
      entry.rssBytes = processRss(client.pid);
    } finally {
      // A model this benchmark loaded is released (its memory is not left to the next provider's
      // figures); one that the engine already held stays, for whoever loaded it.
      if (!load.cached && client.pid !== undefined) await client.unload(load.modelId).catch(() => {});
    }
  }
  return result;
}

// ---- presentation (the CLI's table; the panel builds its own from the same result) --------------

function fmtS(s: number | undefined): string {
  if (s === undefined) return '-';
  if (s >= 100) return s.toFixed(0);
  if (s >= 1) return s.toFixed(2);
  return s.toPrecision(3);
}

function fmtRate(x: number | undefined): string {
  if (x === undefined) return '-';
  return x >= 100 ? x.toFixed(0) : x.toPrecision(3);
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GB`;
  return `${Math.round(n / 2 ** 20)} MB`;
}

/** What the optimised model cache did, in a word or two. */
export function describeCache(p: ProviderBench): string {
  if (p.alreadyLoaded) return 'already loaded';
  const c = p.modelCache;
  if (!c) return '-';
  return c.state === 'hit' ? 'cache hit' : c.state === 'written' ? 'cache written' : 'no cache';
}

/** The benchmark as a small text table, with the providers not measured and why. */
export function formatBenchTable(r: BenchResult): string {
  const head = ['provider', 'load s', 'cache', 'batch', 'median s/batch', 'min s/batch', 'img/s', 'engine RSS'];
  const lines: string[][] = [];
  const errors: string[] = [];
  for (const p of r.providers) {
    const rows = r.rows.filter((x) => x.provider === p.provider);
    if (!p.ok && p.loadS === undefined) {
      lines.push([p.provider, '-', '-', rows.map((x) => x.batch).join(','), 'failed to load (below)', '', '', '']);
      errors.push(`${p.provider}: ${p.error ?? 'failed'}`);
      continue;
    }
    rows.forEach((x, i) => {
      const first = i === 0;
      lines.push([first ? p.provider : '', first ? fmtS(p.loadS) : '', first ? describeCache(p) : '', String(x.batch),
        x.ok ? fmtS(x.medianS) : 'failed (below)', x.ok ? fmtS(x.minS) : '', x.ok ? fmtRate(x.imagesPerS) : '',
        i === rows.length - 1 ? formatBytes(p.rssBytes) : '']);
      if (!x.ok) errors.push(`${p.provider}, batch ${x.batch}: ${x.error}`);
    });
  }
  const numeric = new Set([1, 3, 4, 5, 6, 7]);
  const width = head.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  const fmt = (l: string[]) => l.map((v, c) => (numeric.has(c) ? v.padStart(width[c]) : v.padEnd(width[c]))).join('  ').trimEnd();
  const out = [
    `${r.modelName} (${r.modelPath}): one step${r.omega !== 1 ? `, omega ${r.omega}` : ''}, ${r.runs} timed run(s) per batch after a warm-up; ` +
      `onnxruntime-node ${r.onnxruntimeVersion} on ${r.platform}, ${r.cpu}`,
    '',
    fmt(head),
    ...lines.map(fmt),
  ];
  if (errors.length) out.push('', ...errors.map((e) => `error: ${e}`));
  for (const n of r.notOffered) {
    if (!r.providers.some((p) => p.provider === n.provider)) out.push(`not measured: ${n.provider} (${n.reason})`);
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  return out.join('\n') + '\n';
}
