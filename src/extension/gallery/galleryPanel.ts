// The gallery panel (host side): opens as a generation starts, with one placeholder tile per
// sample, fills the tiles batch by batch, re-generates single samples, saves. While the run goes
// on, Save All and re-generate are off (host and webview both refuse them) and Copy CLI command
// copies the requested run's command; a stopped run (cancel, or the panel closed) keeps the
// samples made, and the gallery, its command and Save All are then those samples.
import * as vscode from 'vscode';
import { isBlank } from '../../core/image';
import { planSamples, className } from '../../core/generationPlan';
import type { EngineClient } from '../../engine/client';
import type { LoadResult } from '../../engine/protocol';
import {
  cliCommand,
  noiseScaleOf,
  type GeneratedSample,
  type GenerationRequest,
  type GenerationResult,
  runGeneration,
  writeOutputs,
} from '../../node/generation';
import { encodePng } from '../../node/png';
import { OutputError } from '../../node/outputFiles';
import { type Channel, messageOf } from '../../shared/channel';
import { DisposableStore } from '../../shared/dispose';
import { FromWebview, type PlannedSample, type RunStatus, type SampleView, ToWebview } from '../../shared/protocol/gallery';
import { hostChannel, webviewOptions } from '../panelChannel';
import { webviewHtml } from '../webviewHtml';

