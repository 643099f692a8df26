// The Field Visualizer webview: wiring, state and messaging.
//   start: post `ready`, wait for `init` (model + config, also after a restore), then `run`.
//   state: the VizConfig, the selected frame and the view options live in vscode.setState, so the
//          host's WebviewPanelSerializer can send them back in `init`.
//   runs:  a run is a job: only the latest run's trajectory and measurements are taken; frames
//          belong to the trajectory on screen (trajectory.ts holds it).
//   r slider: one `fieldsAt` in flight, the latest position sent when the answer arrives
//          (rSlider.ts); the round trip (post -> pixels drawn) is reported as `timing` r-slider.
//   requests: fieldsAt, consistency and exactAt are answered through the channel (src/shared/channel.ts).
// Nothing is drawn while the panel is hidden: draws are deferred to the next visibilitychange.
// About 500 lines, on purpose: this is the page's wiring, and every handler here reads and
// writes the one `state`; the concepts live beside it (trajectory.ts, rSlider.ts, layout.ts,
// keys.ts, toolbar.ts, controls.ts).
import '../shared/jitless';
import { LatestRequest, type MessageOf } from '../../src/shared/channel';
import {
  FromWebview, type FramesResult, type MeasurementsResult, type ModelView, ToWebview, type TrajectoryResult, VizConfig,
} from '../../src/shared/protocol/visualizer';
import { vscode, webviewChannel } from '../shared/host';
import { Debounce } from '../shared/timer';
import { type FlowShown, TimeControls, ViewBar, type ViewOptions } from './controls';
import { describeSample, Toolbar } from './toolbar';
import { canvasToPng, renderStrip } from './exportStrip';
import { FieldGrid } from './fieldCanvas';
import { installKeys } from './keys';
import { pageLayout } from './layout';
import { Plots } from './plots';
import { type RAnswer, RSliderRequests } from './rSlider';
import { ToyPlaneView } from './toyPlane';
import { Trajectory } from './trajectory';
import { nextZoom, validZoom } from './zoom';

/** What vscode.setState holds (the host's serializer reads `config`). */
interface Persisted {
  config?: VizConfig;
  frame?: number;
  view?: Partial<ViewOptions>;
}

const DEFAULT_VIEW: ViewOptions = { zoom: 0, uv: 'channel', channel: 0, sharedScale: true, autoRun: true, animField: 'x' };
const RUN_DEBOUNCE_MS = 300;
const NEED_IMAGE = 'Real-image mode: pick or drop a PNG or JPEG image to start.';

const channel = webviewChannel('pMF visualizer', { incoming: ToWebview, outgoing: FromWebview });
const send = (msg: FromWebview) => void channel.post(msg);

// ---------------------------------------------------------------- state

const persisted: Persisted = (vscode.getState() as Persisted | undefined) ?? {};

/** What the panel shows and works on. */
const state: {
  model?: ModelView;
  config?: VizConfig;
  view: ViewOptions;
  frame: number;
  traj?: Trajectory;
  /** The latest run (its seq and config): only its trajectory and measurements are taken. */
  run?: { seq: number; config: VizConfig };
  /** The status line of the current trajectory (frames, samples, time). */
  trajStatus: string;
  haveImage: boolean;
  /** How the host fitted the picked image to the model (size, colour), shown with image-mode results. */
  imageNotice?: string;
  /** When the model's init arrived (the host posts it when the model is loaded), until the first panels are drawn. */
  initAt?: number;
} = { view: { ...DEFAULT_VIEW, ...persisted.view }, frame: persisted.frame ?? 0, trajStatus: '', haveImage: false };

const drawing = { count: 0, pending: false, dirty: false };
const runTimer = new Debounce();
const commitTimer = new Debounce();

const rSlider = new RSliderRequests(channel, (a) => onFields(a));
const consistency = new LatestRequest((fineSteps: number) =>
  channel.request<MessageOf<ToWebview, 'consistency'>>({ type: 'consistency', fineSteps }).reply);
const exact = new LatestRequest((ask: { frame: number; sample: number; x: number; y: number }) =>
  channel.request<MessageOf<ToWebview, 'exact'>>({ type: 'exactAt', ...ask }).reply);

function persist(): void {
  const st: Persisted = { config: state.config, frame: state.frame, view: state.view };
  vscode.setState(st);
}

// ---------------------------------------------------------------- DOM

