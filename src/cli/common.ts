// What the pmf commands share: exit codes, usage errors, number and provider options, models, the engine.
import { basename, join, resolve } from 'node:path';
import { FLOW_SOLVERS, type FlowSolver, type PmfModelInfo } from '../core/checkpoint/types';
import { EngineClient } from '../engine/client';
import { NOISE_SCALE_RANGE, type ProviderSetting } from '../engine/protocol';
import { resolveModel } from '../node/bundled';
import { cliCacheDir } from '../node/modelCache';
import { openModelFile } from '../node/modelFile';

export const ROOT = resolve(__dirname, '..');
export const EXIT = { ok: 0, runtime: 1, usage: 2, checkpoint: 3, provider: 4, cancelled: 130 } as const;

/** A mistake in the command line: exit code 2, with the usage. */
export class UsageError extends Error {}

/** The option's number, or `fallback` when it is absent. */
export function num(v: string | undefined, name: string, fallback: number, integer = false): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || (integer && !Number.isInteger(x))) {
    throw new UsageError(`--${name} expects ${integer ? 'an integer' : 'a number'}, got '${v}'`);
  }
  return x;
}

/** --provider: auto, cuda, webgpu or cpu. */
export function provider(v: string | undefined): ProviderSetting {
  const p = v ?? 'auto';
  if (!['auto', 'cuda', 'webgpu', 'cpu'].includes(p)) throw new UsageError(`--provider must be auto, cuda, webgpu or cpu, got '${p}'`);
  return p as ProviderSetting;
}

/**
 * A model path or bundled name, and its checkpoint contract (read without running it, from the
 * file's header: a model of several GB, or one with its weights in a file beside it, is not read whole).
 */
export function loadInfo(spec: string): { path: string; info: PmfModelInfo } {
  const path = resolveModel(spec, ROOT);
  return { path, info: openModelFile(path).info };
}

/**
 * An engine process (dist/engine.js next to the CLI); PMF_DEBUG=1 shows its log. Optimised models
 * are cached in cliCacheDir() ($XDG_CACHE_HOME/pmf-lab or ~/.cache/pmf-lab; PMF_CACHE_DIR
 * overrides it, PMF_CACHE_DIR=off turns the cache off).
 */
export function engine(): EngineClient {
  return new EngineClient({
    enginePath: join(__dirname, 'engine.js'),
    log: process.env.PMF_DEBUG ? (m) => process.stderr.write(`[engine] ${m}\n`) : undefined,
    cacheDir: cliCacheDir(),
  });
}

/**
 * --solver euler|heun: the ODE solver of a flow-matching model (pmf generate, eval, sweep,
 * fields); undefined when absent (the model's default). On a MeanFlow model it is a usage error.
 */
export function solverOption(v: string | undefined, info: PmfModelInfo, path: string): FlowSolver | undefined {
  if (v === undefined) return undefined;
  if (!FLOW_SOLVERS.includes(v as FlowSolver)) throw new UsageError(`--solver must be ${FLOW_SOLVERS.join(' or ')}, got '${v}'`);
  if (info.modelType !== 'flow-matching') {
    throw new UsageError(`--solver is for flow-matching models; ${basename(path)} is a MeanFlow model (its sampler has no ODE solver)`);
  }
  return v as FlowSolver;
}

/**
 * --noise-scale S: the sampling noise scale, a multiplier of the model's own pmf.noise_scale
 * (z_1 = S * noise_scale * e; 1, the default, is the noise it was trained on), in NOISE_SCALE_RANGE
 * (Explore Guidance's slider). Undefined when absent or 1.
 */
export function noiseScaleOption(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const [lo, hi] = NOISE_SCALE_RANGE;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < lo || x > hi) {
    throw new UsageError(`--noise-scale expects a number from ${lo} to ${hi} (a multiplier of the model's noise scale; 1 = as trained), got '${v}'`);
  }
  return x === 1 ? undefined : x;
}
