// pMF: Generate Samples — pick a model, classes, count, seed and sampling settings; open the
// gallery at once and fill it batch by batch, with progress and cancel (after the current batch).
import * as vscode from 'vscode';
import type { PmfModelInfo } from '../../core/checkpoint/types';
import { costDefaults } from '../../core/costDefaults';
import { EngineError } from '../../engine/client';
import type { GenerationRequest } from '../../node/generation';
import { intValidator, loadPickedModel, showCommandError } from '../commandSteps';
import { GalleryPanel, type GalleryDeps } from '../gallery/galleryPanel';
import { startingSettings } from '../guidance/guidanceDefaults';
import { modelFromUri, pickModel } from '../modelPicker';
import { pickSampling } from '../samplingPick';
import { batchSize, explicitBatchSize, outputFolder, providerSetting } from '../settings';
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

/** The pmf.batchSize setting when the user set it; otherwise the model's cost decides (at most the default 16). */
function generationBatch(suggested: number): number {
  return explicitBatchSize() ?? Math.min(batchSize(), suggested);
}

function reportError(e: unknown, log: vscode.LogOutputChannel): void {
  if (e instanceof EngineError && e.code === 'cancelled') {
    void vscode.window.showInformationMessage('pMF: generation cancelled; nothing was written.');
    return;
  }
  showCommandError(e, log);
}

export async function generateSamples(deps: GenerateDeps, preselected?: vscode.Uri): Promise<GalleryPanel | undefined> {
  const last = deps.context.globalState.get<Remembered>(STATE_KEY, {});
  const model = preselected ? modelFromUri(deps.context.extensionPath, preselected) : await pickModel(deps.context.extensionPath, last.modelPath,
    'pMF: Generate Samples (1/3): model');
  if (!model) return undefined;
  const load = await loadPickedModel(deps, model);
  if (!load) return undefined;
  const info = load.info;

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
  // the workspace's defaults for this model (Explore Guidance: Use these settings) come first
  const start = startingSettings(deps.context.workspaceState, model.path, info);
  const settings = await pickSampling(info, 'pMF: Generate Samples (3/3): sampling', 'pMF: Generate Samples',
    start.source === 'explored' ? { settings: start.settings, label: 'Explore Guidance settings' } : undefined);
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