const toolbar = new Toolbar({
  config: (patch, now) => updateConfig(patch, now),
  run: () => run(),
  cancel: () => cancel(),
  pickModel: () => send({ type: 'pickModel' }),
  pickImage: () => send({ type: 'pickImage' }),
  dropFile: (file) => void dropFile(file),
  autoRun: (on) => setView({ autoRun: on }),
});
const time = new TimeControls({
  frame: (f) => selectFrame(f),
  rInput: (fr) => onRInput(fr),
  rCommit: (fr) => onRCommit(fr),
  rStep: () => {
    if (!state.config || state.config.rMode === 'step') return;
    state.config = { ...state.config, rMode: 'step' };
    state.traj?.clearOverride();
    persist();
    run();
  },
});
const viewBar = new ViewBar({
  view: (patch) => setView(patch),
  zoom: (dir) => setView({ zoom: nextZoom(state.view.zoom, dir) }),
  exportPng: () => void exportPng(),
  exportAnimation: (format) => send({ type: 'exportAnimation', format, field: state.view.animField }),
  exportNpy: () => send({ type: 'exportNpy', frame: state.frame }),
});
const page = pageLayout(toolbar.root, time.root, viewBar.root);
const { empty, status, defaultsNote, readout, panelsHost, toyHost, plotsHost, content } = page;

const grid = new FieldGrid(panelsHost, readout, (dir) => setView({ zoom: nextZoom(state.view.zoom, dir) }),
  // the panels hold 8-bit display values: the readout asks the host for the exact ones
  (sample, x, y) => {
    if (!state.traj || state.model?.kind !== 'image') return;
    exact.request({ frame: state.frame, sample, x, y }).then((m) => {
      // the readout shows the exact values of the pixel it still points at, at the frame's own r
      if (m && state.frame === m.frame && !state.traj?.overridden(m.frame)) grid.setExact(m.sample, m.x, m.y, m.values);
    }, () => { /* the host's error event says why */ });
  });
const toy = new ToyPlaneView(toyHost, readout);
const plots = new Plots(plotsHost, (f) => selectFrame(f), () => requestConsistency());

// ---------------------------------------------------------------- config and runs

