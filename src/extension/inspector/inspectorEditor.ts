// pMF: Inspect Checkpoint, the host side: a read-only custom editor for .onnx, .safetensors and
// PyTorch files. It has them parsed (in a worker thread for files on disk, see checkpointReader.ts;
// never executing anything in them: a pickle is read by a parser, not unpickled), shows the
// summary, and has tensor statistics computed on request, streamed from the file. A runnable pMF
// ONNX file can be benchmarked here: its one-step latency on every execution provider the machine
// offers, through the extension's engine (src/node/benchmarkHere.ts, as `pmf bench`).
import { basename, dirname, extname, join } from 'node:path';
import * as vscode from 'vscode';
import { InspectError } from '../../core/checkpoint/inspect/types';
import type { CheckpointSummary } from '../../core/checkpoint/inspect';
import type { z } from 'zod';
import { type Channel, Jobs, messageOf } from '../../shared/channel';
import { DisposableStore } from '../../shared/dispose';
import type { Assert, Extends } from '../../shared/protocol/common';
import type { PairResult, TensorDiff } from '../../core/checkpoint/inspect/compare';
import { type Actions, type BenchResult as BenchView, type Diff, type DiffMessage, FromWebview, ToWebview } from '../../shared/protocol/inspector';
import type { EngineClient } from '../../engine/client';
import { benchmarkHere, type BenchResult } from '../../node/benchmarkHere';
import { modelFromUri } from '../modelPicker';
import { hostChannel, webviewOptions } from '../panelChannel';
import { webviewHtml } from '../webviewHtml';
import { readerFor, type CheckpointReader } from './checkpointReader';