const BODY = `
<header>
  <h1 id="model"></h1>
  <vscode-badge id="provider" title="Execution provider"></vscode-badge>
  <span class="meta" id="settings"></span>
  <span class="meta" id="timing"></span>
  <span id="running" hidden><vscode-progress-ring></vscode-progress-ring></span>
  <span id="busy" hidden><vscode-progress-ring></vscode-progress-ring><span id="busy-label"></span></span>
  <span class="actions">
    <vscode-button id="explore" icon="settings" secondary hidden title="pMF: Explore Guidance: this model's samples across omega and the guidance interval">Explore Guidance</vscode-button>
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

export interface GalleryRunOptions {
  /** Ends the run after the batch in flight (the notification's cancel); closing the panel does the same. */
  stop?: AbortSignal;
  /** (steps done, steps in all) across batches. */
  onProgress?: (done: number, total: number) => void;
  /** Each batch as it arrives: (samples done, samples in all). */
  onSamples?: (done: number, total: number) => void;
}

export class GalleryPanel implements vscode.Disposable {
  static readonly viewType = 'pmf.gallery';
  private readonly panel: vscode.WebviewPanel;
  private readonly channel: Channel<FromWebview, ToWebview>;
  private readonly disposables = new DisposableStore();
  private ready = false;
  private disposed = false;
  private nextSeed: number;
  private readonly planned: PlannedSample[];
  /** Sample i once generated (or re-generated). */
  private readonly samples: Array<GeneratedSample | undefined>;
  /** Their encoded views: the 'show' state is built from these alone, so it never races a batch on its way. */
  private readonly views = new Map<number, SampleView>();
  /** Encoding and posting in arrival order. */
  private pending: Promise<void> = Promise.resolve();
  private readonly stopper = new AbortController();
  private status: RunStatus['status'] = 'running';
  private ms = 0;

  constructor(private readonly deps: GalleryDeps, private req: GenerationRequest, private readonly load: LoadResult) {
    this.nextSeed = req.seed + req.n;
    const info = load.info;
    const plan = planSamples(req.n, req.seed, req.classes);
    this.planned = plan.seeds.map((seed, index) => ({ index, seed, className: className(info, plan.labels[index]) }));
    this.samples = new Array<GeneratedSample | undefined>(req.n).fill(undefined);
    this.panel = vscode.window.createWebviewPanel(GalleryPanel.viewType, `pMF: ${this.title()}`,
      vscode.ViewColumn.Active, webviewOptions(deps.extensionUri));
    this.panel.webview.html = webviewHtml(this.panel.webview, deps.extensionUri,
      { title: 'pMF samples', script: 'gallery.js', style: 'gallery.css', body: BODY });
    this.channel = hostChannel('gallery', this.panel.webview, { incoming: FromWebview, outgoing: ToWebview }, { log: deps.log });
    this.disposables.add(this.channel);
    this.registerHandlers();
    this.disposables.add(this.panel.onDidDispose(() => this.dispose()));
  }

  /** The panel's webview, for tests. */
  get webviewPanel(): vscode.WebviewPanel {
    return this.panel;
  }

  /** True once the user closed the panel. */
  get closed(): boolean {
    return this.disposed;
  }

  /** True while the generation runs. */
  get running(): boolean {
    return this.status === 'running';
  }

  private title(): string {
    return `${this.load.info.name || 'samples'} (${this.req.n})`;
  }

  private post(msg: ToWebview): void {
    this.channel.post(msg);
  }

  private async view(s: GeneratedSample): Promise<SampleView> {
    const img = s.image!;
    return { index: s.index, seed: s.seed, className: s.className, png: new Uint8Array(await encodePng(img)),
      width: img.width, height: img.height, blank: isBlank(img.pixels), nonFinite: s.nonFinite };
  }

  private runStatus(): RunStatus {
    return { status: this.status, done: this.samples.filter(Boolean).length, total: this.req.n, ms: this.ms,
      command: cliCommand(this.req, this.load.info) };
  }

  private show(): void {
    const info = this.load.info;
    const [, h = 1, w = 1] = info.sampleShape;
    this.post({
      type: 'show',
      state: {
        modelName: info.name || this.req.modelSpec,
        provider: this.load.provider,
        settings: { steps: this.req.steps, omega: this.req.omega, tMin: this.req.tMin, tMax: this.req.tMax, hasCfg: info.hasCfg,
          guided: info.hasCfg || info.guidance === 'two-pass',
          ...(info.modelType === 'flow-matching' ? { solver: this.req.solver ?? info.defaultSolver ?? 'euler' } : {}),
          ...(noiseScaleOf(this.req) !== undefined ? { noiseScale: noiseScaleOf(this.req) } : {}) },
        imageSize: { width: w, height: h },
        planned: this.planned,
        samples: [...this.views.values()].sort((a, b) => a.index - b.index),
        run: this.runStatus(),
      },
    });
  }

  /** Runs `fn` after every batch already on its way to the webview. */
  private enqueue(fn: () => Promise<void> | void): Promise<void> {
    this.pending = this.pending.then(fn).catch((e: unknown) => {
      this.deps.log.error(`gallery: ${e instanceof Error ? e.message : String(e)}`);
    });
    return this.pending;
  }

  /**
   * Generates the panel's run, filling the tiles batch by batch (a small first batch for an
   * expensive model, src/core/generationBatches.ts). Stops after the current batch when `stop`
   * fires or the panel is closed: the result then holds the samples made, with `stopped`.
   * Nothing is written. An error is shown in the panel and thrown (the samples made stay).
   */
  async generate(opts: GalleryRunOptions = {}): Promise<GenerationResult> {
    const stop = this.stopper.signal;
    if (opts.stop?.aborted) this.stopper.abort();
    opts.stop?.addEventListener('abort', () => this.stopper.abort(), { once: true });
    try {
      const result = await runGeneration(this.deps.engine, this.req, undefined, opts.onProgress, {
        stop,
        onBatch: (batch, done, total, ms) => {
          for (const s of batch) this.samples[s.index] = s;
          this.ms = ms;
          opts.onSamples?.(done, total);
          void this.enqueue(async () => {
            const views = await Promise.all(batch.map((s) => this.view(s)));
            for (const v of views) this.views.set(v.index, v);
            if (this.ready) this.post({ type: 'samples', samples: views, run: this.runStatus() });
          });
        },
      });
      this.ms = result.ms;
      this.finish(result.stopped ? 'stopped' : 'done');
      return result;
    } catch (e) {
      this.finish('failed');
      const message = e instanceof Error ? e.message : String(e);
      void this.enqueue(() => this.post({ type: 'error', message }));
      throw e;
    }
  }

  /** The run ended: a stopped or failed run keeps the samples made (a prefix), and the gallery becomes those. */
  private finish(status: RunStatus['status']): void {
    this.status = status;
    const done = this.samples.filter(Boolean).length;
    if (done < this.req.n) {
      this.req = { ...this.req, n: done };
      this.planned.length = done;
      this.samples.length = done;
      if (!this.disposed) this.panel.title = `pMF: ${this.title()}`;
    }
    void this.enqueue(() => {
      if (this.ready) this.post({ type: 'run', run: this.runStatus() });
    });
  }

  /** The samples as one generation result, for saving (only once the run has ended). */
  private result(): GenerationResult {
    return { load: this.load, samples: this.samples.filter((s): s is GeneratedSample => s !== undefined), ms: this.ms };
  }

  private registerHandlers(): void {
    // every message ends with the busy indicator off, after the error it may have had
    const on = <K extends FromWebview['type']>(type: K, fn: (msg: Extract<FromWebview, { type: K }>) => Promise<void>) =>
      this.disposables.add(this.channel.on(type, async (msg) => {
        try {
          await fn(msg);
        } catch (e) {
          const message = messageOf(e);
          this.deps.log.error(`gallery: ${message}`);
          this.post({ type: 'error', message });
        } finally {
          this.post({ type: 'busy', busy: false });
        }
      }));
    on('ready', async () => {
      this.ready = true;
      // after the batches being encoded, so that none is missing from the state or sent twice
      await this.enqueue(() => this.show());
    });
    on('regenerate', (msg) => this.regenerate(msg.index));
    on('saveAll', () => this.saveAll());
    on('exploreGuidance', async () => {
      await vscode.commands.executeCommand('pmf.exploreGuidance', vscode.Uri.file(this.req.modelPath));
    });
    on('copyCommand', async () => {
      await vscode.env.clipboard.writeText(cliCommand(this.req, this.load.info));
      void vscode.window.showInformationMessage('Copied the pmf command that reproduces this gallery.');
    });
  }

  /** Replaces sample `index` with the same class and a fresh seed (once the run has ended). */
  private async regenerate(index: number): Promise<void> {
    if (this.running) throw new Error('The samples are still being generated: re-generate one when the run is done.');
    const old = this.samples[index];
    if (!old) return;
    this.post({ type: 'busy', busy: true, label: `Re-generating sample ${index + 1}` });
    const seed = this.nextSeed++;
    const one = await runGeneration(this.deps.engine, {
      ...this.req, n: 1, seed, classes: old.label === undefined ? [] : [old.label],
    });
    const fresh = { ...one.samples[0], index };
    this.samples[index] = fresh;
    const view = await this.view(fresh);
    this.views.set(index, view);
    this.post({ type: 'replace', sample: view, ms: one.ms });
  }

  private async saveAll(): Promise<void> {
    // nothing is written before the run has ended (a save then would miss samples)
    if (this.running) throw new Error('The samples are still being generated: save them when the run is done.');
    const result = this.result();
    if (result.samples.length === 0) throw new Error('No samples to save.');
    const folder = this.deps.outputFolder() ?? (await vscode.window.showOpenDialog({
      canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Save samples here',
    }))?.[0];
    if (!folder) return;
    this.post({ type: 'busy', busy: true, label: 'Saving' });
    // Re-generated samples carry their own seeds: the embedded settings of each PNG stay exact.
    // All files or none; when an earlier save has the plain names, these carry -run2, -run3, ...
    // Samples with NaN or infinite values are refused (with their count); nothing is written then.
    const written = await writeOutputs(folder.fsPath, this.req, result, {
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
    if (this.ready) void this.enqueue(() => this.show());
  }

  dispose(): void {
    this.disposed = true;
    // a run in progress ends after its current batch
    this.stopper.abort();
    this.disposables.dispose();
  }
}
