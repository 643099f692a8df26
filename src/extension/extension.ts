// pMF Lab: wires the engine, the commands, the status bar and the log together.
import { join } from 'node:path';
import * as vscode from 'vscode';
import { EngineClient } from '../engine/client';
import type { ProviderSetting } from '../engine/protocol';
import { generateSamples } from './commands/generateSamples';
import { inspectCheckpoint } from './commands/inspectCheckpoint';
import { CompareModelsPanel } from './compareModels/compareModelsPanel';
import { evaluateCheckpoint } from './evaluate/evaluateCommand';
import type { GalleryPanel } from './gallery/galleryPanel';
import { startingSettings } from './guidance/guidanceDefaults';
import { GuidancePanel, type GuidanceDeps } from './guidance/guidancePanel';
import { CheckpointInspectorProvider } from './inspector/inspectorEditor';
import { providerSetting, setProviderSetting } from './settings';
import { EngineStatus } from './statusBar';
import { ToyComparePanel } from './toyCompare/toyComparePanel';
import { VisualizerPanel, type VisualizerDeps } from './visualizer/visualizerPanel';

/** Set by the bundle's first line (esbuild banner); absent when not bundled. */
declare const __pmfBundleStart: number | undefined;
const moduleLoadedAt = performance.now();

/** What activate() returns; tests in a real VS Code use it to reach the extension's state. */
export interface PmfLabApi {
  engine: EngineClient;
  lastGallery(): GalleryPanel | undefined;
  visualizers(): VisualizerPanel[];
  /** Round-trip timings the visualizer webviews reported (r slider -> pixels drawn). */
  visualizerTimings: Array<{ name: string; ms: number }>;
  guidancePanels(): GuidancePanel[];
  /** Round-trip timings the Explore Guidance webviews reported (slider moved -> cells drawn). */
  guidanceTimings: Array<{ name: string; ms: number; cells: number }>;
}

export function activate(context: vscode.ExtensionContext): PmfLabApi {
  const activateStart = performance.now();
  const log = vscode.window.createOutputChannel('pMF Lab', { log: true });
  const status = new EngineStatus();
  const engine = new EngineClient({
    enginePath: context.asAbsolutePath('dist/engine.js'),
    log: (m) => log.debug(`[engine] ${m}`),
    // optimised models (src/node/modelCache.ts) in the extension's global storage; PMF_CACHE_DIR overrides it
    cacheDir: join(context.globalStorageUri.fsPath, 'model-cache'),
    onCrash: (exit) => {
      log.error(`engine stopped (code ${exit.code}, signal ${exit.signal}); it restarts on the next request. ${exit.stderrTail}`);
      status.crashed();
      void vscode.window.showWarningMessage('pMF: the engine process stopped (VS Code is fine). It restarts on the next ' +
        'request; loaded models are loaded again.', 'Show Log').then((a) => a && log.show());
    },
  });
  let gallery: GalleryPanel | undefined;
  const viz: VisualizerDeps = { extensionUri: context.extensionUri, extensionPath: context.extensionPath, engine, log, timings: [],
    // "Use these settings" of Explore Guidance, else the checkpoint's defaults
    startingSettings: (modelPath, info) => startingSettings(context.workspaceState, modelPath, info).settings };
  const guidance: GuidanceDeps = { extensionUri: context.extensionUri, extensionPath: context.extensionPath, engine, log,
    workspaceState: context.workspaceState, timings: [] };
  const compare = { extensionUri: context.extensionUri, extensionPath: context.extensionPath, engine, log };

  context.subscriptions.push(
    log,
    status,
    { dispose: () => void engine.dispose() },
    CheckpointInspectorProvider.register({ extensionUri: context.extensionUri, log, engine }),
    vscode.commands.registerCommand('pmf.generateSamples', async (uri?: unknown) => {
      const g = await generateSamples({ context, engine, log, status, extensionUri: context.extensionUri },
        uri instanceof vscode.Uri ? uri : undefined);
      if (g) gallery = g;
      return g;
    }),
    vscode.commands.registerCommand('pmf.evaluate',
      (uri?: unknown) => evaluateCheckpoint({ context, engine, log, status }, uri instanceof vscode.Uri ? uri : undefined)),
    vscode.commands.registerCommand('pmf.openFieldVisualizer',
      (uri?: unknown) => VisualizerPanel.open(viz, uri instanceof vscode.Uri ? uri : undefined)),
    vscode.commands.registerCommand('pmf.inspectCheckpoint', (uri?: unknown) => inspectCheckpoint(uri)),
    vscode.window.registerWebviewPanelSerializer(VisualizerPanel.viewType, {
      deserializeWebviewPanel: async (panel, state) => {
        VisualizerPanel.revive(viz, panel, state);
      },
    }),
    vscode.commands.registerCommand('pmf.exploreGuidance',
      (uri?: unknown) => GuidancePanel.open(guidance, uri instanceof vscode.Uri ? uri : undefined)),
    vscode.window.registerWebviewPanelSerializer(GuidancePanel.viewType, {
      deserializeWebviewPanel: async (panel, state) => {
        GuidancePanel.revive(guidance, panel, state);
      },
    }),
    vscode.commands.registerCommand('pmf.compareToyModels',
      () => ToyComparePanel.open(context.extensionUri, context.extensionPath, engine, log)),
    vscode.commands.registerCommand('pmf.compareModels', () => CompareModelsPanel.open(compare)),
    vscode.window.registerWebviewPanelSerializer(CompareModelsPanel.viewType, {
      deserializeWebviewPanel: async (panel, state) => {
        CompareModelsPanel.revive(compare, panel, state);
      },
    }),
    vscode.commands.registerCommand('pmf.showLog', () => log.show()),
    vscode.commands.registerCommand('pmf.selectProvider', async () => {
      const current = providerSetting();
      const report = await engine.hello().then((h) => h.providers).catch(() => undefined);
      const items = (['auto', 'cuda', 'webgpu', 'cpu'] as ProviderSetting[]).map((p) => ({
        label: p, picked: p === current,
        description: p === current ? 'current' : undefined,
        detail: p === 'auto' ? `picks ${report?.autoOrder.join(' > ') ?? 'the best available'}` : report?.available[p].reason,
      }));
      const pick = await vscode.window.showQuickPick(items, { title: 'pMF: Select Execution Provider' });
      if (pick) {
        await setProviderSetting(pick.label);
        status.idle(pick.label);
      }
    }),
  );
  const end = performance.now();
  const bundleMs = typeof __pmfBundleStart === 'number' ? moduleLoadedAt - __pmfBundleStart : 0;
  log.info(`activated in ${(bundleMs + end - activateStart).toFixed(1)} ms (bundle evaluation ${bundleMs.toFixed(1)} ms, ` +
    `activate() ${(end - activateStart).toFixed(1)} ms); engine ${context.asAbsolutePath('dist/engine.js')} starts on first use`);
  return { engine, lastGallery: () => gallery, visualizers: () => VisualizerPanel.panels(), visualizerTimings: viz.timings,
    guidancePanels: () => GuidancePanel.panels(), guidanceTimings: guidance.timings };
}

export function deactivate(): void {
  // The engine is disposed through context.subscriptions.
}
