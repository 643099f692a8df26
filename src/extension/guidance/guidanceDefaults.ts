// The model defaults "Use these settings" (pMF: Explore Guidance) saves for this workspace, and
// what Generate Samples and the Field Visualizer start with: those saved settings when the
// workspace has them for the model, else the checkpoint's own (info.defaultSampling), with the
// sampling noise scale when one other than 1 was saved (older entries have none: 1). Kept in
// the workspace state (vscode.ExtensionContext.workspaceState), keyed by the model's path, so
// nothing is written into the workspace's files.
import type { Memento } from 'vscode';
import type { PmfModelInfo, SamplingSettings } from '../../core/checkpoint/types';
import { SavedDefaults } from '../../shared/protocol/guidance';

export const DEFAULTS_KEY = 'pmf.guidance.defaults';

/** Sampling settings with the noise scale (absent: 1, the model's own noise; never 1 when present). */
export type SavedSettings = SamplingSettings & { noiseScale?: number };

/** Where a model's starting settings come from. */
export interface StartingSettings {
  settings: SavedSettings;
  source: 'explored' | 'model';
}

/** The saved defaults of every model (invalid entries, e.g. from an older version, are dropped). */
function all(state: Pick<Memento, 'get'>): Record<string, SavedSettings> {
  const raw = state.get<Record<string, unknown>>(DEFAULTS_KEY, {});
  const out: Record<string, SavedSettings> = {};
  for (const [path, v] of Object.entries(raw ?? {})) {
    const parsed = SavedDefaults.safeParse(v);
    if (parsed.success && parsed.data.tMin <= parsed.data.tMax) out[path] = canonical(parsed.data);
  }
  return out;
}

/** The settings with a noise scale of 1 left out (so "absent" and "1" are one thing). */
function canonical(s: SavedDefaults): SavedSettings {
  const { noiseScale, ...rest } = s;
  return noiseScale === undefined || noiseScale === 1 ? rest : { ...rest, noiseScale };
}

/** The workspace's saved defaults for the model at `modelPath`, if any. */
export function savedDefaults(state: Pick<Memento, 'get'>, modelPath: string): SavedSettings | undefined {
  return all(state)[modelPath];
}

/** Saves `settings` as the model's defaults in this workspace (validated: a bad value throws, nothing is saved). */
export async function saveDefaults(state: Memento, modelPath: string, settings: SavedSettings): Promise<SavedSettings> {
  const parsed = canonical(SavedDefaults.parse(settings));
  if (parsed.tMin > parsed.tMax) throw new RangeError(`the interval needs t_min <= t_max, got [${parsed.tMin}, ${parsed.tMax}]`);
  await state.update(DEFAULTS_KEY, { ...all(state), [modelPath]: parsed });
  return parsed;
}

/** Forgets the model's saved defaults (the checkpoint's own apply again). */
export async function clearDefaults(state: Memento, modelPath: string): Promise<void> {
  const rest = Object.fromEntries(Object.entries(all(state)).filter(([path]) => path !== modelPath));
  await state.update(DEFAULTS_KEY, rest);
}

/**
 * What a command starts with for this model: the saved defaults (when the model has guidance
 * inputs: without them only the steps and the noise scale apply), else the checkpoint's.
 */
export function startingSettings(state: Pick<Memento, 'get'>, modelPath: string, info: Pick<PmfModelInfo, 'defaultSampling' | 'hasCfg'>): StartingSettings {
  const saved = savedDefaults(state, modelPath);
  if (!saved) return { settings: info.defaultSampling, source: 'model' };
  const d = info.defaultSampling;
  const noise = saved.noiseScale !== undefined ? { noiseScale: saved.noiseScale } : {};
  return { settings: info.hasCfg ? saved : { ...d, steps: saved.steps, ...noise }, source: 'explored' };
}
