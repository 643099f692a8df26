// pMF: Open Field Visualizer (host side). Runs trajectories in the engine and forwards the
// fields and measurements to the webview (measuring.ts); answers the r slider; takes a real
// image; exports (visualizerExports.ts). Jobs of one kind (run, measure, consistency): the
// latest wins. A flow-matching model runs its ODE (flowConfig): the r slider means "the ODE down
// to r" there (u from z_r, x = z_t - t u), with the model's solver unless the user picks another.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { type EngineClient, EngineError } from '../../engine/client';
import type { LoadResult, TrajectoryReply } from '../../engine/protocol';
import { isCancelled } from '../../core/cancel';
import { costDefaults } from '../../core/costDefaults';
import { valuesPerSample } from '../../core/fieldLayout';
import { quantise8 } from '../../core/frameEncoding';
import { trajectorySeeds } from '../../core/trajectory';
import { listBundledModels } from '../../node/bundled';
import { decodeImageForModel } from '../../node/imageInput';
import { nonFiniteFields } from '../../node/nonFinite';
import { type Channel, Jobs, type MessageOf, messageOf } from '../../shared/channel';
import { DisposableStore } from '../../shared/dispose';
import { defaultConfig, flowConfig, FromWebview, type ModelView, ToWebview, VizConfig } from '../../shared/protocol/visualizer';
import { describeLoad, loadWithProgress } from '../loadProgress';
import { modelFromUri, pickModel } from '../modelPicker';
import { hostChannel, webviewOptions } from '../panelChannel';
import { providerSetting } from '../settings';
import { webviewHtml } from '../webviewHtml';
import { measureInBackground } from './measuring';
import { VisualizerExports } from './visualizerExports';

/** Progress of the trajectory and the consistency check reaches the webview at most this often. */
const PROGRESS_POST_MS = 200;

/**
 * Most bytes of fields in one message to the webview. Test hook: PMF_VIZ_CHUNK_BYTES makes it
 * smaller, so the end-to-end tests send the bundled model's frames one by one too.
 */
function frameChunkBytes(): number {
  const v = Number(process.env.PMF_VIZ_CHUNK_BYTES);
  return Number.isFinite(v) && v > 0 ? v : 8 * 1024 * 1024;
}

export interface VisualizerDeps {
  extensionUri: vscode.Uri;
  extensionPath: string;
  engine: EngineClient;
  log: vscode.LogOutputChannel;
  /** Round-trip timings reported by the webview (r slider), newest last. */
  timings: Array<{ name: string; ms: number }>;
  /** The sampling a model starts with (the workspace's saved defaults, else the checkpoint's). */
  startingSettings?: (modelPath: string, info: LoadResult['info']) => { omega: number; tMin: number; tMax: number };
}

export class VisualizerPanel implements vscode.Disposable {
  static readonly viewType = 'pmf.fieldVisualizer';
  private static readonly all = new Set<VisualizerPanel>();
  private readonly disposables = new DisposableStore();
  private readonly channel: Channel<FromWebview, ToWebview>;
  private readonly jobs = new Jobs<'run' | 'measure' | 'consistency'>();
  private readonly exports: VisualizerExports;
  private load?: LoadResult;
  private last?: { reply: TrajectoryReply; config: VizConfig; image?: { name: string; x: Float32Array } };
  private image?: { name: string; x: Float32Array };
  private readonly busyLabels = new Map<'work' | 'measure', string>();

  /** Opens a new visualizer: picks a model (unless given one), loads it, shows the panel. */
  static async open(deps: VisualizerDeps, preselected?: vscode.Uri): Promise<VisualizerPanel | undefined> {
    const picked = preselected ? modelFromUri(deps.extensionPath, preselected) : await pickModel(deps.extensionPath, undefined,
      'pMF: Open Field Visualizer: model');
    if (!picked) return undefined;
    const panel = vscode.window.createWebviewPanel(VisualizerPanel.viewType, 'pMF Field Visualizer', vscode.ViewColumn.Active,
      VisualizerPanel.options(deps));
    return new VisualizerPanel(deps, panel, picked.path);
  }

  /** Restores a panel after a reload from the state its webview saved. */
  static revive(deps: VisualizerDeps, panel: vscode.WebviewPanel, state: unknown): VisualizerPanel {
    panel.webview.options = VisualizerPanel.options(deps);
    const saved = savedConfig(state);
    const fallback = listBundledModels(deps.extensionPath)[0]?.path ?? '';
    return new VisualizerPanel(deps, panel, saved?.modelPath || fallback, saved);
  }

