// The `pmf generate` and `pmf eval` command lines of a guidance setting, as "Use these settings"
// (pMF: Explore Guidance) copies them: the same sampling from a terminal, and its evaluation at
// the usual count (10,000 samples) with the feature network and reference the sweep used.
import type { SamplingSettings } from '../../core/checkpoint/types';

/** " --noise-scale S" when the settings' noise scale is not 1 (absent: 1), else "". */
export function noiseScaleFlag(s: { noiseScale?: number }): string {
  return s.noiseScale !== undefined && s.noiseScale !== 1 ? ` --noise-scale ${s.noiseScale}` : '';
}

/** Quotes an argument for a POSIX shell when it needs it. */
export function shellQuote(s: string): string {
  return /^[\w./:@+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface CommandLineInput {
  /** How pmf names the model: the bundled name or the path. */
  modelSpec: string;
  /** noiseScale: the sampling noise scale (absent or 1: the model's own noise). */
  settings: SamplingSettings & { noiseScale?: number };
  hasCfg: boolean;
  /** The feature network and the reference statistics (paths or bundled names); placeholders without them. */
  net?: string;
  reference?: string;
  /** Samples for pmf eval (default 10000, the usual count). */
  n?: number;
  seed?: number;
}

function samplingFlags(s: CommandLineInput['settings'], hasCfg: boolean): string {
  return `--steps ${s.steps}` + (hasCfg ? ` --omega ${s.omega} --t-min ${s.tMin} --t-max ${s.tMax}` : '') + noiseScaleFlag(s);
}

export function generateCommand(i: CommandLineInput): string {
  return `pmf generate --model ${shellQuote(i.modelSpec)} ${samplingFlags(i.settings, i.hasCfg)}`;
}

export function evalCommand(i: CommandLineInput): string {
  return `pmf eval ${shellQuote(i.modelSpec)} --net ${i.net ? shellQuote(i.net) : 'NET.onnx'} --ref ${i.reference ? shellQuote(i.reference) : 'REF.npz'} ` +
    `--n ${i.n ?? 10000} --seed ${i.seed ?? 0} ${samplingFlags(i.settings, i.hasCfg)}`;
}