const BODY = `
<header>
  <h1 id="file"></h1>
  <vscode-badge id="format"></vscode-badge>
  <span class="meta" id="facts"></span>
  <span class="actions" id="actions">
    <vscode-button id="generate" icon="sparkle" hidden title="pMF: Generate Samples with this checkpoint">Generate Samples</vscode-button>
    <vscode-button id="visualize" icon="graph-line" secondary hidden title="pMF: Open Field Visualizer on this checkpoint">Field Visualizer</vscode-button>
    <vscode-button id="explore" icon="settings" secondary hidden title="pMF: Explore Guidance: this checkpoint's samples across omega and the guidance interval">Explore Guidance</vscode-button>
    <vscode-button id="benchmark" icon="dashboard" secondary hidden
      title="Time one-step generation of this checkpoint on every execution provider this machine offers">Benchmark here</vscode-button>
    <vscode-button id="convert" icon="terminal" secondary hidden title="Copy the command that converts this official checkpoint to a runnable ONNX file">Copy convert command</vscode-button>
    <vscode-button id="reload" icon="refresh" secondary title="Read the file again">Reload</vscode-button>
  </span>
</header>
<div id="loading" role="status"><vscode-progress-ring></vscode-progress-ring><span id="loading-label">Reading</span></div>
<div id="error" role="alert" hidden></div>
<ul id="findings" aria-label="Findings"></ul>
<section id="bench" class="card" hidden aria-label="Benchmark here">
  <h2>Benchmark here <span class="meta" id="bench-facts"></span></h2>
  <div class="toolbar" id="bench-plan">
    <label for="bench-batches">batch sizes</label>
    <vscode-textfield id="bench-batches" value="1, 4" aria-label="Batch sizes, comma-separated"></vscode-textfield>
    <label for="bench-runs">timed runs</label>
    <vscode-textfield id="bench-runs" value="5" aria-label="Timed runs per batch size"></vscode-textfield>
    <vscode-button id="bench-again" icon="debug-restart" secondary title="Benchmark again with these batch sizes and runs">Run again</vscode-button>
  </div>
  <div id="bench-running" role="status" hidden><vscode-progress-ring></vscode-progress-ring><span id="bench-progress"></span>
    <vscode-button id="bench-cancel" icon="debug-stop" secondary>Stop</vscode-button></div>
  <div id="bench-error" role="alert" hidden></div>
  <table id="bench-table" aria-label="Latency per execution provider and batch size" hidden>
    <thead><tr><th>provider</th><th class="num">batch</th><th class="num">load s</th><th class="num">s/batch (median)</th>
      <th class="num">min s/batch</th><th class="num">img/s</th><th class="num">engine RSS</th><th>notes</th></tr></thead>
    <tbody></tbody>
  </table>
  <ul id="bench-notes" class="note"></ul>
</section>
<main id="content" hidden>
  <!-- vscode-tabs gives its headers and panels ids of its own: address them by data-tab. -->
  <vscode-tabs id="tabs">
    <vscode-tab-header slot="header" data-tab="overview">Overview</vscode-tab-header>
    <vscode-tab-panel><div id="overview"></div></vscode-tab-panel>
    <vscode-tab-header slot="header" data-tab="tensors">Tensors</vscode-tab-header>
    <vscode-tab-panel>
      <div class="toolbar">
        <vscode-textfield id="filter" placeholder="Filter by name or the node that reads it (substring or /regex/)" aria-label="Filter tensors"></vscode-textfield>
        <vscode-button id="stats-all" icon="pulse" secondary title="Statistics of every listed tensor">Statistics for all listed</vscode-button>
        <vscode-button id="stats-cancel" icon="debug-stop" secondary hidden>Cancel</vscode-button>
        <span class="meta" id="stats-progress"></span>
        <vscode-button id="compare" icon="diff" secondary
          title="Pair every tensor with its namesake in another checkpoint and show how far apart they are">Compare with…</vscode-button>
        <vscode-button id="compare-cancel" icon="debug-stop" secondary hidden>Stop comparing</vscode-button>
        <span class="meta" id="compare-summary"></span>
        <ul id="compare-findings" class="findings" aria-label="Findings of the file compared with" hidden></ul>
        <span class="meta" id="tensor-count"></span>
      </div>
      <table id="tensors" aria-label="Tensors">
        <thead><tr><th>name</th><th>dtype</th><th>shape</th><th class="num">params</th><th class="vs" id="vs-head">compared</th>
          <th class="num">min</th><th class="num">max</th><th class="num">mean</th><th class="num">std</th>
          <th>histogram</th><th>notes</th></tr></thead>
        <tbody></tbody>
      </table>
    </vscode-tab-panel>
    <vscode-tab-header slot="header" data-tab="metadata">Metadata</vscode-tab-header>
    <vscode-tab-panel><div id="metadata"></div></vscode-tab-panel>
    <vscode-tab-header slot="header" data-tab="structure">Structure</vscode-tab-header>
    <vscode-tab-panel><div id="structure"></div></vscode-tab-panel>
  </vscode-tabs>
</main>`;

/** File extensions of checkpoints, for file pickers (the format itself is told by a file's first bytes). */
export const CHECKPOINT_EXTENSIONS = ['onnx', 'safetensors', 'pt', 'pth', 'ckpt', 'bin'];

export interface InspectorDeps {
  extensionUri: vscode.Uri;
  log: vscode.LogOutputChannel;
  /** The extension's engine, for Benchmark here. */
  engine: EngineClient;
}

class CheckpointDocument implements vscode.CustomDocument {
  constructor(readonly uri: vscode.Uri) {}
  dispose(): void {}
}

/** Compile-time: a benchmark result (src/node/benchmarkHere.ts) and a distance always pass the panel's schemas. */
export type TypeChecks = [
  Assert<Extends<BenchResult, z.input<typeof BenchView>>>,
  Assert<Extends<TensorDiff, z.input<typeof Diff>>>,
  Assert<Extends<PairResult, Omit<z.input<typeof DiffMessage>, 'type'>>>,
];

