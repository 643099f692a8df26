// pMF: Compare Toy Models (Fig. 2): the one-step samples of every bundled Swiss roll model in
// the data plane, x- vs u-prediction as D grows, with each model's off-plane norm.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { EngineClient } from '../../engine/client';
import { listBundledModels } from '../../node/bundled';
import { FieldLayout } from '../../core/fieldLayout';
import { type Channel, messageOf } from '../../shared/channel';
import { FromWebview, type ToyCell, ToWebview } from '../../shared/protocol/toyCompare';
import { hostChannel, webviewOptions } from '../panelChannel';
import { webviewHtml } from '../webviewHtml';

export const TOY_COMPARE_POINTS = 1024;

const BODY = `
<header><h1>Swiss roll toy models: x- vs u-prediction as D grows</h1>
<vscode-button id="resample" icon="refresh" secondary>New samples</vscode-button></header>
<p class="lead">Each panel shows one-step samples x(z<sub>1</sub>, 0, 1) of a bundled toy model, projected to the
2D data plane of the D-dimensional space (the paper's Fig. 2). x-prediction keeps its samples on the roll and in the
plane at every D; u-prediction must output noise-like velocities and degrades as D grows.</p>
<div id="status" role="status"></div>
<main id="cells" aria-label="Toy models"></main>`;

export async function toyCells(engine: EngineClient, extensionPath: string, seed: number): Promise<ToyCell[]> {
  const cells: ToyCell[] = [];
  for (const m of listBundledModels(extensionPath)) {
    const load = await engine.load(m.path, 'cpu');
    const info = load.info;
    if (info.kind !== 'toy') continue;
    const n = TOY_COMPARE_POINTS;
    const tr = await engine.trajectory({ modelId: load.modelId, mode: 'pmf', seeds: Array.from({ length: n }, (_, i) => seed + i),
      omega: 1, tMin: 0, tMax: 1, steps: 1, odeSteps: 1, rFraction: 0 });
    const { measurements } = await engine.measure(tr.trajectoryId, 4);
    const x = 1; // x at frame 0: the one-step sample
    cells.push({
      name: info.name || basename(m.path), prediction: info.prediction, dim: info.dim ?? info.sampleShape[0],
      plane: new FieldLayout(n, 2).field(tr.toy!.plane, 0, x).slice(),
      offPlaneMean: measurements.offPlaneNorm!.x[0], participationRatio: measurements.participationRatio.x[0],
    });
  }
  return cells;
}

export class ToyComparePanel {
  static readonly viewType = 'pmf.toyCompare';
  private readonly channel: Channel<FromWebview, ToWebview>;

  static open(extensionUri: vscode.Uri, extensionPath: string, engine: EngineClient, log: vscode.LogOutputChannel): ToyComparePanel {
    const panel = vscode.window.createWebviewPanel(ToyComparePanel.viewType, 'pMF: Toy models (Fig. 2)', vscode.ViewColumn.Active,
      webviewOptions(extensionUri));
    return new ToyComparePanel(panel, extensionUri, extensionPath, engine, log);
  }

  private constructor(readonly panel: vscode.WebviewPanel, extensionUri: vscode.Uri, private readonly extensionPath: string,
    private readonly engine: EngineClient, private readonly log: vscode.LogOutputChannel) {
    panel.webview.html = webviewHtml(panel.webview, extensionUri,
      { title: 'pMF toy models', script: 'toyCompare.js', style: 'toyCompare.css', body: BODY });
    this.channel = hostChannel('toy comparison', panel.webview, { incoming: FromWebview, outgoing: ToWebview }, { log });
    this.channel.on('ready', () => this.show(0));
    this.channel.on('resample', (msg) => this.show(msg.seed));
    panel.onDidDispose(() => this.channel.dispose());
  }

  private post(msg: ToWebview): void {
    this.channel.post(msg);
  }

  private async show(seed: number): Promise<void> {
    const t0 = performance.now();
    try {
      const cells = await toyCells(this.engine, this.extensionPath, seed);
      if (cells.length === 0) throw new Error('No toy models are bundled with this build of pMF Lab.');
      this.post({ type: 'cells', cells, points: TOY_COMPARE_POINTS, ms: performance.now() - t0 });
    } catch (e) {
      const message = messageOf(e);
      this.log.error(`toy comparison: ${message}`);
      this.post({ type: 'error', message });
    }
  }
}
