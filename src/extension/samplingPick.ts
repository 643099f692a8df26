// The sampling settings a command asks for (Generate Samples, Evaluate Checkpoint): the model's
// defaults (info.defaultSampling) or custom steps (and omega, t_min, t_max for a model with CFG inputs).
import * as vscode from 'vscode';
import type { PmfModelInfo, SamplingSettings } from '../core/checkpoint/types';

/** Parses "steps[, omega, t_min, t_max]"; a string is the reason it is not valid. */
export function parseSettings(text: string, hasCfg: boolean): SamplingSettings | string {
  const parts = text.split(/[\s,]+/).filter(Boolean).map(Number);
  if (parts.some((x) => !Number.isFinite(x))) return 'Numbers only, e.g. "1, 2.0, 0, 1"';
  const [steps, omega = 1, tMin = 0, tMax = 1] = parts;
  if (!Number.isInteger(steps) || steps < 1 || steps > 1000) return 'steps: an integer from 1 to 1000';
  if (!hasCfg) return parts.length === 1 ? { steps, omega: 1, tMin: 0, tMax: 1 } : 'This model has no CFG inputs: give steps only';
  if (parts.length !== 4) return 'Give steps, omega, t_min, t_max';
  if (omega < 1) return 'omega must be >= 1 (1 = no guidance)';
  if (!(tMin >= 0 && tMin <= tMax && tMax <= 1)) return 'The interval needs 0 <= t_min <= t_max <= 1';
  return { steps, omega, tMin, tMax };
}

export function describeSettings(s: SamplingSettings, hasCfg: boolean): string {
  return `${s.steps} step${s.steps === 1 ? '' : 's'}` + (hasCfg ? `, \u03c9 ${s.omega}, interval [${s.tMin}, ${s.tMax}]` : '');
}

/** Settings saved for this model in the workspace (pMF: Explore Guidance's "Use these settings"), offered first. */
export interface SavedSampling {
  settings: SamplingSettings;
  /** Where they come from, for the item's label ("Explore Guidance settings"). */
  label: string;
}

/**
 * title: the quick pick's title ("pMF: Evaluate Checkpoint (4/4): sampling"); command: the command's name for the input box;
 * saved: the workspace's defaults for the model, which then come first (and fill the custom box).
 */
export async function pickSampling(info: PmfModelInfo, title: string, command: string, saved?: SavedSampling): Promise<SamplingSettings | undefined> {
  const d = saved?.settings ?? info.defaultSampling;
  const choice = await vscode.window.showQuickPick([
    ...(saved ? [{ label: `${saved.label}: ${describeSettings(saved.settings, info.hasCfg)}`, description: 'this workspace', custom: false, settings: saved.settings }] : []),
    { label: `Model defaults: ${describeSettings(info.defaultSampling, info.hasCfg)}`, custom: false, settings: info.defaultSampling },
    { label: 'Custom...', description: info.hasCfg ? 'steps, omega, t_min, t_max' : 'steps', custom: true, settings: d },
  ], { title });
  if (!choice) return undefined;
  if (!choice.custom) return choice.settings;
  const text = await vscode.window.showInputBox({
    title: `${command}: Sampling settings`, prompt: info.hasCfg ? 'steps, omega, t_min, t_max' : 'steps',
    value: info.hasCfg ? `${d.steps}, ${d.omega}, ${d.tMin}, ${d.tMax}` : String(d.steps),
    validateInput: (v) => {
      const r = parseSettings(v, info.hasCfg);
      return typeof r === 'string' ? r : undefined;
    },
  });
  if (text === undefined) return undefined;
  return parseSettings(text, info.hasCfg) as SamplingSettings;
}