/** One open inspector: its file, its last summary, its jobs (the latest of each kind wins). */
class InspectorSession implements vscode.Disposable {
  private summary?: CheckpointSummary;
  /** stats: the statistics job; loading: the read of the summary; compare; benchmark. */
  private readonly jobs = new Jobs<'stats' | 'loading' | 'compare' | 'benchmark'>();
  private readonly reader: CheckpointReader;
  private readonly channel: Channel<FromWebview, ToWebview>;
  private readonly disposables = new DisposableStore();

  constructor(private readonly deps: InspectorDeps, readonly uri: vscode.Uri, readonly panel: vscode.WebviewPanel) {
    panel.webview.options = webviewOptions(deps.extensionUri);
    panel.webview.html = webviewHtml(panel.webview, deps.extensionUri, {
      title: 'pMF checkpoint', script: 'inspector.js', style: 'inspector.css', body: BODY,
    });
    this.reader = readerFor(uri, deps.extensionUri);
    this.channel = hostChannel('inspector', panel.webview, { incoming: FromWebview, outgoing: ToWebview }, {
      log: deps.log,
      onError: (e) => this.deps.log.warn(`inspector ${this.uri.fsPath}: ${messageOf(e)}`),
    });
    this.disposables.add(this.channel);
    const c = this.channel;
    this.disposables.addAll(
      c.on('ready', () => this.inspect()),
      c.on('stats', (msg) => this.stats(msg.indices)),
      c.on('cancel', () => this.jobs.abort('stats')),
      c.on('cancelCompare', () => this.jobs.abort('compare')),
      c.on('benchmark', (msg) => this.benchmark(msg.batches, msg.runs)),
      c.on('cancelBenchmark', () => this.jobs.abort('benchmark')),
      c.on('action', (msg) => this.action(msg.action)),
    );
    if (uri.scheme === 'file') {
      const watcher = vscode.workspace.createFileSystemWatcher(
        new vscode.RelativePattern(vscode.Uri.file(dirname(uri.fsPath)), basename(uri.fsPath)));
      this.disposables.addAll(watcher, watcher.onDidChange(() => void this.inspect()));
    }
  }

  /** Validates and posts (nothing once the panel closed: a job that ends after that has no one to tell). */
  private post(msg: ToWebview): void {
    this.channel.post(msg);
  }

  private fileName(): string {
    return basename(this.uri.path);
  }

  async inspect(): Promise<void> {
    this.jobs.abort('stats');
    const loading = this.jobs.start('loading');
    this.post({ type: 'loading', fileName: this.fileName() });
    const t0 = performance.now();
    try {
      const summary = await this.reader.inspect(loading);
      if (loading.aborted) return;
      this.summary = summary;
      const ms = performance.now() - t0;
      this.deps.log.info(`inspected ${this.uri.fsPath}: ${summary.format}, ${summary.tensors.length} tensors, ` +
        `${summary.totalParams} parameters, ${summary.findings.length} findings in ${ms.toFixed(0)} ms`);
      this.post({ type: 'summary', summary, actions: actionsFor(summary), ms });
    } catch (e) {
      if (loading.aborted) return; // a newer read (reload, file changed) or the editor closed
      this.summary = undefined;
      const message = messageOf(e);
      this.deps.log.warn(`inspect ${this.uri.fsPath}: ${message}`);
      const findings = e instanceof InspectError ? e.findings : [];
      this.post({ type: 'error', fileName: this.fileName(), message, ...(findings.length ? { findings } : {}) });
    } finally {
      this.jobs.end('loading', loading);
    }
  }

