// pMF: Generate Samples — pick a model, classes, count, seed and sampling settings; open the
// gallery at once and fill it batch by batch, with progress and cancel (after the current batch).
import * as vscode from 'vscode';
import type { PmfModelInfo, SamplingSettings } from '../../core/checkpoint/types';
import { costDefaults } from '../../core/costDefaults';
import { EngineError } from '../../engine/client';
import type { LoadResult } from '../../engine/protocol';
import type { GenerationRequest } from '../../node/generation';
import { GalleryPanel, type GalleryDeps } from '../gallery/galleryPanel';
import { describeLoad, loadWithProgress } from '../loadProgress';
import { modelFromUri, pickModel } from '../modelPicker';
import { batchSize, outputFolder, providerSetting } from '../settings';
import type { EngineStatus } from '../statusBar';

interface Remembered {
  modelPath?: string;
  seed?: number;
  n?: number;
}

const STATE_KEY = 'pmf.generate.last';

export interface GenerateDeps extends Omit<GalleryDeps, 'outputFolder'> {
  context: vscode.ExtensionContext;
  status: EngineStatus;
}

async function pickClasses(info: PmfModelInfo): Promise<number[] | undefined> {
  if (info.numClasses === 0) return [];
  type C = vscode.QuickPickItem & { index: number };
  // A few classes start picked; of many (ImageNet: 1000) none do: type to find them.
  const items: C[] = info.classNames.map((name, index) => ({ label: name, description: String(index), index, picked: info.numClasses <= 32 }));
  items.push({ label: 'unconditional', description: `${info.numClasses} (null class)`, index: info.numClasses });
  const picked = await vscode.window.showQuickPick(items, {
    title: 'pMF: Generate Samples (2/3): classes', canPickMany: true,
    placeHolder: 'Classes to sample (samples cycle through them)',
  });
  if (!picked) return undefined;
  if (picked.length === 0) {
    void vscode.window.showWarningMessage('Pick at least one class.');
    return undefined;
  }
  return picked.map((p) => p.index);
}

function intValidator(lo: number, hi: number) {
  return (v: string) => (/^\d+$/.test(v.trim()) && +v >= lo && +v <= hi ? undefined : `An integer from ${lo} to ${hi}`);
}

function parseSettings(text: string, hasCfg: boolean): SamplingSettings | string {
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

function describeSettings(s: SamplingSettings, hasCfg: boolean): string {
  return `${s.steps} step${s.steps === 1 ? '' : 's'}` + (hasCfg ? `, \u03c9 ${s.omega}, interval [${s.tMin}, ${s.tMax}]` : '');
}

async function pickSettings(info: PmfModelInfo): Promise<SamplingSettings | undefined> {
  const d = info.defaultSampling;
  const choice = await vscode.window.showQuickPick([
    { label: `Model defaults: ${describeSettings(d, info.hasCfg)}`, custom: false },
    { label: 'Custom...', description: info.hasCfg ? 'steps, omega, t_min, t_max' : 'steps', custom: true },
  ], { title: 'pMF: Generate Samples (3/3): sampling' });
  if (!choice) return undefined;
  if (!choice.custom) return d;
  const text = await vscode.window.showInputBox({
    title: 'pMF: Generate Samples: Sampling settings', prompt: info.hasCfg ? 'steps, omega, t_min, t_max' : 'steps',
    value: info.hasCfg ? `${d.steps}, ${d.omega}, ${d.tMin}, ${d.tMax}` : String(d.steps),
    validateInput: (v) => {
      const r = parseSettings(v, info.hasCfg);
      return typeof r === 'string' ? r : undefined;
    },
  });
  if (text === undefined) return undefined;
  return parseSettings(text, info.hasCfg) as SamplingSettings;
}

/** The pmf.batchSize setting when the user set it; otherwise the model's cost decides (at most the default 16). */
function generationBatch(suggested: number): number {
  const set = vscode.workspace.getConfiguration('pmf').inspect<number>('batchSize');
  const explicit = set?.globalValue ?? set?.workspaceValue ?? set?.workspaceFolderValue;
  return explicit !== undefined ? batchSize() : Math.min(batchSize(), suggested);
}

function reportError(e: unknown, log: vscode.LogOutputChannel): void {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof EngineError && e.code === 'cancelled') {
    void vscode.window.showInformationMessage('pMF: generation cancelled; nothing was written.');
    return;
  }
  log.error(message);
  void vscode.window.showErrorMessage(`pMF: ${message}`, 'Show Log').then((a) => a && log.show());
}

