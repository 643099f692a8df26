// pMF: Compare Models (host side): two to four image models side by side at the same seeds and
// classes (the paper's Table 2 direction, opening on the bundled table2/ set): per model its
// one-step samples, x and u along t, and the effective dimension of their tokens (p x p patches)
// along t (compareColumn.ts). A run is one job (the latest wins; hiding the panel stops it: the page is
// rebuilt when shown and asks again); columns already computed for the same model, seeds and
// classes are answered from memory.
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { isCancelled } from '../../core/cancel';
import { MAX_COMPARED, TABLE2_MODELS } from '../../core/modelComparison';
import { type EngineClient, EngineError } from '../../engine/client';
import type { LoadResult } from '../../engine/protocol';
import { listBundledModels, resolveModel } from '../../node/bundled';
import { type Channel, Jobs, type MessageOf, messageOf } from '../../shared/channel';
import { DisposableStore } from '../../shared/dispose';
import { type ColumnResult, CompareConfig, FromWebview, type MeasuredResult, ToWebview } from '../../shared/protocol/compareModels';
import { describeLoad, loadWithProgress } from '../loadProgress';
import { pickModel } from '../modelPicker';
import { hostChannel, webviewOptions } from '../panelChannel';
import { providerSetting } from '../settings';
import { webviewHtml } from '../webviewHtml';
import { columnView, computeColumn, measureColumn } from './compareColumn';

const TITLE = 'pMF: Compare Models';
/** Columns kept in memory (a replaced model's neighbours, a page shown again). */
const KEEP_COLUMNS = 12;

export interface CompareDeps {
  extensionUri: vscode.Uri;
  extensionPath: string;
  engine: EngineClient;
  log: vscode.LogOutputChannel;
}

type Column = Omit<ColumnResult, 'requestId' | 'slot'>;
type Measured = Omit<MeasuredResult, 'requestId' | 'slot'>;

/** The Table 2 set where it is bundled (else the bundled Fashion-MNIST model), 8 samples, t = 0.5. */
export function defaultCompareConfig(extensionPath: string): CompareConfig {
  const names = new Set(listBundledModels(extensionPath).map((m) => m.name));
  const table2 = TABLE2_MODELS.filter((n) => names.has(n));
  const models = table2.length ? table2 : names.has('fashion-mnist') ? ['fashion-mnist'] : [...names].slice(0, 1);
  return { models: models.length ? models : ['table2/x-p4'], seed: 0, samples: 8, classChoice: 'mixed', frame: 4 };
}

export class CompareModelsPanel implements vscode.Disposable {
  static readonly viewType = 'pmf.compareModels';
  private static readonly all = new Set<CompareModelsPanel>();
  private readonly disposables = new DisposableStore();
  private readonly channel: Channel<FromWebview, ToWebview>;
  private readonly jobs = new Jobs<'run'>();
  private readonly loads = new Map<string, LoadResult>();
  private readonly columns = new Map<string, { column: Column; measured: Measured }>();

  static open(deps: CompareDeps): CompareModelsPanel {
    const panel = vscode.window.createWebviewPanel(CompareModelsPanel.viewType, TITLE, vscode.ViewColumn.Active,
      CompareModelsPanel.options(deps));
    return new CompareModelsPanel(deps, panel);
  }

  /** Restores a panel after a reload from the state its page saved ({ config }). */
  static revive(deps: CompareDeps, panel: vscode.WebviewPanel, state: unknown): CompareModelsPanel {
    panel.webview.options = CompareModelsPanel.options(deps);
    const parsed = CompareConfig.safeParse((state as { config?: unknown } | undefined)?.config);
    return new CompareModelsPanel(deps, panel, parsed.success ? parsed.data : undefined);
  }

  static panels(): CompareModelsPanel[] {
    return [...CompareModelsPanel.all];
  }