  static panels(): VisualizerPanel[] {
    return [...VisualizerPanel.all];
  }

  private static options(deps: VisualizerDeps): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return { ...webviewOptions(deps.extensionUri), retainContextWhenHidden: false };
  }

  private constructor(private readonly deps: VisualizerDeps, readonly panel: vscode.WebviewPanel, private modelPath: string,
    private config?: VizConfig) {
    VisualizerPanel.all.add(this);
    panel.webview.html = webviewHtml(panel.webview, deps.extensionUri, {
      title: 'pMF Field Visualizer', script: 'visualizer.js', style: 'visualizer.css', extraStyles: ['uPlot.min.css'],
      body: '<div id="app"></div>',
    });
    this.channel = hostChannel('visualizer', panel.webview, { incoming: FromWebview, outgoing: ToWebview }, {
      log: deps.log,
      onError: (e) => {
        if (isCancelled(e)) return;
        const message = messageOf(e);
        this.deps.log.error(`visualizer: ${message}`);
        this.post({ type: 'error', message });
      },
    });
    this.disposables.add(this.channel);
    this.exports = new VisualizerExports(deps.engine, (m) => void this.post(m));
    this.registerHandlers();
    this.disposables.add(panel.onDidDispose(() => this.dispose()));
  }

  /** Validates and posts a message; resolves when the webview has taken it. */
  private post(msg: ToWebview): PromiseLike<unknown> {
    return this.channel.post(msg).taken;
  }

  private async init(): Promise<void> {
    if (!vscode.workspace.isTrusted && !listBundledModels(this.deps.extensionPath).some((m) => m.path === this.modelPath)) {
      throw new Error('This workspace is not trusted: the Field Visualizer runs only bundled models here.');
    }
    this.setBusy('work', `Loading ${basename(this.modelPath)}`);
    this.load = await this.loadModel();
    const info = this.load.info;
    const model: ModelView = {
      name: info.name || basename(this.modelPath), path: this.modelPath, kind: info.kind, prediction: info.prediction,
      numClasses: info.numClasses, classNames: info.classNames, hasCfg: info.hasCfg, modelType: info.modelType,
      guidance: info.guidance, sampleShape: info.sampleShape,
      flow: info.modelType === 'flow-matching' ? { solver: info.defaultSolver ?? 'euler', steps: info.defaultSampling.steps } : undefined,
      dataRange: info.dataRange, embedding: info.embedding, provider: this.load.provider,
    };
    const d = this.deps.startingSettings?.(this.modelPath, info) ?? info.defaultSampling;
    // steps, samples and patch size that fit the model's cost (B/16: 1 step, 1 sample, 16 x 16 patches)
    const cost = costDefaults(info);
    const base = defaultConfig(this.modelPath, info.numClasses, d,
      { steps: cost.vizSteps, samples: cost.vizSamples, patchSize: cost.vizPatchSize }, model.flow);
    const cfg = this.fitConfig(this.config && this.config.modelPath === this.modelPath ? this.config
      : { ...base, ...this.keptSettings(base, info.modelType) });
    this.config = cfg;
    this.panel.title = `pMF Fields: ${model.name}`;
    this.deps.log.info(`visualizer defaults for ${model.name}: ${cost.reason}`);
    // a flow-matching model's ODE: the solver and steps of its pmf.default_sampling
    const note = model.flow ? `${cost.reason}; the ODE with the model's own sampler, ${model.flow.steps} ` +
      `${model.flow.solver === 'heun' ? 'Heun' : 'Euler'} steps per unit of t` : cost.reason;
    this.post({ type: 'init', model, config: cfg, defaultsNote: note,
      models: listBundledModels(this.deps.extensionPath).map((m) => ({ name: m.name, path: m.path })) });
  }

  /** Loads the panel's model, its phases in the panel and, for a large model, in a notification. */
  private async loadModel(): Promise<LoadResult> {
    const name = basename(this.modelPath);
    const load = await loadWithProgress(this.deps.engine, this.modelPath, providerSetting(), {
      label: name, log: this.deps.log,
      onPhase: (p) => {
        if (p.phase !== 'ready') this.setBusy('work', `${p.message[0].toUpperCase()}${p.message.slice(1)}`);
      },
    });
    this.deps.log.info(describeLoad(this.modelPath, load));
    return load;
  }

  /**
   * Settings that carry over when the user switches model; the trajectory's kind (mode, r, ODE
   * steps, solver) only between models of one type (a MeanFlow model's 128 Euler steps are not a
   * flow-matching model's, and its step r does not exist there).
   */
  private keptSettings(base: VizConfig, modelType: LoadResult['info']['modelType']): Partial<VizConfig> {
    if (!this.config) return {};
    const { mode, seeds, steps, odeSteps, rMode, rFraction, tStart, imagePath, noiseSeed, patchSize, solver } = this.config;
    const kept: Partial<VizConfig> = { seeds, tStart, imagePath, noiseSeed, patchSize,
      labels: base.labels.length ? seeds.map((_, i) => base.labels[i % base.labels.length]) : [] };
    if ((this.config.solver !== undefined) !== (modelType === 'flow-matching')) return kept;
    return { ...kept, mode: mode === 'image' && !this.image ? base.mode : mode, steps, odeSteps, rMode, rFraction, solver };
  }

  /** The config as the panel's model can run it: a flow-matching model's is its ODE's (flowConfig); a MeanFlow model has no solver. */
  private fitConfig(cfg: VizConfig): VizConfig {
    const info = this.load?.info;
    if (info?.modelType === 'flow-matching') return flowConfig(cfg, { solver: info.defaultSolver ?? 'euler' });
    if (cfg.solver === undefined) return cfg;
    const { solver: _, ...rest } = cfg;
    return rest;
  }

  /**
   * What the panel shows as busy (with Stop): the work a message started, else a measurement in
   * progress (which runs on after the message that started it).
   */
  private setBusy(kind: 'work' | 'measure', label: string | undefined): void {
    if (label === undefined) this.busyLabels.delete(kind);
    else this.busyLabels.set(kind, label);
    const shown = this.busyLabels.get('work') ?? this.busyLabels.get('measure');
    this.post({ type: 'busy', busy: shown !== undefined, label: shown });
  }


  /** A progress callback that shows `label: k of n <unit>` in the panel, at most every PROGRESS_POST_MS. */
  private progressLabel(label: string, unit: string, signal: AbortSignal): (done: number, total: number) => void {
    let last = 0;
    return (done, total) => {
      const now = performance.now();
      if (signal.aborted) return;
      if (done < total && now - last < PROGRESS_POST_MS) return;
      last = now;
      this.setBusy('work', `${label}: ${done} of ${total} ${unit}`);
    };
  }

  /** Runs `fn`; if the engine restarted (model or trajectory gone), loads the model again and retries once. */
  private async retryAfterRestart<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof EngineError) || !['unknown-model', 'crashed'].includes(e.code)) throw e;
      this.deps.log.warn(`visualizer: ${e.message}; loading ${basename(this.modelPath)} again`);
      this.load = await this.loadModel();
      return fn();
    }
  }

  private async run(requestId: number, asked: VizConfig): Promise<void> {
    if (!this.load) return;
    const cfg = this.fitConfig(asked);
    const last = this.last;
    if (last && sameTrajectory(last.config, cfg) && last.image === this.image && cfg.patchSize !== last.config.patchSize) {
      // Only the patch size changed: the trajectory stands, its measurements are redone.
      this.config = cfg;
      this.last = { ...last, config: cfg };
      this.startMeasuring(requestId, last.reply.trajectoryId, cfg.patchSize);
      return;
    }
    const signal = this.jobs.start('run');
    this.config = cfg;
    const info = this.load.info;
    if (cfg.mode === 'image' && !this.image) throw new Error('Image mode needs an image: pick one or drop a PNG / JPEG on the panel.');
    const seeds = trajectorySeeds(info.kind, cfg.seeds);
    const labels = info.numClasses > 0 ? seeds.map((_, i) => cfg.labels[i % Math.max(1, cfg.labels.length)] ?? info.numClasses) : undefined;
    const busyLabel = 'Computing the trajectory';
    // a flow-matching trajectory reports its frames (each with its own ODE solve down to r), not network calls
    this.setBusy('work', busyLabel);
    const reply = await this.retryAfterRestart(() => this.deps.engine.trajectory({
      modelId: this.load!.modelId, mode: cfg.mode, seeds: cfg.mode === 'image' ? seeds.map((_, i) => cfg.noiseSeed + i) : seeds,
      labels, omega: cfg.omega, tMin: cfg.tMin, tMax: cfg.tMax, steps: cfg.steps, odeSteps: cfg.odeSteps,
      rFraction: cfg.rMode === 'step' ? 'step' : cfg.rFraction,
      image: cfg.mode === 'image' ? { x: this.image!.x, tStart: cfg.tStart, path: cfg.imagePath } : undefined,
      ...(cfg.solver ? { solver: cfg.solver } : {}),
    }, signal, this.progressLabel(busyLabel, info.modelType === 'flow-matching' ? 'frames' : 'network calls', signal)));
    if (signal.aborted) return;
    this.last = { reply, config: cfg, image: this.image };
    this.deps.log.debug(`trajectory: ${reply.times.length} frames in ${reply.ms.toFixed(1)} ms`);
    // The first frames go with the trajectory, the rest in chunks after it (and after the
    // measuring starts), so a large model's first images show without waiting for all of them.
    const frames = reply.times.length;
    const size = reply.fields ? reply.fields.length / frames : 0;
    // Display frames cross as 8 bits per value with each block's range (a quarter of the bytes);
    // the exact values stay in the engine (hover readout, .npy export, measurements).
    const per = valuesPerSample(reply.sampleShape);
    const perMessage = Math.max(1, Math.floor(frameChunkBytes() / Math.max(1, size)));
    const chunk = (start: number) => quantise8(reply.fields!.subarray(start * size, Math.min(frames, start + perMessage) * size), per);
    const first = reply.fields && chunk(0);
    if (first) this.deps.log.debug(`trajectory: ${frames} frames of ${size * 4} bytes as float32, ${size + 8 * 4 * reply.n} as 8-bit`);
    this.post({ type: 'trajectory', result: {
      requestId, mode: cfg.mode, times: reply.times, rs: reply.rs, n: reply.n, sampleShape: reply.sampleShape,
      q8: first, toy: reply.toy, ms: reply.ms,
    } });
    // NaN or infinite values would show as black: the panel says so, with their count.
    const shown = reply.fields ?? reply.toy?.plane;
    const bad = shown && nonFiniteFields(shown, reply.times);
    if (bad) {
      const message = `${basename(this.modelPath)} returned NaN or infinite values along this trajectory: ${bad}. ` +
        'The images show them as black. Try fewer steps, a smaller omega or the CPU provider; if the values stay non-finite, ' +
        'look for NaN or infinite weights with pMF: Inspect Checkpoint (the tensors\' statistics).';
      this.deps.log.warn(`visualizer: ${message}`);
      this.post({ type: 'error', message });
    }
    this.startMeasuring(requestId, reply.trajectoryId, cfg.patchSize);
    if (!reply.fields) return;
    this.setBusy('work', 'Sending the frames');
    for (let start = perMessage; start < frames && !signal.aborted; start += perMessage) {
      // one chunk at a time: the next is sent when the webview has taken this one
      await this.post({ type: 'frames', result: { requestId, start, q8: chunk(start) } });
    }
  }

  /**
   * Measures a trajectory in the background (the engine does it in a worker thread) and posts
   * the series to the webview as frames are done; a newer run or measurement cancels it.
   */
  private startMeasuring(requestId: number, trajectoryId: string, patchSize: number): void {
    const signal = this.jobs.start('measure');
    measureInBackground({
      engine: this.deps.engine, log: this.deps.log, requestId, trajectoryId, patchSize, kind: this.load!.info.kind,
      frames: this.last?.reply.times.length ?? 0, signal,
      post: (m) => void this.post(m),
      setBusy: (label) => this.setBusy('measure', label),
      isCurrent: () => this.jobs.isCurrent('measure', signal),
    });
  }

  /** Work a message starts shows as busy (with Stop) until it ends. */
  private async work<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      this.setBusy('work', undefined);
    }
  }

  private registerHandlers(): void {
    const c = this.channel;
    this.disposables.addAll(
      c.on('ready', () => this.work(() => this.init())),
      c.on('run', (msg, ctx) => this.work(() => this.run(ctx.seq, msg.config))),
      // the slider's fast path: no busy indicator
      c.on('fieldsAt', (msg, ctx) => this.fieldsAt(ctx.seq, msg.frame, msg.rFraction)),
      c.on('consistency', (msg) => this.work(() => this.consistency(msg.fineSteps))),
      c.on('cancel', () => this.work(async () => this.jobs.abort())),
      c.on('pickModel', () => this.work(async () => {
        const picked = await pickModel(this.deps.extensionPath, this.modelPath, 'pMF: Open Field Visualizer: model');
        if (!picked) return;
        this.modelPath = picked.path;
        this.last = undefined;
        await this.init();
      })),
      c.on('pickImage', () => this.work(async () => {
        const uri = (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Images: ['png', 'jpg', 'jpeg'] },
          openLabel: 'Use this image' }))?.[0];
        if (uri) await this.setImage(basename(uri.fsPath), Buffer.from(await vscode.workspace.fs.readFile(uri)));
      })),
      c.on('dropImage', (msg) => this.work(() => this.setImage(msg.name, Buffer.from(msg.bytes)))),
      c.on('exportPng', (msg) => this.work(() => this.exports.save('png', Buffer.from(msg.png), 'PNG image'))),
      c.on('exportAnimation', (msg) => this.work(() =>
        this.exports.animation(this.last?.reply, this.load?.info.dataRange, msg.format, msg.field))),
      c.on('exportNpy', (msg) => this.work(() => this.exports.npy(this.last?.reply.trajectoryId, msg.frame))),
      // the readout: no busy indicator
      c.on('exactAt', (msg) => this.exports.exactAt(this.last?.reply, msg.frame, msg.sample, msg.x, msg.y)),
      c.on('timing', (msg) => {
        this.deps.timings.push({ name: msg.name, ms: msg.ms });
        if (this.deps.timings.length > 1000) this.deps.timings.shift();
      }),
    );
  }

  /** Fields of a frame of the last trajectory at another r: the answer to the webview's fieldsAt. */
  private async fieldsAt(seq: number, frame: number, rFraction: number): Promise<MessageOf<ToWebview, 'fields'> | undefined> {
    const last = this.last;
    if (!last) return undefined;
    let r;
    try {
      r = await this.deps.engine.fieldsAt({ trajectoryId: last.reply.trajectoryId, frame, rFraction });
    } catch (e) {
      // The engine restarted: compute the trajectory again (the webview re-asks for r after it).
      if (e instanceof EngineError && ['unknown-trajectory', 'crashed'].includes(e.code)) {
        await this.run(seq, { ...last.config, rMode: 'fraction', rFraction });
        return undefined;
      }
      throw e;
    }
    // x and u at r, 8-bit like the frames (so u at r = t draws exactly as the frame's v)
    const q8 = r.fields && quantise8(r.fields, valuesPerSample(last.reply.sampleShape));
    return { type: 'fields', result: { frame, t: r.t, r: r.r, q8, toy: r.toy, ms: r.ms } };
  }

  /** MeanFlow consistency along the last trajectory: the answer to the webview's consistency. */
  private async consistency(fineSteps: number): Promise<MessageOf<ToWebview, 'consistency'> | undefined> {
    if (!this.last) return undefined;
    const signal = this.jobs.start('consistency');
    const label = 'Integrating v for the consistency check';
    this.setBusy('work', label);
    const c = await this.deps.engine.consistency(this.last.reply.trajectoryId, fineSteps, signal,
      this.progressLabel(label, 'fine steps', signal));
    if (signal.aborted) return undefined;
    return { type: 'consistency', result: { relativeError: c.relativeError, fineSteps, ms: c.ms } };
  }

  private async setImage(name: string, bytes: Buffer): Promise<void> {
    const info = this.load?.info;
    if (!info || info.kind !== 'image') throw new Error('Real images need an image model.');
    if (info.modelType === 'flow-matching') {
      throw new Error(`${info.name} is a flow-matching model: its trajectory is its ODE's from noise, so there is no real-image mode.`);
    }
    const { x, notice } = await decodeImageForModel(bytes, info.imageSize!, info.channels!, info.dataRange);
    this.image = { name, x };
    this.deps.log.info(`image ${name} decoded to ${info.channels}x${info.imageSize}x${info.imageSize}${notice ? `: ${notice}` : ''}`);
    this.post({ type: 'image', name, preview: x, sampleShape: info.sampleShape, notice });
  }

  dispose(): void {
    VisualizerPanel.all.delete(this);
    // stops the trajectory (and the frames still on their way), the measurements and the consistency check
    this.jobs.dispose();
    this.disposables.dispose();
  }
}

/** Whether two configs give the same trajectory (they may differ in what is measured of it). */
function sameTrajectory(a: VizConfig, b: VizConfig): boolean {
  return JSON.stringify({ ...a, patchSize: 0 }) === JSON.stringify({ ...b, patchSize: 0 });
}

/** The VizConfig a webview saved with setState ({ config, ... }), if it is valid. */
function savedConfig(state: unknown): VizConfig | undefined {
  const parsed = VizConfig.safeParse((state as { config?: unknown } | undefined)?.config);
  return parsed.success ? parsed.data : undefined;
}