  /** Statistics of the given tensors, one message each, streamed from the file; cancellable. */
  private async stats(indices: number[]): Promise<void> {
    const summary = this.summary;
    if (!summary) return;
    const job = this.jobs.start('stats');
    const wanted = indices.filter((i) => i < summary.tensors.length).map((index) => ({ index, tensor: summary.tensors[index] }));
    let done = 0;
    let lastBytes = 0;
    this.post({ type: 'progress', done, total: wanted.length, running: true });
    try {
      await this.reader.stats(wanted, (r) => {
        this.post('stats' in r ? { type: 'stats', index: r.index, stats: r.stats } : { type: 'statsError', index: r.index, message: r.error });
        done++;
        if (done % 8 === 0 || done === wanted.length) this.post({ type: 'progress', done, total: wanted.length, running: true });
      }, job, (bytesDone, bytesTotal) => {
        // a huge tensor takes minutes: its progress, a few times a second
        if (Date.now() - lastBytes < 250) return;
        lastBytes = Date.now();
        this.post({ type: 'progress', done, total: wanted.length, running: true, bytesDone, bytesTotal });
      });
    } catch (e) {
      if (!job.aborted) this.deps.log.warn(`inspector statistics for ${this.uri.fsPath}: ${messageOf(e)}`);
    } finally {
      this.jobs.end('stats', job);
      this.post({ type: 'progress', done, total: wanted.length, running: false });
    }
  }

  /** Compares this checkpoint with one the user picks; each tensor's distance goes to the webview as it comes. */
  private async compare(): Promise<void> {
    const other = (await vscode.window.showOpenDialog({
      canSelectMany: false,
      openLabel: 'Compare',
      title: `Compare ${this.fileName()} with`,
      defaultUri: vscode.Uri.joinPath(this.uri, '..'),
      filters: { Checkpoints: CHECKPOINT_EXTENSIONS, 'All files': ['*'] },
    }))?.[0];
    if (!other) return;
    const job = this.jobs.start('compare');
    let done = 0;
    let total = 0;
    try {
      await this.reader.compare(other, (start) => {
        total = start.pairs;
        this.post({ type: 'compare', fileName: basename(other.path), ...start });
        this.post({ type: 'compareProgress', done, total, running: true });
      }, (r) => {
        this.post({ type: 'diff', ...r });
        done++;
        if (done % 8 === 0) this.post({ type: 'compareProgress', done, total, running: true });
      }, job);
      this.deps.log.info(`compared ${this.uri.fsPath} with ${other.fsPath}: ${done} tensors`);
    } catch (e) {
      if (!job.aborted) {
        const message = messageOf(e);
        this.deps.log.warn(`compare ${this.uri.fsPath} with ${other.fsPath}: ${message}`);
        this.post({ type: 'compareError', message });
      }
    } finally {
      this.jobs.end('compare', job);
      this.post({ type: 'compareProgress', done, total, running: false });
    }
  }