  private static options(deps: CompareDeps): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    // the page keeps its config with setState and is rebuilt when shown again: no work while hidden
    return { ...webviewOptions(deps.extensionUri), retainContextWhenHidden: false };
  }

  private constructor(private readonly deps: CompareDeps, readonly panel: vscode.WebviewPanel, private config?: CompareConfig) {
    CompareModelsPanel.all.add(this);
    panel.webview.html = webviewHtml(panel.webview, deps.extensionUri, {
      title: TITLE, script: 'compareModels.js', style: 'compareModels.css', body: '<div id="app"></div>',
    });
    this.channel = hostChannel('compare models', panel.webview, { incoming: FromWebview, outgoing: ToWebview }, {
      log: deps.log,
      onError: (e) => {
        if (isCancelled(e)) return;
        const message = messageOf(e);
        deps.log.error(`compare models: ${message}`);
        this.post({ type: 'error', message });
      },
    });
    this.disposables.add(this.channel);
    const c = this.channel;
    this.disposables.addAll(
      c.on('ready', (msg, ctx) => {
        const cfg = msg.config ?? this.config ?? defaultCompareConfig(deps.extensionPath);
        this.post({ type: 'config', config: cfg });
        return this.run(ctx.seq, cfg);
      }),
      c.on('run', (msg, ctx) => this.run(ctx.seq, msg.config)),
      c.on('pickModel', (msg) => this.pick(msg.slot)),
      c.on('cancel', () => this.jobs.abort()),
    );
    this.disposables.add(panel.onDidChangeViewState(() => {
      // hidden: the page is gone until shown again; its images would have no one to draw them
      if (!panel.visible) this.jobs.abort();
    }));
    this.disposables.add(panel.onDidDispose(() => this.dispose()));
  }

  private get workerPath(): string {
    return join(this.deps.extensionPath, 'dist', 'tokenDimensionsWorker.js');
  }

  private post(msg: ToWebview): void {
    this.channel.post(msg);
  }

  private busy(label: string | undefined): void {
    this.post({ type: 'busy', label });
  }

  private async pick(slot: number): Promise<MessageOf<ToWebview, 'picked'> | undefined> {
    const current = this.config?.models[slot];
    const title = `${TITLE}: ${slot < (this.config?.models.length ?? 0) ? `replace model ${slot + 1}` : 'add a model'}`;
    const picked = await pickModel(this.deps.extensionPath, current && this.pathOf(current), title);
    return picked ? { type: 'picked', spec: picked.spec } : undefined;
  }

  /** A model's file; in an untrusted workspace only bundled models. */
  private pathOf(spec: string): string {
    const path = resolveModel(spec, this.deps.extensionPath);
    if (!vscode.workspace.isTrusted && !listBundledModels(this.deps.extensionPath).some((m) => m.path === path)) {
      throw new Error(`This workspace is not trusted: Compare Models runs only bundled models here, not ${basename(path)}.`);
    }
    return path;
  }

  private async loaded(path: string, signal: AbortSignal, fresh = false): Promise<LoadResult> {
    const known = this.loads.get(path);
    if (known && !fresh) return known;
    const load = await loadWithProgress(this.deps.engine, path, providerSetting(), { label: basename(path), log: this.deps.log, signal });
    this.deps.log.info(describeLoad(path, load));
    this.loads.set(path, load);
    return load;
  }

  /** The columns of `cfg`, slot by slot; each column's measurements run while the next column is computed. */
  private async run(requestId: number, cfg: CompareConfig): Promise<void> {
    const signal = this.jobs.start('run');
    this.config = cfg;
    const t0 = performance.now();
    const measuring: Array<Promise<void>> = [];
    try {
      for (let slot = 0; slot < Math.min(cfg.models.length, MAX_COMPARED); slot++) {
        if (signal.aborted) return;
        const spec = cfg.models[slot];
        try {
          const path = this.pathOf(spec);
          const key = JSON.stringify([path, cfg.seed, cfg.samples, cfg.classChoice]);
          const kept = this.columns.get(key);
          if (kept) {
            this.post({ type: 'column', result: { requestId, slot, ...kept.column, view: { ...kept.column.view, spec } } });
            this.post({ type: 'measured', result: { requestId, slot, ...kept.measured } });
            continue;
          }
          this.busy(`Computing ${spec} (${slot + 1} of ${cfg.models.length})`);
          const { view, computed } = await this.retryAfterRestart(path, signal, async (load) => {
            const view = columnView(spec, path, load, cfg);
            return { view, computed: await computeColumn(this.deps.engine, load, view, cfg, signal) };
          });
          if (signal.aborted) return;
          this.post({ type: 'column', result: { requestId, slot, ...computed.column } });
          if (computed.nonFinite) {
            this.post({ type: 'failed', requestId, slot, spec, message: `${view.name} returned NaN or infinite values (drawn black).` });
          }
          measuring.push(measureColumn(this.workerPath, computed, view.patchSize, signal, (m) => {
            if (!signal.aborted && m.done < m.total) this.post({ type: 'measured', result: { requestId, slot, ...m } });
          }).then((m) => {
            if (signal.aborted) return;
            this.post({ type: 'measured', result: { requestId, slot, ...m } });
            this.columns.set(key, { column: computed.column, measured: m });
            while (this.columns.size > KEEP_COLUMNS) this.columns.delete(this.columns.keys().next().value as string);
          }, (e: unknown) => this.failed(requestId, slot, spec, e, signal)));
        } catch (e) {
          this.failed(requestId, slot, spec, e, signal);
        }
      }
      this.busy('Measuring the patches');
      await Promise.all(measuring);
      if (signal.aborted) return;
      const ms = performance.now() - t0;
      this.deps.log.debug(`compare models: ${cfg.models.length} models in ${ms.toFixed(0)} ms`);
      this.post({ type: 'done', requestId, ms });
    } finally {
      if (this.jobs.isCurrent('run', signal)) this.busy(undefined);
      this.jobs.end('run', signal);
    }
  }

  private failed(requestId: number, slot: number, spec: string, e: unknown, signal: AbortSignal): void {
    if (signal.aborted || isCancelled(e)) return;
    const message = messageOf(e);
    this.deps.log.error(`compare models: ${spec}: ${message}`);
    this.post({ type: 'failed', requestId, slot, spec, message });
  }

  /** Runs `fn` on the loaded model; if the engine restarted (the model is gone), loads it again and retries once. */
  private async retryAfterRestart<T>(path: string, signal: AbortSignal, fn: (load: LoadResult) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.loaded(path, signal));
    } catch (e) {
      if (!(e instanceof EngineError) || !['unknown-model', 'unknown-trajectory', 'crashed'].includes(e.code)) throw e;
      this.deps.log.warn(`compare models: ${e.message}; loading ${basename(path)} again`);
      return fn(await this.loaded(path, signal, true));
    }
  }

  dispose(): void {
    CompareModelsPanel.all.delete(this);
    this.jobs.dispose();
    this.disposables.dispose();
  }
}
