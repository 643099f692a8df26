// The gallery panel (host side): shows a generation, re-generates single samples, saves.
import * as vscode from 'vscode';
import { isBlank } from '../../core/image';
import type { EngineClient } from '../../engine/client';
import {
  cliCommand,
  type GeneratedSample,
  type GenerationRequest,
  type GenerationResult,
  runGeneration,
  writeOutputs,
} from '../../node/generation';
import { encodePng } from '../../node/png';
import { OutputError } from '../../node/outputFiles';
import { FromWebview, type SampleView, ToWebview } from '../../../webview/gallery/protocol';
import { webviewHtml } from '../webviewHtml';

const BODY = `
<header>
  <h1 id="model"></h1>
  <vscode-badge id="provider" title="Execution provider"></vscode-badge>
  <span class="meta" id="settings"></span>
  <span class="meta" id="timing"></span>
  <span id="busy" hidden><vscode-progress-ring></vscode-progress-ring><span id="busy-label"></span></span>
  <span class="actions">
    <vscode-button id="copy" icon="terminal" secondary title="Copy the pmf command that reproduces this gallery">Copy CLI command</vscode-button>
    <vscode-button id="save" icon="save" title="Save every sample as PNG (settings embedded) and a grid">Save All</vscode-button>
  </span>
</header>
<div id="status" role="status"></div>
<div id="error" role="alert" hidden></div>
<div id="nonfinite" role="alert" hidden></div>
<p id="empty" hidden>No samples.</p>
<main id="grid" aria-label="Samples"></main>`;

export interface GalleryDeps {
  extensionUri: vscode.Uri;
  engine: EngineClient;
  log: vscode.LogOutputChannel;
  outputFolder: () => vscode.Uri | undefined;
}

export class GalleryPanel implements vscode.Disposable {
  static readonly viewType = 'pmf.gallery';
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;
  private nextSeed: number;

  constructor(private readonly deps: GalleryDeps, private readonly req: GenerationRequest,
    private result: GenerationResult) {
    this.nextSeed = req.seed + req.n;
    this.panel = vscode.window.createWebviewPanel(GalleryPanel.viewType, `pMF: ${this.title()}`,
      vscode.ViewColumn.Active, {
        enableScripts: true,
        localResourceRoots: [vscode.Uri.joinPath(deps.extensionUri, 'dist', 'webview')],
      });
    this.panel.webview.html = webviewHtml(this.panel.webview, deps.extensionUri,
      { title: 'pMF samples', script: 'gallery.js', style: 'gallery.css', body: BODY });
    this.panel.webview.onDidReceiveMessage((m) => this.onMessage(m), undefined, this.disposables);
    this.panel.onDidDispose(() => this.dispose(), undefined, this.disposables);
  }

  /** The panel's webview, for tests. */
  get webviewPanel(): vscode.WebviewPanel {
    return this.panel;
  }

  private title(): string {
    return `${this.result.load.info.name || 'samples'} (${this.result.samples.length})`;
  }

  private post(msg: ToWebview): void {
    void this.panel.webview.postMessage(ToWebview.parse(msg));
  }

  private async view(s: GeneratedSample): Promise<SampleView> {
    const img = s.image!;
    return { index: s.index, seed: s.seed, className: s.className, png: new Uint8Array(await encodePng(img)),
      width: img.width, height: img.height, blank: isBlank(img.pixels), nonFinite: s.nonFinite };
  }

  private async show(): Promise<void> {
    const info = this.result.load.info;
    this.post({
      type: 'show',
      state: {
        modelName: info.name || this.req.modelSpec,
        provider: this.result.load.provider,
        settings: { steps: this.req.steps, omega: this.req.omega, tMin: this.req.tMin, tMax: this.req.tMax, hasCfg: info.hasCfg },
        ms: this.result.ms,
        command: cliCommand(this.req, info),
        samples: await Promise.all(this.result.samples.map((s) => this.view(s))),
      },
    });
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = FromWebview.safeParse(raw);
    if (!parsed.success) {
      this.deps.log.warn(`gallery: ignored an invalid message: ${parsed.error.message}`);
      return;
    }
    const msg = parsed.data;
    try {
      switch (msg.type) {
        case 'ready':
          this.ready = true;
          await this.show();
          break;
        case 'regenerate':
          await this.regenerate(msg.index);
          break;
        case 'saveAll':
          await this.saveAll();
          break;
        case 'copyCommand':
          await vscode.env.clipboard.writeText(cliCommand(this.req, this.result.load.info));
          void vscode.window.showInformationMessage('Copied the pmf command that reproduces this gallery.');
          break;
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.deps.log.error(`gallery: ${message}`);
      this.post({ type: 'error', message });
    } finally {
      this.post({ type: 'busy', busy: false });
    }
  }

  /** Replaces sample `index` with the same class and a fresh seed. */
  private async regenerate(index: number): Promise<void> {
    const old = this.result.samples[index];
    if (!old) return;
    this.post({ type: 'busy', busy: true, label: `Re-generating sample ${index + 1}` });
    const seed = this.nextSeed++;
    const one = await runGeneration(this.deps.engine, {
      ...this.req, n: 1, seed, classes: old.label === undefined ? [] : [old.label],
    });
    const fresh = { ...one.samples[0], index };
    this.result.samples[index] = fresh;
    this.post({ type: 'replace', sample: await this.view(fresh), ms: one.ms });
  }

  private async saveAll(): Promise<void> {
    const folder = this.deps.outputFolder() ?? (await vscode.window.showOpenDialog({
      canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Save samples here',
    }))?.[0];
    if (!folder) return;
    this.post({ type: 'busy', busy: true, label: 'Saving' });
    // Re-generated samples carry their own seeds: the embedded settings of each PNG stay exact.
    // All files or none; when an earlier save has the plain names, these carry -run2, -run3, ...
    // Samples with NaN or infinite values are refused (with their count); nothing is written then.
    const written = await writeOutputs(folder.fsPath, this.req, this.result, {
      scale: 4, hint: 'choose another folder (setting pmf.outputFolder)',
      nonFiniteAdvice: 'Re-generate those samples (their refresh button), or generate again with other settings.',
    }).catch((e: unknown) => {
      throw e instanceof OutputError ? new Error(`Nothing was saved: ${e.message}`) : e;
    });
    const where = written.run > 1 ? ` (names with -run${written.run}: an earlier save has the plain names there)` : '';
    this.post({ type: 'saved', folder: folder.fsPath, count: written.files.length, run: written.run });
    this.deps.log.info(`saved ${written.files.length} files to ${folder.fsPath}${where}`);
    const choice = await vscode.window.showInformationMessage(`Saved ${written.files.length} files to ${folder.fsPath}${where}.`,
      'Open Grid');
    if (choice && written.grid) await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(written.grid));
  }

  reveal(): void {
    this.panel.reveal();
    if (this.ready) void this.show();
  }

  dispose(): void {
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}
