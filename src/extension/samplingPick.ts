// The sampling settings a command asks for (Generate Samples, Evaluate Checkpoint): the model's
// defaults (info.defaultSampling) or custom steps (and omega, t_min, t_max for a model that guides,
// by CFG inputs or by two passes); a flow-matching model's also its ODE solver (Euler or Heun,
// its default_sampling's first), which GenerationRequest and EvalRequest take as `solver`; and a
// sampling noise scale ("x0.7": z_1 = 0.7 * the model's noise_scale * e; 1 when absent), saved by
// Explore Guidance's "Use these settings" or typed in the custom box, GenerationRequest.noiseScale.
import * as vscode from 'vscode';
import { FLOW_SOLVERS, type FlowSolver, type PmfModelInfo, type SamplingSettings } from '../core/checkpoint/types';
import { NOISE_SCALE_RANGE } from '../engine/protocol';

/** Sampling settings with a flow-matching model's solver (absent for MeanFlow models) and a noise scale (absent: 1). */
export type PickedSampling = SamplingSettings & { solver?: FlowSolver; noiseScale?: number };

/** What the settings of a model hold: guidance (omega and its interval) and, for flow matching, a solver. */
export interface SamplingShape {
  guided: boolean;
  /** Flow-matching models: the solver when none is given (the model's default). */
  solver?: FlowSolver;
}

export function samplingShape(info: PmfModelInfo): SamplingShape {
  return { guided: info.hasCfg || info.guidance === 'two-pass',
    solver: info.modelType === 'flow-matching' ? info.defaultSolver ?? 'euler' : undefined };
}

const shapeOf = (s: boolean | SamplingShape): SamplingShape => (typeof s === 'boolean' ? { guided: s } : s);

/**
 * Parses "steps[, omega, t_min, t_max]"; a flow-matching model's may name its solver anywhere
 * ("16 heun", "8, euler, 2, 0, 1"); any model's a noise scale, "x0.7" anywhere. A string is the
 * reason it is not valid.
 */
export function parseSettings(text: string, shape: boolean | SamplingShape): PickedSampling | string {
  const { guided, solver: defaultSolver } = shapeOf(shape);
  const all = text.split(/[\s,]+/).filter(Boolean);
  const scales = all.filter((w) => /^x/i.test(w));
  const words = all.filter((w) => !/^x/i.test(w));
  let noiseScale: number | undefined;
  if (scales.length > 1) return 'One noise scale at most, e.g. "x0.7"';
  if (scales.length === 1) {
    const x = Number(scales[0].slice(1));
    const [lo, hi] = NOISE_SCALE_RANGE;
    if (scales[0].length < 2 || !Number.isFinite(x) || x < lo || x > hi) return `The noise scale is x and a number from ${lo} to ${hi}, e.g. "x0.7"`;
    if (x !== 1) noiseScale = x;
  }
  const named = words.filter((w) => !/^[-+.\d]/.test(w)).map((w) => w.toLowerCase());
  let solver = defaultSolver;
  if (named.length > 0) {
    if (defaultSolver === undefined) return `Numbers only, e.g. "1, 2.0, 0, 1"${named.some((w) => FLOW_SOLVERS.includes(w as FlowSolver)) ? ': this MeanFlow model has no ODE solver' : ''}`;
    if (named.length > 1 || !FLOW_SOLVERS.includes(named[0] as FlowSolver)) return `The solver is ${FLOW_SOLVERS.join(' or ')}, once`;
    solver = named[0] as FlowSolver;
  }
  const parts = words.filter((w) => /^[-+.\d]/.test(w)).map(Number);
  if (parts.some((x) => !Number.isFinite(x))) return 'Numbers only, e.g. "1, 2.0, 0, 1"';
  const [steps, omega = 1, tMin = 0, tMax = 1] = parts;
  const withSolver = (s: SamplingSettings): PickedSampling => ({ ...s, ...(solver ? { solver } : {}),
    ...(noiseScale !== undefined ? { noiseScale } : {}) });
  if (!Number.isInteger(steps) || steps < 1 || steps > 1000) return 'steps: an integer from 1 to 1000';
  if (!guided) return parts.length === 1 ? withSolver({ steps, omega: 1, tMin: 0, tMax: 1 }) : 'This model does not guide: give steps only';
  if (parts.length !== 4) return 'Give steps, omega, t_min, t_max';
  if (omega < 1) return 'omega must be >= 1 (1 = no guidance)';
  if (!(tMin >= 0 && tMin <= tMax && tMax <= 1)) return 'The interval needs 0 <= t_min <= t_max <= 1';
  return withSolver({ steps, omega, tMin, tMax });
}

