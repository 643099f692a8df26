// pMF: Open Field Visualizer (host side). Runs trajectories in the engine and forwards the
// fields and measurements to the webview; answers the r slider; takes a real image; exports.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { type EngineClient, EngineError } from '../../engine/client';
import type { LoadResult, TrajectoryReply } from '../../engine/protocol';
import { appendFrame, emptySeries, type MeasurementSeries } from '../../core/analysis';
import { costDefaults } from '../../core/costDefaults';
import { quantise8 } from '../../core/frameEncoding';
import { trajectorySeeds } from '../../core/trajectory';
import { encodeAnimation } from '../../node/animation';
import { listBundledModels } from '../../node/bundled';
import { decodeImageForModel } from '../../node/imageInput';
import { countNonFinite, describeCount, nonFiniteFields } from '../../node/nonFinite';
import { encodeNpy } from '../../node/npy';
import { writeFileAtomic } from '../../node/outputFiles';
import { defaultConfig, FromWebview, type ModelView, ToWebview, VizConfig } from '../../../webview/visualizer/protocol';
import { describeLoad, loadWithProgress } from '../loadProgress';
import { modelFromUri, pickModel } from '../modelPicker';
import { providerSetting } from '../settings';
import { webviewHtml } from '../webviewHtml';
import { fieldFrames } from './frameRender';

/** While measuring, progress reaches the webview at most this often. */
const MEASURE_POST_MS = 250;
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
}

export class VisualizerPanel implements vscode.Disposable {
  static readonly viewType = 'pmf.fieldVisualizer';
  private static readonly all = new Set<VisualizerPanel>();
  private readonly disposables: vscode.Disposable[] = [];
  private load?: LoadResult;
  private last?: { reply: TrajectoryReply; config: VizConfig; image?: { name: string; x: Float32Array } };
  private image?: { name: string; x: Float32Array };
  private running?: AbortController;
  private measuring?: AbortController;
  private checking?: AbortController;
  private readonly busyLabels = new Map<'work' | 'measure', string>();
  /** Exact fields of the frame last asked for by the hover readout (the panels show 8-bit values). */
  private exactFrame?: { trajectoryId: string; frame: number; data: Promise<{ fields: Float32Array; n: number; sampleShape: number[] }> };

  /** Opens a new visualizer: picks a model (unless given one), loads it, shows the panel. */
  static async open(deps: VisualizerDeps, preselected?: vscode.Uri): Promise<VisualizerPanel | undefined> {
    const picked = preselected ? modelFromUri(deps.extensionPath, preselected) : await pickModel(deps.extensionPath);
    if (!picked) return undefined;
    const panel = vscode.window.createWebviewPanel(VisualizerPanel.viewType, 'pMF Field Visualizer', vscode.ViewColumn.Active,
      VisualizerPanel.options(deps));
    return new VisualizerPanel(deps, panel, picked.path);
  }

  /** Restores a panel after a reload from the state its webview saved. */
  static revive(deps: VisualizerDeps, panel: vscode.WebviewPanel, state: unknown): VisualizerPanel {
    panel.webview.options = VisualizerPanel.options(deps);
    const saved = VizConfigFromState(state);
    const fallback = listBundledModels(deps.extensionPath)[0]?.path ?? '';
    return new VisualizerPanel(deps, panel, saved?.modelPath || fallback, saved);
  }

  static panels(): VisualizerPanel[] {
    return [...VisualizerPanel.all];
  }