function updateConfig(patch: Partial<VizConfig>, now: boolean): void {
  if (!state.config) return;
  const parsed = VizConfig.safeParse({ ...state.config, ...patch });
  if (!parsed.success) {
    showError(`Invalid setting: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return;
  }
  state.config = parsed.data;
  toolbar.setConfig(state.config);
  persist();
  if (!state.view.autoRun) return;
  if (now) run(true);
  else runTimer.schedule(RUN_DEBOUNCE_MS, () => run(true));
}

/** Posts `run`, which becomes the latest run. auto: skipped when image mode has no image yet. */
function run(auto = false): void {
  runTimer.cancel();
  const { config, model } = state;
  if (!config || !model) return;
  if (auto && config.mode === 'image' && !state.haveImage) {
    setStatus(NEED_IMAGE);
    if (!state.traj) empty.textContent = NEED_IMAGE;
    return;
  }
  page.hideError(); // a new attempt: the last error is old news
  const { seq } = channel.post({ type: 'run', config });
  state.run = { seq, config };
}

/** Asks the host to stop; what was computed so far stays on screen. */
function cancel(): void {
  runTimer.cancel();
  send({ type: 'cancel' });
  consistency.reset();
  plots.markStopped();
  setStatus('Stopped.');
}

function setView(patch: Partial<ViewOptions>): void {
  const view = { ...state.view, ...patch };
  view.zoom = validZoom(view.zoom);
  state.view = view;
  viewBar.setView(view);
  toolbar.setAutoRun(view.autoRun);
  persist();
  if ('zoom' in patch) grid.setZoom(view.zoom);
  if ('uv' in patch || 'channel' in patch || 'sharedScale' in patch || 'zoom' in patch) requestDraw();
}

/** A flow-matching model's solver and ODE steps in a config (the r slider's "ODE down to r"); undefined for MeanFlow models. */
function flowShown(m: ModelView, c: VizConfig): FlowShown | undefined {
  return m.modelType === 'flow-matching' ? { solver: c.solver ?? m.flow?.solver ?? 'euler', odeSteps: c.odeSteps } : undefined;
}

function defaultZoom(m: ModelView): number {
  const W = m.sampleShape[m.sampleShape.length - 1] ?? 28;
  return validZoom(112 / W); // panels of about 112 px: 4x for 28 x 28, 1/2 for 256 x 256
}

// ---------------------------------------------------------------- drawing

/** The slider's r when it differs from what the last trajectory was computed with. */
function pendingR(cfg: VizConfig | undefined = state.traj?.config): number | undefined {
  const config = state.config;
  if (!config || config.rMode !== 'fraction' || !cfg) return undefined;
  return cfg.rMode === 'step' || Math.abs(config.rFraction - cfg.rFraction) > 1e-9 ? config.rFraction : undefined;
}

function requestDraw(): void {
  if (drawing.pending) return;
  drawing.pending = true;
  requestAnimationFrame(() => {
    drawing.pending = false;
    draw();
  });
}

/** Draws the selected frame now (or marks it for when the panel is visible again). */
function draw(): boolean {
  const { traj, model, config, view } = state;
  if (!traj || !model || !config) return false;
  if (document.visibilityState === 'hidden') {
    drawing.dirty = true;
    return false;
  }
  drawing.dirty = false;
  const f = Math.min(state.frame, traj.F - 1);
  const tr = traj.frameTR(f);
  const stepR = traj.config.rMode === 'step' && !traj.overridden(f);
  time.show(f, tr.t, tr.r, tr.rFraction, stepR);
  if (model.kind === 'toy') {
    const tf = traj.toyFrame(f);
    if (tf) toy.setFrame(tf);
  } else {
    const ff = traj.imageFrame(f);
    if (ff) {
      grid.draw(ff, { zoom: view.zoom, uv: view.uv, channel: view.channel, sharedScale: view.sharedScale, dataRange: model.dataRange });
      if (state.initAt !== undefined) {
        // read by the tests and the bench: model loaded (init) -> first panels drawn
        const at = state.initAt;
        state.initAt = undefined;
        requestAnimationFrame(() => { document.body.dataset.firstImageMs = (performance.now() - at).toFixed(0); });
      }
    } else {
      grid.pending(`Frame ${f + 1} is on its way (${traj.loaded} of ${traj.F} received)\u2026`);
    }
  }
  plots.setFrame(f);
  drawing.count++;
  document.body.dataset.frame = String(f);
  document.body.dataset.drawn = String(drawing.count);
  return true;
}

function selectFrame(f: number): void {
  if (!state.traj) return;
  const next = Math.max(0, Math.min(state.traj.F - 1, Math.round(f)));
  if (next === state.frame) return;
  state.frame = next;
  persist();
  // While an r change waits for its run, show the new frame at the slider's r too.
  const pr = pendingR();
  if (pr !== undefined) requestFields(state.frame, pr);
  requestDraw();
}

// ---------------------------------------------------------------- the r slider

function onRInput(rFraction: number): void {
  if (!state.config) return;
  state.config = { ...state.config, rMode: 'fraction', rFraction };
  persist();
  if (state.traj) {
    // Show the slider's r at once; the fields follow when the answer arrives.
    const t = state.traj.frameTR(state.frame).t;
    time.show(state.frame, t, rFraction * t, rFraction);
    requestFields(state.frame, rFraction);
  }
}

function onRCommit(rFraction: number): void {
  if (!state.config) return;
  state.config = { ...state.config, rMode: 'fraction', rFraction };
  persist();
  // Keyboard steps fire `change` on every key press: wait for the last one.
  commitTimer.schedule(250, () => run());
}

function requestFields(f: number, rFraction: number): void {
  if (state.traj) rSlider.request(f, rFraction);
}

/** An answer to fieldsAt: the frame at the slider's r; returns when its draw began, if it was drawn. */
function onFields(a: RAnswer): number | undefined {
  const traj = state.traj;
  if (!traj || !traj.setOverride(a.rFraction, a.result)) return undefined;
  const drawStart = performance.now();
  return a.result.frame === state.frame && draw() ? drawStart : undefined;
}

// ---------------------------------------------------------------- results

function onTrajectory(res: TrajectoryResult): void {
  const model = state.model;
  if (res.requestId !== state.run?.seq || !model) return; // an older run
  const cfg = state.run.config;
  const traj = Trajectory.from(res, model.kind, cfg);
  if (typeof traj === 'string') return showError(traj);
  const F = traj.F;
  state.traj = traj;
  exact.reset();
  grid.clearExact();
  document.body.dataset.loaded = String(traj.loaded);
  if (cfg.mode === 'image') state.haveImage = true; // the host has an image
  rSlider.dropWaiting();
  state.frame = Math.min(state.frame, F - 1);
  persist();
  empty.hidden = true;
  content.hidden = false;
  time.setTimes(res.times);
  if (model.kind === 'toy') {
    toy.setTrajectory({ plane: res.toy!.plane, frames: F, n: traj.n });
  } else {
    const labels = Array.from({ length: traj.n }, (_, i) => describeSample(i, cfg, model));
    grid.layout(traj.n, traj.C, traj.H, traj.W, labels);
  }
  time.setFlow(flowShown(model, cfg));
  plots.setTrajectory({ times: res.times, toy: model.kind === 'toy', flow: model.modelType === 'flow-matching' });
  plots.setMeasurements(undefined, 0, F);
  plots.setConsistency(undefined, 'Not computed for this trajectory yet.');
  const n = traj.n;
  state.trajStatus = `${F} frames \u00b7 ${n} sample${n === 1 ? '' : 's'} in ${(res.ms / 1000).toFixed(2)} s`;
  setStatus(`${state.trajStatus} \u00b7 measuring\u2026` + (cfg.mode === 'image' && state.imageNotice ? ` \u00b7 ${state.imageNotice}` : ''));
  draw();
  document.body.dataset.frames = String(F);
  document.body.dataset.measured = '0';
  // An r change made while this run was computed: keep showing the slider's r.
  const pr = pendingR(cfg);
  if (pr !== undefined) requestFields(state.frame, pr);
}

/** More frames of the current trajectory (they arrive in order). */
function onFrames(res: FramesResult): void {
  const tr = state.traj;
  if (!tr || res.requestId !== tr.requestId || !tr.fields) return;
  const error = tr.addFrames(res);
  if (error) return showError(error);
  document.body.dataset.loaded = String(tr.loaded);
  if (state.frame >= res.start && state.frame < tr.loaded) requestDraw();
}

/** Measurements of the current trajectory (all of it, or its first frames while the engine measures). */
function onMeasurements(res: MeasurementsResult): void {
  const traj = state.traj;
  if (res.requestId !== state.run?.seq || !traj || res.total !== traj.F) return; // an older run, or not this trajectory
  if (res.done > res.total || Object.values(res.measurements.rms).some((v) => v.length !== res.done)) {
    return showError(`The measurements have the wrong length (${res.done} of ${res.total} frames).`);
  }
  plots.setMeasurements(res.done > 0 ? res.measurements : undefined, res.done, res.total);
  const notice = traj.config.mode === 'image' && state.imageNotice ? ` \u00b7 ${state.imageNotice}` : '';
  if (res.done === res.total) {
    setStatus(`${state.trajStatus} (measures ${(res.measurements.ms / 1000).toFixed(2)} s)${notice}`);
    document.body.dataset.patchDim = String(res.measurements.patchDim);
  } else {
    setStatus(`${state.trajStatus} \u00b7 measuring, ${res.done} of ${res.total} frames${notice}`);
  }
  document.body.dataset.measured = String(res.done);
}

function requestConsistency(): void {
  if (!state.traj) return;
  plots.setConsistency(undefined, 'Computing\u2026');
  consistency.request(32).then((msg) => {
    const traj = state.traj;
    if (!msg || !traj) return;
    if (msg.result.relativeError.length === traj.F) {
      plots.setConsistency(msg.result.relativeError);
      setStatus(`Consistency with ${msg.result.fineSteps} fine steps in ${(msg.result.ms / 1000).toFixed(2)} s`);
    } else {
      plots.setConsistency(undefined, 'The result does not match the frames.');
    }
  }, () => { /* the host's error event says why */ });
}

function onInit(m: ModelView, c: VizConfig, models: { name: string; path: string }[], note?: string): void {
  state.initAt = performance.now();
  delete document.body.dataset.firstImageMs;
  defaultsNote.textContent = note ? `Defaults for this model: ${note}.` : '';
  defaultsNote.hidden = !note;
  const sameModel = (state.model?.path ?? persisted.config?.modelPath) === m.path;
  state.model = m;
  state.config = c;
  state.traj = undefined;
  rSlider.reset();
  exact.reset();
  state.haveImage = false;
  state.run = undefined; // results of runs for the previous model are ignored
  consistency.reset();
  if (!sameModel) state.frame = 0;
  let view = state.view;
  if (!view.zoom || !sameModel) view = { ...view, zoom: defaultZoom(m) };
  if (m.kind === 'image' && view.channel >= (m.sampleShape[0] ?? 1)) view = { ...view, channel: 0 };
  state.view = view;
  document.body.dataset.kind = m.kind;
  delete document.body.dataset.frames;
  toolbar.setModel(m, models);
  toolbar.setConfig(c);
  time.setFlow(flowShown(m, c));
  document.body.dataset.modelType = m.modelType;
  viewBar.setModel(m);
  setView({});
  grid.clear();
  grid.setZoom(state.view.zoom);
  toy.clear();
  plots.clear();
  panelsHost.hidden = m.kind === 'toy';
  toyHost.hidden = m.kind !== 'toy';
  content.hidden = true;
  empty.hidden = false;
  empty.textContent = 'Computing the trajectory\u2026';
  page.hideError();
  persist();
  // Always run on init, also in image mode: the host may still hold the image (a model switch);
  // if it does not, its error says to pick one.
  run();
}

// ---------------------------------------------------------------- messages, errors, exports

function showError(message: string): void {
  page.showError(message);
}

function setStatus(text: string): void {
  status.textContent = text;
}

async function dropFile(file: File): Promise<void> {
  const ok = /^image\/(png|jpeg)$/.test(file.type) || /\.(png|jpe?g)$/i.test(file.name);
  if (!ok) {
    showError(`${file.name} is not a PNG or JPEG image.`);
    return;
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  setStatus(`Reading ${file.name}\u2026`);
  send({ type: 'dropImage', name: file.name, bytes });
}

async function exportPng(): Promise<void> {
  const { traj, model } = state;
  if (!traj || !model) return;
  try {
    const f = Math.min(state.frame, traj.F - 1);
    const { t, r } = traj.frameTR(f);
    let canvas: HTMLCanvasElement | undefined;
    if (model.kind === 'toy') {
      canvas = toy.canvas;
    } else {
      const mode = model.modelType === 'flow-matching'
        ? `flow-matching ODE (${traj.config.odeSteps} ${traj.config.solver ?? model.flow?.solver ?? 'euler'} steps per unit t; u, x from z_r)`
        : { pmf: 'pMF trajectory', ode: 'v-ODE trajectory', image: 'real image' }[traj.config.mode];
      canvas = renderStrip(grid, `${model.name} \u00b7 ${mode} \u00b7 frame ${f + 1}/${traj.F} \u00b7 t = ${t.toFixed(4)}, r = ${r.toFixed(4)}, h = ${(t - r).toFixed(4)}`);
    }
    if (!canvas) return;
    setStatus('Encoding PNG\u2026');
    send({ type: 'exportPng', png: await canvasToPng(canvas) });
  } catch (e) {
    showError(e instanceof Error ? e.message : String(e));
  }
}

channel.on('init', (msg) => onInit(msg.model, msg.config, msg.models, msg.defaultsNote));
channel.on('trajectory', (msg) => onTrajectory(msg.result));
channel.on('frames', (msg) => onFrames(msg.result));
channel.on('measurements', (msg) => onMeasurements(msg.result));
channel.on('image', (msg) => {
  state.haveImage = true;
  state.imageNotice = msg.notice;
  setStatus(msg.notice ?? `Using ${msg.name}`);
  if (state.model) toolbar.setImage(msg.name, msg.preview, msg.sampleShape, state.model.dataRange);
  if (state.config && state.config.mode !== 'image') updateConfig({ mode: 'image' }, false);
  run();
});
channel.on('busy', (msg) => toolbar.setBusy(msg.busy, msg.label));
channel.on('error', (msg) => {
  showError(msg.message);
  if (empty.textContent?.startsWith('Computing')) empty.textContent = 'No trajectory.';
  if (!state.traj) plots.setConsistency(undefined, '');
});
channel.on('exported', (msg) => setStatus(`Saved ${msg.path}`));

// ---------------------------------------------------------------- keyboard, visibility, theme

installKeys({
  run: () => run(),
  cancel: () => cancel(),
  frames: () => state.traj?.F,
  frame: () => state.frame,
  selectFrame: (f) => selectFrame(f),
  zoom: (dir) => setView({ zoom: nextZoom(state.view.zoom, dir) }),
});

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible') return;
  plots.flush();
  if (drawing.dirty) draw();
});

// VS Code swaps the theme by changing the body class and the --vscode-* variables on <html>.
const themeTimer = new Debounce();
const themeObserver = new MutationObserver(() => themeTimer.schedule(50, () => {
  plots.refreshTheme();
  if (state.traj) requestDraw();
}));
themeObserver.observe(document.body, { attributes: true, attributeFilter: ['class'] });
themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });

const resizeTimer = new Debounce();
new ResizeObserver(() => resizeTimer.schedule(60, () => {
  if (state.model?.kind === 'toy' && state.traj) toy.draw();
})).observe(toyHost);

viewBar.setView(state.view);
send({ type: 'ready' });