const SOLVER_NAMES: Record<FlowSolver, string> = { euler: 'Euler', heun: 'Heun' };

/** "16 Heun steps, ω 2, interval [0, 1]"; a MeanFlow model's "1 step, ..."; ", noise x0.7" when the noise scale is not 1. */
export function describeSettings(s: PickedSampling, shape: boolean | SamplingShape): string {
  const { guided, solver } = shapeOf(shape);
  const used = s.solver ?? solver;
  return `${s.steps} ${used ? `${SOLVER_NAMES[used]} ` : ''}step${s.steps === 1 ? '' : 's'}` +
    (guided ? `, \u03c9 ${s.omega}, interval [${s.tMin}, ${s.tMax}]` : '') +
    (s.noiseScale !== undefined && s.noiseScale !== 1 ? `, noise x${s.noiseScale}` : '');
}

/** Settings saved for this model in the workspace (pMF: Explore Guidance's "Use these settings"), offered first. */
export interface SavedSampling {
  settings: SamplingSettings & { noiseScale?: number };
  /** Where they come from, for the item's label ("Explore Guidance settings"). */
  label: string;
}

/**
 * title: the quick pick's title ("pMF: Evaluate Checkpoint (4/4): sampling"); command: the command's name for the input box;
 * saved: the workspace's defaults for the model, which then come first (and fill the custom box).
 * A flow-matching model's settings carry its solver: the model's default, or the other one (an
 * item of its own), or as typed in the custom box.
 */
export async function pickSampling(info: PmfModelInfo, title: string, command: string, saved?: SavedSampling): Promise<PickedSampling | undefined> {
  const shape = samplingShape(info);
  const withSolver = (s: SavedSampling['settings'], solver = shape.solver): PickedSampling => (solver ? { ...s, solver } : s);
  const d = withSolver(saved?.settings ?? info.defaultSampling);
  const other = shape.solver && FLOW_SOLVERS.find((s) => s !== shape.solver);
  const prompt = `steps${shape.solver ? ` and the solver (${FLOW_SOLVERS.join(' or ')})` : ''}${shape.guided ? ', omega, t_min, t_max' : ''}` +
    '; a noise scale as x0.7 (1: the model\'s own noise)';
  const choice = await vscode.window.showQuickPick([
    ...(saved ? [{ label: `${saved.label}: ${describeSettings(withSolver(saved.settings), shape)}`, description: 'this workspace', custom: false, settings: withSolver(saved.settings) }] : []),
    { label: `Model defaults: ${describeSettings(withSolver(info.defaultSampling), shape)}`, custom: false, settings: withSolver(info.defaultSampling) },
    ...(other ? [{ label: `${SOLVER_NAMES[other]} solver: ${describeSettings(withSolver(info.defaultSampling, other), shape)}`,
      description: 'the model\'s steps, the other ODE solver', custom: false, settings: withSolver(info.defaultSampling, other) }] : []),
    { label: 'Custom...', description: prompt, custom: true, settings: d },
  ], { title });
  if (!choice) return undefined;
  if (!choice.custom) return choice.settings;
  const numbers = (shape.guided ? `${d.steps}, ${d.omega}, ${d.tMin}, ${d.tMax}` : String(d.steps)) +
    (d.noiseScale !== undefined && d.noiseScale !== 1 ? `, x${d.noiseScale}` : '');
  const text = await vscode.window.showInputBox({
    title: `${command}: Sampling settings`, prompt,
    value: d.solver ? numbers.replace(/^(\d+)/, `$1 ${d.solver}`) : numbers,
    validateInput: (v) => {
      const r = parseSettings(v, shape);
      return typeof r === 'string' ? r : undefined;
    },
  });
  if (text === undefined) return undefined;
  return parseSettings(text, shape) as PickedSampling;
}