  private static options(deps: VisualizerDeps): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return { enableScripts: true, retainContextWhenHidden: false,
      localResourceRoots: [vscode.Uri.joinPath(deps.extensionUri, 'dist', 'webview')] };
  }

  private constructor(private readonly deps: VisualizerDeps, readonly panel: vscode.WebviewPanel, private modelPath: string,
    private config?: VizConfig) {
    VisualizerPanel.all.add(this);
    panel.webview.html = webviewHtml(panel.webview, deps.extensionUri, {
      title: 'pMF Field Visualizer', script: 'visualizer.js', style: 'visualizer.css', extraStyles: ['uPlot.min.css'],
      body: '<div id="app"></div>',
    });
    panel.webview.onDidReceiveMessage((m) => this.onMessage(m), undefined, this.disposables);
    panel.onDidDispose(() => this.dispose(), undefined, this.disposables);
  }

  /** Validates and posts a message; resolves when the webview has taken it. */
  private post(msg: ToWebview): Thenable<boolean> {
    return this.panel.webview.postMessage(ToWebview.parse(msg));
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
      numClasses: info.numClasses, classNames: info.classNames, hasCfg: info.hasCfg, sampleShape: info.sampleShape,
      dataRange: info.dataRange, embedding: info.embedding, provider: this.load.provider,
    };
    const d = info.defaultSampling;
    // steps, samples and patch size that fit the model's cost (B/16: 1 step, 1 sample, 16 x 16 patches)
    const cost = costDefaults(info);
    const base = defaultConfig(this.modelPath, info.numClasses, d,
      { steps: cost.vizSteps, samples: cost.vizSamples, patchSize: cost.vizPatchSize });
    const cfg = this.config && this.config.modelPath === this.modelPath ? this.config : { ...base, ...this.keptSettings(base) };
    this.config = cfg;
    this.panel.title = `pMF Fields: ${model.name}`;
    this.deps.log.info(`visualizer defaults for ${model.name}: ${cost.reason}`);
    this.post({ type: 'init', model, config: cfg, defaultsNote: cost.reason,
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

  /** Settings that carry over when the user switches model. */
  private keptSettings(base: VizConfig): Partial<VizConfig> {
    if (!this.config) return {};
    const { mode, seeds, steps, odeSteps, rMode, rFraction, tStart, imagePath, noiseSeed, patchSize } = this.config;
    return { mode: mode === 'image' && !this.image ? base.mode : mode, seeds, steps, odeSteps, rMode, rFraction, tStart, imagePath,
      noiseSeed, patchSize, labels: base.labels.length ? seeds.map((_, i) => base.labels[i % base.labels.length]) : [] };
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

  /** Stops the trajectory (and the frames still on their way), the measurements and the consistency check. */
  private cancelAll(): void {
    this.running?.abort();
    this.measuring?.abort();
    this.checking?.abort();
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

  private async run(requestId: number, cfg: VizConfig): Promise<void> {
    if (!this.load) return;
    const last = this.last;
    if (last && sameTrajectory(last.config, cfg) && last.image === this.image && cfg.patchSize !== last.config.patchSize) {
      // Only the patch size changed: the trajectory stands, its measurements are redone.
      this.config = cfg;
      this.last = { ...last, config: cfg };
      this.startMeasuring(requestId, last.reply.trajectoryId, cfg.patchSize);
      return;
    }
    this.running?.abort();
    const ac = new AbortController();
    this.running = ac;
    this.config = cfg;
    const info = this.load.info;
    if (cfg.mode === 'image' && !this.image) throw new Error('Image mode needs an image: pick one or drop a PNG / JPEG on the panel.');
    const seeds = trajectorySeeds(info.kind, cfg.seeds);
    const labels = info.numClasses > 0 ? seeds.map((_, i) => cfg.labels[i % Math.max(1, cfg.labels.length)] ?? info.numClasses) : undefined;
    const busyLabel = 'Computing the trajectory';
    this.setBusy('work', busyLabel);
    const reply = await this.retryAfterRestart(() => this.deps.engine.trajectory({
      modelId: this.load!.modelId, mode: cfg.mode, seeds: cfg.mode === 'image' ? seeds.map((_, i) => cfg.noiseSeed + i) : seeds,
      labels, omega: cfg.omega, tMin: cfg.tMin, tMax: cfg.tMax, steps: cfg.steps, odeSteps: cfg.odeSteps,
      rFraction: cfg.rMode === 'step' ? 'step' : cfg.rFraction,
      image: cfg.mode === 'image' ? { x: this.image!.x, tStart: cfg.tStart, path: cfg.imagePath } : undefined,
    }, ac.signal, this.progressLabel(busyLabel, 'network calls', ac.signal)));
    if (ac.signal.aborted) return;
    this.last = { reply, config: cfg, image: this.image };
    this.deps.log.debug(`trajectory: ${reply.times.length} frames in ${reply.ms.toFixed(1)} ms`);
    // The first frames go with the trajectory, the rest in chunks after it (and after the
    // measuring starts), so a large model's first images show without waiting for all of them.
    const frames = reply.times.length;
    const size = reply.fields ? reply.fields.length / frames : 0;
    // Display frames cross as 8 bits per value with each block's range (a quarter of the bytes);
    // the exact values stay in the engine (hover readout, .npy export, measurements).
    const per = reply.sampleShape.reduce((a, b) => a * b, 1);
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
    for (let start = perMessage; start < frames && !ac.signal.aborted; start += perMessage) {
      // one chunk at a time: the next is sent when the webview has taken this one
      await this.post({ type: 'frames', result: { requestId, start, q8: chunk(start) } });
    }
  }

  /**
   * Measures a trajectory in the background (the engine does it in a worker thread) and posts
   * the series to the webview as frames are done; a newer run or measurement cancels it.
   */
  private startMeasuring(requestId: number, trajectoryId: string, patchSize: number): void {
    this.measuring?.abort();
    const ac = new AbortController();
    this.measuring = ac;
    const started = performance.now();
    const info = this.load!.info;
    let series: MeasurementSeries | undefined;
    let done = 0;
    let total = this.last?.reply.times.length ?? 0;
    // before the first frame, an empty series says that measuring has begun
    const postSeries = (ms: number) => this.post({ type: 'measurements', result: { requestId, done, total,
      measurements: { ...(series ?? emptySeries(0, info.kind)), ms } } });
    const post = () => {
      lastPost = performance.now();
      void postSeries(lastPost - started);
      this.setBusy('measure', `Measuring: ${done} of ${total} frames`);
    };
    const stopShowing = () => {
      clearTimeout(timer);
      if (this.measuring === ac) this.setBusy('measure', undefined);
    };
    // A quick measurement is posted once, when done; a long one shows its progress from MEASURE_POST_MS on.
    let lastPost = started;
    const timer = setTimeout(() => { if (!ac.signal.aborted && done < total) post(); }, MEASURE_POST_MS);
    ac.signal.addEventListener('abort', () => stopShowing());
    void this.deps.engine.measure(trajectoryId, patchSize, ac.signal, (p) => {
      if (ac.signal.aborted) return;
      series ??= emptySeries(p.patchDim, info.kind);
      appendFrame(series, p.measurement);
      done = p.frame + 1;
      total = p.frames;
      if (done < total && performance.now() - lastPost > MEASURE_POST_MS) post();
    }).then((r) => {
      stopShowing();
      if (ac.signal.aborted) return;
      this.deps.log.debug(`measurements: ${r.measurements.rms.x.length} frames in ${r.ms.toFixed(1)} ms (p = ${patchSize})`);
      series = r.measurements;
      done = total = r.measurements.rms.x.length;
      void postSeries(r.ms);
    }, (e: unknown) => {
      stopShowing();
      if (ac.signal.aborted || (e instanceof EngineError && e.code === 'cancelled')) return;
      const message = e instanceof Error ? e.message : String(e);
      this.deps.log.error(`visualizer: ${message}`);
      this.post({ type: 'error', message });
    });
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = FromWebview.safeParse(raw);
    if (!parsed.success) {
      this.deps.log.warn(`visualizer: ignored an invalid message: ${parsed.error.message}`);
      return;
    }
    const msg = parsed.data;
    try {
      switch (msg.type) {
        case 'ready':
          await this.init();
          break;
        case 'run':
          await this.run(msg.requestId, msg.config);
          break;
        case 'fieldsAt': {
          if (!this.last) return;
          let r;
          try {
            r = await this.deps.engine.fieldsAt({ trajectoryId: this.last.reply.trajectoryId, frame: msg.frame,
              rFraction: msg.rFraction });
          } catch (e) {
            // The engine restarted: compute the trajectory again (the webview re-asks for r after it).
            if (e instanceof EngineError && ['unknown-trajectory', 'crashed'].includes(e.code)) {
              await this.run(msg.requestId, { ...this.last.config, rMode: 'fraction', rFraction: msg.rFraction });
              return;
            }
            throw e;
          }
          // x and u at r, 8-bit like the frames (so u at r = t draws exactly as the frame's v)
          const q8 = r.fields && quantise8(r.fields, this.last.reply.sampleShape.reduce((a, b) => a * b, 1));
          this.post({ type: 'fields', result: { requestId: msg.requestId, frame: msg.frame, t: r.t, r: r.r, q8,
            toy: r.toy, ms: r.ms } });
          return; // no busy indicator for the slider's fast path
        }
        case 'consistency': {
          if (!this.last) return;
          this.checking?.abort();
          const ac = new AbortController();
          this.checking = ac;
          const label = 'Integrating v for the consistency check';
          this.setBusy('work', label);
          const c = await this.deps.engine.consistency(this.last.reply.trajectoryId, msg.fineSteps, ac.signal,
            this.progressLabel(label, 'fine steps', ac.signal));
          if (ac.signal.aborted) return;
          this.post({ type: 'consistency', result: { requestId: msg.requestId, relativeError: c.relativeError,
            fineSteps: msg.fineSteps, ms: c.ms } });
          break;
        }
        case 'cancel':
          this.cancelAll();
          break;
        case 'pickModel': {
          const picked = await pickModel(this.deps.extensionPath, this.modelPath);
          if (!picked) return;
          this.modelPath = picked.path;
          this.last = undefined;
          await this.init();
          break;
        }
        case 'pickImage': {
          const uri = (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Images: ['png', 'jpg', 'jpeg'] },
            openLabel: 'Use this image' }))?.[0];
          if (uri) await this.setImage(basename(uri.fsPath), Buffer.from(await vscode.workspace.fs.readFile(uri)));
          break;
        }
        case 'dropImage':
          await this.setImage(msg.name, Buffer.from(msg.bytes));
          break;
        case 'exportPng':
          await this.save('png', Buffer.from(msg.png), 'PNG image');
          break;
        case 'exportAnimation':
          await this.exportAnimation(msg.format, msg.field);
          break;
        case 'exportNpy':
          await this.exportNpy(msg.frame);
          break;
        case 'exactAt':
          await this.exactAt(msg.frame, msg.sample, msg.x, msg.y);
          return; // no busy indicator for the readout
        case 'timing':
          this.deps.timings.push({ name: msg.name, ms: msg.ms });
          if (this.deps.timings.length > 1000) this.deps.timings.shift();
          return;
      }
    } catch (e) {
      if (e instanceof Error && /Cancelled/.test(e.message)) return;
      const message = e instanceof Error ? e.message : String(e);
      this.deps.log.error(`visualizer: ${message}`);
      this.post({ type: 'error', message });
    } finally {
      if (msg.type !== 'fieldsAt' && msg.type !== 'timing' && msg.type !== 'exactAt') this.setBusy('work', undefined);
    }
  }

  private async setImage(name: string, bytes: Buffer): Promise<void> {
    const info = this.load?.info;
    if (!info || info.kind !== 'image') throw new Error('Real images need an image model.');
    const { x, notice } = await decodeImageForModel(bytes, info.imageSize!, info.channels!, info.dataRange);
    this.image = { name, x };
    this.deps.log.info(`image ${name} decoded to ${info.channels}x${info.imageSize}x${info.imageSize}${notice ? `: ${notice}` : ''}`);
    this.post({ type: 'image', name, preview: x, sampleShape: info.sampleShape, notice });
  }

  private async save(ext: string, data: Buffer, label: string): Promise<void> {
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri;
    const name = `pmf-fields-${Date.now()}.${ext}`;
    const uri = await vscode.window.showSaveDialog({ defaultUri: ws ? vscode.Uri.joinPath(ws, name) : undefined,
      filters: { [label]: [ext] } });
    if (!uri) return;
    // all or nothing: a temporary file beside it, renamed over it (the dialog asked before replacing a file)
    await writeFileAtomic(uri.fsPath, data, 'choose another name');
    this.post({ type: 'exported', path: uri.fsPath });
  }

  private async exportAnimation(format: 'gif' | 'webp', field: 'z' | 'x' | 'u' | 'v'): Promise<void> {
    const last = this.last;
    if (!last?.reply.fields || !this.load) throw new Error('Animations need a trajectory of an image model.');
    const { times, n, sampleShape } = last.reply;
    const per = sampleShape.reduce((a, b) => a * b, 1);
    const k = ['z', 'x', 'u', 'v'].indexOf(field);
    const count = { nan: 0, inf: 0 };
    for (let f = 0; f < times.length; f++) {
      const c = countNonFinite(last.reply.fields.subarray((f * 4 + k) * n * per, (f * 4 + k + 1) * n * per));
      count.nan += c.nan;
      count.inf += c.inf;
    }
    if (count.nan + count.inf > 0) {
      throw new Error(`The ${field} field of this trajectory holds ${describeCount(count)}: an animation would show them as black, ` +
        'so none was saved. Export the frame as .npy to look at the values.');
    }
    const frames = fieldFrames(last.reply.fields, times.length, n, sampleShape, field, this.load.info.dataRange);
    const scale = Math.max(1, Math.floor(128 / last.reply.sampleShape[1]));
    await this.save(format, await encodeAnimation(frames, format, { scale }), format.toUpperCase());
  }

  /** The exact float32 values of one pixel of a frame (its fields at the frame's own r), for the readout. */
  private async exactAt(frame: number, sample: number, x: number, y: number): Promise<void> {
    const last = this.last;
    if (!last?.reply.fields) return;
    const id = last.reply.trajectoryId;
    if (this.exactFrame?.trajectoryId !== id || this.exactFrame.frame !== frame) {
      const data = this.deps.engine.frameData(id, frame);
      this.exactFrame = { trajectoryId: id, frame, data };
      data.catch(() => { if (this.exactFrame?.data === data) this.exactFrame = undefined; });
    }
    const d = await this.exactFrame.data;
    const [C = 1, H = 1, W = 1] = d.sampleShape;
    if (sample >= d.n || x >= W || y >= H) return;
    const per = C * H * W;
    const values = [0, 1, 2, 3].map((k) => Array.from({ length: C }, (_, c) => d.fields[(k * d.n + sample) * per + c * H * W + y * W + x]));
    this.post({ type: 'exact', frame, sample, x, y, values });
  }

  private async exportNpy(frame: number): Promise<void> {
    if (!this.last) throw new Error('Run a trajectory first.');
    const d = await this.deps.engine.frameData(this.last.reply.trajectoryId, frame);
    await this.save('npy', encodeNpy(d.fields, [4, d.n, ...d.sampleShape]), 'NumPy array (z, x, u, v)');
  }

  dispose(): void {
    VisualizerPanel.all.delete(this);
    this.cancelAll();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}

/** Whether two configs give the same trajectory (they may differ in what is measured of it). */
function sameTrajectory(a: VizConfig, b: VizConfig): boolean {
  return JSON.stringify({ ...a, patchSize: 0 }) === JSON.stringify({ ...b, patchSize: 0 });
}

/** The VizConfig a webview saved with setState ({ config, ... }), if it is valid. */
function VizConfigFromState(state: unknown): VizConfig | undefined {
  const parsed = VizConfig.safeParse((state as { config?: unknown } | undefined)?.config);
  return parsed.success ? parsed.data : undefined;
}
