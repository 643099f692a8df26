// pMF: Explore Guidance (host side). Loads the model, answers the page's requests for grid cells
// and strips (guidanceImages.ts; jobs of one kind: the latest wins, and none runs, or starts,
// while the panel is hidden; the log counts them), runs the metric sweep in the background
// (metricSweep.ts; it goes on while the panel is hidden, and its state comes back with the page),
// and "Use these settings": the model's defaults for Generate Samples (with the noise scale) and
// the Field Visualizer (its trajectory keeps the model's own noise) in this workspace
// (guidanceDefaults.ts) and the pmf generate / pmf eval command lines on the clipboard (commandLines.ts).
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { isCancelled } from '../../core/cancel';
import { type EngineClient, EngineError } from '../../engine/client';
import type { LoadResult } from '../../engine/protocol';
import { listBundledModels } from '../../node/bundled';
import { sweepSettings } from '../../node/guidanceSweep';
import { type Channel, Jobs, type MessageOf, messageOf } from '../../shared/channel';
import { DisposableStore } from '../../shared/dispose';
import {
  defaultGuidanceConfig, FromWebview, GuidanceConfig, type Images, type ModelView, type SweepView, ToWebview,
} from '../../shared/protocol/guidance';
import { describeLoad, loadWithProgress } from '../loadProgress';
import { modelFromUri, pickModel, type PickedModel } from '../modelPicker';
import { hostChannel, webviewOptions } from '../panelChannel';
import { explicitBatchSize, providerSetting } from '../settings';
import { webviewHtml } from '../webviewHtml';
import { evalCommand, generateCommand } from './commandLines';
import { saveDefaults, savedDefaults } from './guidanceDefaults';
import { type Loaded, makeCells, makeStrip } from './guidanceImages';
import { type Evaluator, evaluatorView, knownEvaluator, runMetricSweep } from './metricSweep';
import { pickFeatureNet, pickReference } from '../evaluate/evalPickers';

const TITLE = 'pMF: Explore Guidance';

export interface GuidanceDeps {
  extensionUri: vscode.Uri;
  extensionPath: string;
  engine: EngineClient;
  log: vscode.LogOutputChannel;
  /** The workspace state: "Use these settings" saves the model's defaults there. */
  workspaceState: vscode.Memento;
  /** Round trips the pages reported (slider moved -> cells drawn), newest last, for the benchmark. */
  timings: Array<{ name: string; ms: number; cells: number }>;
}

export class GuidancePanel implements vscode.Disposable {
  static readonly viewType = 'pmf.exploreGuidance';
  private static readonly all = new Set<GuidancePanel>();
  private readonly disposables = new DisposableStore();
  private readonly channel: Channel<FromWebview, ToWebview>;
  private readonly jobs = new Jobs<'cells' | 'walk' | 'classes' | 'sweep'>();
  private load?: LoadResult;
  private loading?: Promise<LoadResult>;
  private sweep: SweepView = { status: 'idle', settings: [], n: 0, seed: 0, rows: [] };
  /** What the last sweep scored with, for the pmf eval command line. */
  private evaluator?: { netSpec: string; referencePath?: string };
  /** Numbers the sweeps: only the latest one's views reach the page. */
  private sweepSeq = 0;
  /**
   * Image requests (cells, strips) this panel sent to the engine, and those it refused because the
   * panel was hidden; the log gives both when the panel is hidden and shown again (the e2e test of
   * "no work while hidden" reads them there).
   */
  private readonly requests = { cells: 0, strips: 0, refusedHidden: 0 };

  /** Opens a new panel: picks a model (unless given one), shows the panel; the page asks for the rest. */
  static async open(deps: GuidanceDeps, preselected?: vscode.Uri): Promise<GuidancePanel | undefined> {
    const picked = preselected ? modelFromUri(deps.extensionPath, preselected)
      : await pickModel(deps.extensionPath, undefined, `${TITLE}: model`);
    if (!picked) return undefined;
    const panel = vscode.window.createWebviewPanel(GuidancePanel.viewType, 'pMF Explore Guidance', vscode.ViewColumn.Active,
      GuidancePanel.options(deps));
    return new GuidancePanel(deps, panel, picked);
  }