  /**
   * Benchmark here: the checkpoint's one-step latency on every provider the engine offers, with
   * the progress in the panel (and the status bar); Stop, or closing the panel, cancels it.
   */
  private async benchmark(batches?: number[], runs?: number): Promise<void> {
    const summary = this.summary;
    if (!summary || !actionsFor(summary).run) return;
    const model = modelFromUri(this.deps.extensionUri.fsPath, this.uri);
    if (!model) {
      this.post({ type: 'benchError', message: vscode.workspace.isTrusted
        ? `${this.uri.toString()} is not a file on disk; the engine reads checkpoints from disk.`
        : 'Running a checkpoint from this workspace needs a trusted workspace (the bundled models run anywhere).' });
      return;
    }
    const job = this.jobs.start('benchmark');
    const name = this.fileName();
    this.post({ type: 'benchProgress', message: 'starting the engine', done: 0, total: 0, running: true });
    try {
      const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `pMF: benchmarking ${name}` },
        (bar) => benchmarkHere(this.deps.engine, {
          modelPath: model.path, batches, runs, signal: job,
          onProgress: (p) => {
            bar.report({ message: p.message });
            this.post({ type: 'benchProgress', message: p.message, done: p.done, total: p.total, running: true });
          },
        }));
      this.deps.log.info(`benchmarked ${model.path}: ${describeBench(result)}`);
      this.post({ type: 'bench', result });
    } catch (e) {
      const message = messageOf(e);
      if (job.aborted) {
        this.deps.log.info(`benchmark of ${model.path} stopped`);
      } else {
        this.deps.log.warn(`benchmark of ${model.path}: ${message}`);
        this.post({ type: 'benchError', message: `Benchmarking ${name} failed: ${message}` });
      }
    } finally {
      this.jobs.end('benchmark', job);
      this.post({ type: 'benchProgress', message: job.aborted ? 'stopped' : '', done: 0, total: 0, running: false });
    }
  }

  private async action(action: Extract<FromWebview, { type: 'action' }>['action']): Promise<void> {
    switch (action) {
      case 'compare':
        await this.compare();
        break;
      case 'generate':
        await vscode.commands.executeCommand('pmf.generateSamples', this.uri);
        break;
      case 'visualize':
        await vscode.commands.executeCommand('pmf.openFieldVisualizer', this.uri);
        break;
      case 'exploreGuidance':
        await vscode.commands.executeCommand('pmf.exploreGuidance', this.uri);
        break;
      case 'copyConvert': {
        await vscode.env.clipboard.writeText(convertCommand(this.uri.fsPath));
        void vscode.window.showInformationMessage('Copied the command that converts this checkpoint to pMF ONNX ' +
          '(run it in a pMF Lab checkout; it needs PyTorch).');
        break;
      }
      case 'reload':
        await this.inspect();
        break;
      case 'showFormatDoc':
        await vscode.commands.executeCommand('markdown.showPreview',
          vscode.Uri.joinPath(this.deps.extensionUri, 'docs', 'checkpoint-format.md'));
        break;
    }
  }

  dispose(): void {
    // a panel closed mid-run stops its jobs (a benchmark: the engine cancels its generation)
    this.jobs.dispose();
    this.disposables.dispose();
  }
}

/** For the log: "cpu 0.15 s load, batch 1 0.0042 s (240 img/s), ...; cuda: <error>". */
function describeBench(r: BenchResult): string {
  return r.providers.map((p) => {
    if (p.loadS === undefined) return `${p.provider}: ${p.error ?? 'failed'}`;
    const rows = r.rows.filter((x) => x.provider === p.provider).map((x) => x.ok
      ? `batch ${x.batch} ${x.medianS!.toPrecision(3)} s (${x.imagesPerS!.toPrecision(3)} img/s)`
      : `batch ${x.batch}: ${x.error}`);
    return `${p.provider} ${p.loadS.toFixed(2)} s load, ${rows.join(', ')}`;
  }).join('; ');
}

function actionsFor(s: CheckpointSummary): Actions {
  return { run: s.format === 'onnx' && s.onnx.contract.ok, convert: s.architecture.family === 'pmfDiT-official' };
}

/** The trainer command that converts an official checkpoint, quoted for a POSIX shell. */
export function convertCommand(path: string): string {
  const q = (p: string) => `'${p.replace(/'/g, `'\\''`)}'`;
  const out = join(dirname(path), `${basename(path, extname(path))}.onnx`);
  return `scripts/pmf-trainer convert-official --ckpt ${q(path)} --out ${q(out)}`;
}

export class CheckpointInspectorProvider implements vscode.CustomReadonlyEditorProvider<CheckpointDocument> {
  static readonly viewType = 'pmf.checkpointInspector';

  constructor(private readonly deps: InspectorDeps) {}

  static register(deps: InspectorDeps): vscode.Disposable {
    return vscode.window.registerCustomEditorProvider(CheckpointInspectorProvider.viewType, new CheckpointInspectorProvider(deps), {
      webviewOptions: { retainContextWhenHidden: true },
      supportsMultipleEditorsPerDocument: true,
    });
  }

  openCustomDocument(uri: vscode.Uri): CheckpointDocument {
    return new CheckpointDocument(uri);
  }

  resolveCustomEditor(document: CheckpointDocument, panel: vscode.WebviewPanel): void {
    const session = new InspectorSession(this.deps, document.uri, panel);
    panel.onDidDispose(() => session.dispose());
  }
}