export async function generateSamples(deps: GenerateDeps, preselected?: vscode.Uri): Promise<GalleryPanel | undefined> {
  const last = deps.context.globalState.get<Remembered>(STATE_KEY, {});
  const model = preselected ? modelFromUri(deps.context.extensionPath, preselected) : await pickModel(deps.context.extensionPath, last.modelPath,
    'pMF: Generate Samples (1/3): model');
  if (!model) return undefined;
  let load: LoadResult;
  try {
    // a large model shows its load phases in a notification (reading, optimising or the cache, ready)
    load = await loadWithProgress(deps.engine, model.path, providerSetting(), { label: model.label, log: deps.log });
  } catch (e) {
    reportError(e, deps.log);
    return undefined;
  }
  const info = load.info;
  deps.log.info(describeLoad(model.path, load));
  deps.status.model(info.name || model.label, load.provider, load.skipped);
  for (const w of info.warnings) deps.log.warn(`${model.label}: ${w}`);

  const classes = await pickClasses(info);
  if (!classes) return undefined;
  // a count and batch size that fit the model's cost (B/16: 66.7 GFLOP per image, a few at a time)
  const cost = costDefaults(info);
  const suggested = Math.min(cost.generateCount, info.numClasses > 0 ? Math.min(64, classes.length * 4) : 16);
  const defaultN = last.modelPath === model.path && last.n ? last.n : suggested;
  const nText = await vscode.window.showInputBox({ title: 'pMF: Generate Samples: Number of samples', value: String(defaultN),
    prompt: `Suggested ${suggested}: this model costs ${(cost.flopsPerImage / 1e9).toPrecision(3)} GFLOP per image and step`,
    validateInput: intValidator(1, 1024) });
  if (nText === undefined) return undefined;
  const seedText = await vscode.window.showInputBox({ title: 'pMF: Generate Samples: Seed (sample i uses seed + i)', value: String(last.seed ?? 0),
    validateInput: intValidator(0, 0xffffffff - 1024) });
  if (seedText === undefined) return undefined;
  const settings = await pickSettings(info);
  if (!settings) return undefined;

  const req: GenerationRequest = {
    modelPath: model.path, modelSpec: model.spec, provider: providerSetting(), classes, n: Number(nText),
    seed: Number(seedText), ...settings, batchSize: generationBatch(cost.generateBatch),
  };
  await deps.context.globalState.update(STATE_KEY, { modelPath: model.path, seed: req.seed, n: req.n });
  if (info.kind !== 'image') {
    void vscode.window.showInformationMessage(`pMF: ${info.name} is a toy model: its samples are points. ` +
      'Use the CLI (pmf generate writes samples.npy) or the Field Visualizer.');
    return undefined;
  }
  // The gallery opens now, one placeholder per sample, and fills batch by batch (the first batch
  // small for an expensive model, so the first image comes within a few seconds).
  const gallery = new GalleryPanel({ ...deps, outputFolder }, req, load);
  try {
    const result = await vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification, title: `pMF: generating ${req.n} samples`, cancellable: true,
    }, async (progress, token) => {
      // cancel stops after the batch in flight; the samples made stay in the gallery
      const stop = new AbortController();
      token.onCancellationRequested(() => stop.abort());
      let lastDone = 0;
      let samples = 0;
      return gallery.generate({
        stop: stop.signal,
        onSamples: (done) => { samples = done; },
        onProgress: (done, total) => {
          progress.report({ increment: ((done - lastDone) / total) * 100, message: `${samples} of ${req.n} samples, step ${done}/${total}` });
          lastDone = done;
        },
      });
    });
    deps.log.info(`generated ${result.samples.length}${result.stopped ? ` of ${req.n}` : ''} samples on ${result.load.provider} ` +
      `in ${result.ms.toFixed(0)} ms${result.stopped ? ' (stopped)' : ''}`);
    deps.status.model(info.name || model.label, result.load.provider, result.load.skipped);
    if (result.stopped) {
      void vscode.window.showInformationMessage(`pMF: generation stopped after ${result.samples.length} of ${req.n} samples; ` +
        (gallery.closed ? 'the gallery was closed; nothing was written.' : 'nothing was written (Save All saves the samples made).'));
    }
    return gallery;
  } catch (e) {
    // shown in the gallery too, with the samples made before it
    reportError(e, deps.log);
    return gallery;
  }
}