  /** Restores a panel after a reload from the state its page saved ({ config }). */
  static revive(deps: GuidanceDeps, panel: vscode.WebviewPanel, state: unknown): GuidancePanel {
    panel.webview.options = GuidancePanel.options(deps);
    const parsed = GuidanceConfig.safeParse((state as { config?: unknown } | undefined)?.config);
    const saved = parsed.success ? parsed.data : undefined;
    const path = saved?.modelPath || (listBundledModels(deps.extensionPath).find((m) => m.name === 'fashion-mnist')?.path ?? '');
    const bundled = listBundledModels(deps.extensionPath).find((m) => m.path === path);
    return new GuidancePanel(deps, panel, { path, spec: bundled?.name ?? path, label: bundled?.name ?? basename(path) }, saved);
  }

  static panels(): GuidancePanel[] {
    return [...GuidancePanel.all];
  }

  private static options(deps: GuidanceDeps): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    // the page keeps its state with setState and is rebuilt when shown again: no work while hidden
    return { ...webviewOptions(deps.extensionUri), retainContextWhenHidden: false };
  }

  private constructor(private readonly deps: GuidanceDeps, readonly panel: vscode.WebviewPanel, private readonly model: PickedModel,
    private config?: GuidanceConfig) {
    GuidancePanel.all.add(this);
    panel.webview.html = webviewHtml(panel.webview, deps.extensionUri, {
      title: 'pMF Explore Guidance', script: 'guidance.js', style: 'guidance.css', body: '<div id="app"></div>',
    });
    this.channel = hostChannel('guidance', panel.webview, { incoming: FromWebview, outgoing: ToWebview }, {
      log: deps.log,
      onError: (e) => {
        if (isCancelled(e) || (e instanceof EngineError && e.code === 'cancelled')) return;
        const message = messageOf(e);
        deps.log.error(`explore guidance: ${message}`);
        this.post({ type: 'error', message });
      },
    });
    this.disposables.add(this.channel);
    this.registerHandlers();
    let visible = panel.visible;
    this.disposables.add(panel.onDidChangeViewState(() => {
      // hidden: the page is gone until shown again; its images would have no one to draw them
      if (!panel.visible) this.jobs.abort('cells', 'walk', 'classes');
      if (panel.visible === visible) return;
      visible = panel.visible;
      const r = this.requests;
      deps.log.info(`explore guidance: ${visible ? 'shown again' : 'hidden'}; engine requests so far: ${r.cells} for cells, ` +
        `${r.strips} for strips; refused while hidden: ${r.refusedHidden}`);
    }));
    this.disposables.add(panel.onDidDispose(() => this.dispose()));
  }

  private post(msg: ToWebview): void {
    this.channel.post(msg);
  }

  private busy(label: string | undefined): void {
    this.post({ type: 'busy', busy: label !== undefined, label });
  }

  /** The model, loaded once per panel (and again after an engine restart). */
  private async loaded(): Promise<LoadResult> {
    if (this.load) return this.load;
    this.loading ??= (async () => {
      const name = basename(this.model.path);
      this.busy(`Loading ${name}`);
      try {
        const load = await loadWithProgress(this.deps.engine, this.model.path, providerSetting(), { label: name, log: this.deps.log });
        this.deps.log.info(describeLoad(this.model.path, load));
        return load;
      } finally {
        this.busy(undefined);
      }
    })();
    try {
      this.load = await this.loading;
      return this.load;
    } finally {
      this.loading = undefined;
    }
  }

  /** Runs `fn`; if the engine restarted (the model is gone), loads the model again and retries once. */
  private async retryAfterRestart<T>(fn: (m: Loaded) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.loaded());
    } catch (e) {
      if (!(e instanceof EngineError) || !['unknown-model', 'crashed'].includes(e.code)) throw e;
      this.deps.log.warn(`explore guidance: ${e.message}; loading ${basename(this.model.path)} again`);
      this.load = undefined;
      return fn(await this.loaded());
    }
  }

  private async init(): Promise<void> {
    if (!vscode.workspace.isTrusted && !listBundledModels(this.deps.extensionPath).some((m) => m.path === this.model.path)) {
      throw new Error('This workspace is not trusted: Explore Guidance runs only bundled models here.');
    }
    const load = await this.loaded();
    const info = load.info;
    const name = info.name || basename(this.model.path);
    if (info.kind !== 'image') throw new Error(`${name} is a toy model: Explore Guidance shows images. The Field Visualizer shows toy models.`);
    if (!info.hasCfg) {
      throw new Error(`${name} has no guidance inputs (omega, t_min, t_max): there is nothing to explore. ` +
        'Generate Samples and the Field Visualizer run it.');
    }
    const model: ModelView = {
      name, path: this.model.path, spec: this.model.spec, provider: load.provider, numClasses: info.numClasses,
      classNames: info.classNames, sampleShape: info.sampleShape, defaultSampling: info.defaultSampling,
    };
    const config = this.config && this.config.modelPath === this.model.path ? this.config : defaultGuidanceConfig(model);
    this.config = config;
    this.panel.title = `pMF Guidance: ${name}`;
    this.post({ type: 'init', model, config, evaluator: evaluatorView(knownEvaluator(this.deps.extensionPath, this.model.path)),
      sweep: this.sweep, saved: savedDefaults(this.deps.workspaceState, this.model.path) });
  }

  private registerHandlers(): void {
    const c = this.channel;
    this.disposables.addAll(
      c.on('ready', () => this.init()),
      c.on('cells', (msg) => this.images('cells', (m, signal) => makeCells(this.deps.engine, m, msg, signal))),
      c.on('strip', (msg) => this.images(msg.kind, (m, signal) => makeStrip(this.deps.engine, m, msg, signal))),
      c.on('sweep', (msg) => this.startSweep(msg)),
      c.on('stopSweep', () => this.jobs.abort('sweep')),
      c.on('useSettings', (msg) => this.useSettings(msg.settings)),
      c.on('timing', (msg) => {
        this.deps.timings.push({ name: msg.name, ms: msg.ms, cells: msg.cells });
        if (this.deps.timings.length > 1000) this.deps.timings.splice(0, this.deps.timings.length - 1000);
      }),
    );
  }

  /**
   * Images as the answer to a request, as a job of its kind: a newer request of the kind (or the
   * panel hidden) aborts it, and an aborted job answers nothing (the page has moved on).
   */
  private async images(kind: 'cells' | 'walk' | 'classes', make: (m: Loaded, signal: AbortSignal) => Promise<Images>):
    Promise<MessageOf<ToWebview, 'images'> | undefined> {
    if (!this.panel.visible) {
      // a request that crossed the hiding on its way: no one would see its images (the page asks again when shown)
      this.requests.refusedHidden++;
      return undefined;
    }
    if (kind === 'cells') this.requests.cells++;
    else this.requests.strips++;
    const signal = this.jobs.start(kind);
    try {
      const images = await this.retryAfterRestart((m) => make(m, signal));
      return signal.aborted ? undefined : { type: 'images', images };
    } catch (e) {
      if (signal.aborted) return undefined;
      throw e;
    } finally {
      this.jobs.end(kind, signal);
    }
  }

  /** The evaluator: known for the bundled model, else picked (undefined: the user closed a pick). */
  private async chooseEvaluator(): Promise<Evaluator | undefined> {
    const known = knownEvaluator(this.deps.extensionPath, this.model.path);
    if (known) return known;
    const net = await pickFeatureNet(this.deps.extensionPath, undefined, `${TITLE}: metric sweep (1/2): feature network`);
    if (!net) return undefined;
    const ref = await pickReference(undefined, `${TITLE}: metric sweep (2/2): reference statistics`);
    if (!ref) return undefined;
    return { net, ref, netSpec: net.path };
  }

  /** Starts the sweep in the background; the handler returns at once (the sweep's state comes as `sweep` events). */
  private async startSweep(msg: MessageOf<FromWebview, 'sweep'>): Promise<void> {
    this.jobs.abort('sweep');
    const load = await this.loaded();
    const ev = await this.chooseEvaluator();
    if (!ev) return;
    const signal = this.jobs.start('sweep');
    const mine = ++this.sweepSeq;
    const plan = { modelPath: this.model.path, info: load.info, settings: sweepSettings(msg.omegas, [[msg.interval.tMin, msg.interval.tMax]]),
      n: msg.n, seed: 0, steps: msg.steps };
    this.deps.log.info(`explore guidance: metric sweep of ${basename(this.model.path)}, omega ${msg.omegas.join(', ')}, ` +
      `interval [${msg.interval.tMin}, ${msg.interval.tMax}], ${msg.n} samples each, in ${ev.net.label}'s features`);
    void runMetricSweep({ engine: this.deps.engine, provider: providerSetting(), log: this.deps.log, batchSize: explicitBatchSize() },
      plan, ev, signal, (view) => {
        if (mine !== this.sweepSeq) return; // a newer sweep took over
        this.sweep = view;
        this.post({ type: 'sweep', sweep: view });
      }).then((outcome) => {
      this.jobs.end('sweep', signal);
      if (mine !== this.sweepSeq) return;
      this.evaluator = { netSpec: outcome.netSpec, referencePath: outcome.referencePath };
      const v = outcome.view;
      if (v.status === 'failed') this.deps.log.error(`explore guidance: the metric sweep failed: ${v.message}`);
      else this.deps.log.info(`explore guidance: metric sweep ${v.status}: ${v.rows.map((r) => `omega ${r.omega} FD ${r.fd.toFixed(4)}` +
        (r.classConsistency === undefined ? '' : ` cc ${r.classConsistency.toFixed(4)}`)).join('; ')}`);
    });
  }

  private async useSettings(settings: MessageOf<FromWebview, 'useSettings'>['settings']): Promise<MessageOf<ToWebview, 'used'>> {
    const info = (await this.loaded()).info;
    const saved = await saveDefaults(this.deps.workspaceState, this.model.path, settings);
    const ev = this.evaluator ?? knownEvaluator(this.deps.extensionPath, this.model.path);
    const input = { modelSpec: this.model.spec, settings: saved, hasCfg: info.hasCfg, net: ev?.netSpec,
      reference: this.evaluator?.referencePath };
    const generate = generateCommand(input);
    const evaluate = evalCommand(input);
    await vscode.env.clipboard.writeText(`${generate}\n${evaluate}\n`);
    const what = `${saved.steps} step${saved.steps === 1 ? '' : 's'}, \u03c9 ${saved.omega}, interval [${saved.tMin}, ${saved.tMax}]` +
      (saved.noiseScale !== undefined ? `, noise x${saved.noiseScale}` : '');
    this.deps.log.info(`explore guidance: ${basename(this.model.path)} now starts with ${what} in this workspace`);
    void vscode.window.showInformationMessage(`pMF: ${info.name || this.model.label} now starts with ${what} in Generate Samples and ` +
      `the Field Visualizer${saved.noiseScale !== undefined ? ' (its trajectory: the model\'s own noise)' : ''} (this workspace). ` +
      'The pmf generate and pmf eval command lines are on the clipboard.');
    return { type: 'used', saved, generate, eval: evaluate };
  }

  dispose(): void {
    GuidancePanel.all.delete(this);
    // stops the cells, the strip and the sweep (a sweep's finished settings are in their state files)
    this.jobs.dispose();
    this.disposables.dispose();
  }
}
