// What the pmf commands share: exit codes, usage errors, number and provider options, models, the engine.
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readCheckpoint } from '../core/checkpoint';
import type { PmfModelInfo } from '../core/checkpoint/types';
import { EngineClient } from '../engine/client';
import type { ProviderSetting } from '../engine/protocol';
import { resolveModel } from '../node/bundled';

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

/** A model path or bundled name, and its checkpoint contract (read without running it). */
export function loadInfo(spec: string): { path: string; info: PmfModelInfo } {
  const path = resolveModel(spec, ROOT);
  const bytes = readFileSync(path);
  return { path, info: readCheckpoint(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), basename(path)) };
}

/** An engine process (dist/engine.js next to the CLI); PMF_DEBUG=1 shows its log. */
export function engine(): EngineClient {
  return new EngineClient({
    enginePath: join(__dirname, 'engine.js'),
    log: process.env.PMF_DEBUG ? (m) => process.stderr.write(`[engine] ${m}\n`) : undefined,
  });
}
