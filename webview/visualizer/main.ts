// The Field Visualizer webview: wiring, state and messaging.
//   start: post `ready`, wait for `init` (model + config, also after a restore), then `run`.
//   state: the VizConfig, the selected frame and the view options live in vscode.setState, so the
//          host's WebviewPanelSerializer can send them back in `init`.
//   r slider: one `fieldsAt` in flight; the latest position is sent when the answer arrives; the
//          round trip (post -> pixels drawn) is reported as `timing` r-slider.
// Nothing is drawn while the panel is hidden: draws are deferred to the next visibilitychange.
import '../shared/jitless';
import { sender, vscode } from '../shared/host';
import { Toolbar, TimeControls, ViewBar, type ViewOptions, describeSample, h } from './controls';
import { FieldGrid, type FrameFields, nextZoom, validZoom } from './fieldCanvas';
import { Plots } from './plots';
import { ToyPlaneView, type ToyFrame } from './toyPlane';
import { canvasToPng, renderStrip } from './exportStrip';
import { dequantise8 } from '../../src/core/frameEncoding';
import {
  type FieldsResult, type FramesResult, FromWebview, type MeasurementsResult, type ModelView, ToWebview, type TrajectoryResult, VizConfig,
} from './protocol';


/** What vscode.setState holds (the host's serializer reads `config`). */
interface Persisted {
  config?: VizConfig;
  frame?: number;
  view?: Partial<ViewOptions>;
}

const DEFAULT_VIEW: ViewOptions = { zoom: 0, uv: 'channel', channel: 0, sharedScale: true, autoRun: true, animField: 'x' };
const RUN_DEBOUNCE_MS = 300;
const FIELDS_TIMEOUT_MS = 20_000;
const NEED_IMAGE = 'Real-image mode: pick or drop a PNG or JPEG image to start.';

const send = sender(FromWebview);

// ---------------------------------------------------------------- state

const persisted: Persisted = (vscode.getState() as Persisted | undefined) ?? {};
let model: ModelView | undefined;
let config: VizConfig | undefined;
let view: ViewOptions = { ...DEFAULT_VIEW, ...persisted.view };
let frame = persisted.frame ?? 0;
let nextId = 1;
let lastRunId = 0;
const runConfigs = new Map<number, VizConfig>();

interface Trajectory {
  result: TrajectoryResult;
  /** The run that computed it (a later patch-size run measures it again under its own id). */
  requestId: number;
  /** Image models: all frames' fields, [F, 4, n, per], filled as frames arrive. */
  fields?: Float32Array;
  /** Image models: frames 0..loaded-1 have arrived. */
  loaded: number;
  config: VizConfig;
  F: number;
  n: number;
  C: number;
  H: number;
  W: number;
  per: number;
}
let traj: Trajectory | undefined;
/** Fields of one frame at another r (the r slider), newer than the trajectory. */
/** composite: image models, the frame's z and v with x and u at the override's r, [4, n, per]. */
let override: { frame: number; rFraction: number; result: FieldsResult; composite?: Float32Array } | undefined;
let fieldsInFlight: { id: number; sentAt: number; frame: number; rFraction: number } | undefined;
let fieldsPending: { frame: number; rFraction: number } | undefined;
let consistencyId = 0;
/** The status line of the current trajectory (frames, samples, time). */
let trajStatus = '';
let haveImage = false;
/** How the host fitted the picked image to the model (size, colour), shown with image-mode results. */
let imageNotice: string | undefined;
let runTimer: ReturnType<typeof setTimeout> | undefined;
let commitTimer: ReturnType<typeof setTimeout> | undefined;
let drawCount = 0;
let drawPending = false;
let dirty = false;

function persist(): void {
  const st: Persisted = { config, frame, view };
  vscode.setState(st);
}

// ---------------------------------------------------------------- DOM

const app = document.getElementById('app') ?? document.body.appendChild(h('div', { id: 'app' }));
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
    if (!config || config.rMode === 'step') return;
    config = { ...config, rMode: 'step' };
    override = undefined;
    persist();
    run();
  },
});
const viewBar = new ViewBar({
  view: (patch) => setView(patch),
  zoom: (dir) => setView({ zoom: nextZoom(view.zoom, dir) }),
  exportPng: () => void exportPng(),
  exportAnimation: (format) => send({ type: 'exportAnimation', format, field: view.animField }),
  exportNpy: () => send({ type: 'exportNpy', frame }),
});
const errorBox = h('div', { id: 'error', role: 'alert' });
errorBox.hidden = true;
const errorText = h('span', { class: 'text' });
const errorClose = h('vscode-button', { icon: 'close', secondary: '', 'aria-label': 'Dismiss the error', title: 'Dismiss' });
errorClose.addEventListener('click', () => { errorBox.hidden = true; });
errorBox.append(h('span', { class: 'codicon codicon-error', 'aria-hidden': 'true' }), errorText, errorClose);
const status = h('div', { id: 'status', role: 'status', 'aria-live': 'polite' });
const empty = h('div', { id: 'empty', text: 'Waiting for the extension\u2026' });
/** Why the defaults fit this model ("1 step: this model costs 66.7 GFLOP per image; more steps on request"). */
const defaultsNote = h('div', { id: 'defaults-note' });
defaultsNote.hidden = true;
const readout = h('div', { id: 'readout', class: 'readout', 'aria-live': 'polite' });
const panelsHost = h('div', { id: 'panels' });
const toyHost = h('div', { id: 'toy' });
toyHost.hidden = true;
const panelsSection = h('section', { class: 'fields', 'aria-label': 'Fields at the selected frame' }, readout, panelsHost, toyHost);
const plotsHost = h('section', { id: 'plots', 'aria-label': 'Measures along t' });
const workspace = h('main', { class: 'workspace' }, panelsSection, plotsHost);
const content = h('div', { class: 'content' }, time.root, viewBar.root, workspace);
content.hidden = true;
app.replaceChildren(toolbar.root, h('div', { class: 'messages' }, errorBox, status, defaultsNote), empty, content);

const grid = new FieldGrid(panelsHost, readout, (dir) => setView({ zoom: nextZoom(view.zoom, dir) }),
  // the panels hold 8-bit display values: the readout asks the host for the exact ones
  (sample, x, y) => {
    if (!traj || model?.kind !== 'image') return;
    exactAsked = { frame, sample, x, y };
    send({ type: 'exactAt', frame, sample, x, y });
  });
/** When the model's init arrived (the host posts it when the model is loaded), until the first panels are drawn. */
let initAt: number | undefined;
let exactAsked: { frame: number; sample: number; x: number; y: number } | undefined;
const toy = new ToyPlaneView(toyHost, readout);
const plots = new Plots(plotsHost, (f) => selectFrame(f), () => requestConsistency());

// ---------------------------------------------------------------- config and runs

function updateConfig(patch: Partial<VizConfig>, now: boolean): void {
  if (!config) return;
  const parsed = VizConfig.safeParse({ ...config, ...patch });
  if (!parsed.success) {
    showError(`Invalid setting: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return;
  }
  config = parsed.data;
  toolbar.setConfig(config);
  persist();
  if (!view.autoRun) return;
  if (now) run(true);
  else scheduleRun(RUN_DEBOUNCE_MS);
}

function scheduleRun(ms: number): void {
  clearTimeout(runTimer);
  runTimer = setTimeout(() => run(true), ms);
}

/** Posts `run` with a fresh requestId. auto: skipped when image mode has no image yet. */
function run(auto = false): void {
  clearTimeout(runTimer);
  if (!config || !model) return;
  if (auto && config.mode === 'image' && !haveImage) {
    setStatus(NEED_IMAGE);
    if (!traj) empty.textContent = NEED_IMAGE;
    return;
  }
  const id = nextId++;
  lastRunId = id;
  errorBox.hidden = true; // a new attempt: the last error is old news
  runConfigs.set(id, config);
  for (const k of runConfigs.keys()) if (k < id - 8) runConfigs.delete(k);
  send({ type: 'run', requestId: id, config });
}

/** Asks the host to stop; what was computed so far stays on screen. */
function cancel(): void {
  clearTimeout(runTimer);
  send({ type: 'cancel' });
  consistencyId = 0;
  plots.markStopped();
  setStatus('Stopped.');
}

function setView(patch: Partial<ViewOptions>): void {
  view = { ...view, ...patch };
  view.zoom = validZoom(view.zoom);
  viewBar.setView(view);
  toolbar.setAutoRun(view.autoRun);
  persist();
  if ('zoom' in patch) grid.setZoom(view.zoom);
  if ('uv' in patch || 'channel' in patch || 'sharedScale' in patch || 'zoom' in patch) requestDraw();
}

function defaultZoom(m: ModelView): number {
  const W = m.sampleShape[m.sampleShape.length - 1] ?? 28;
  return validZoom(112 / W); // panels of about 112 px: 4x for 28 x 28, 1/2 for 256 x 256
}

// ---------------------------------------------------------------- frames and drawing

function frameTR(f: number): { t: number; r: number; rFraction: number } {
  if (override && override.frame === f) {
    return { t: override.result.t, r: override.result.r, rFraction: override.rFraction };
  }
  const res = traj!.result;
  const t = res.times[f];
  const r = res.rs[f];
  return { t, r, rFraction: traj!.config.rMode === 'step' ? (t > 0 ? r / t : 0) : traj!.config.rFraction };
}

/** The slider's r when it differs from what the last trajectory was computed with. */
function pendingR(cfg: VizConfig | undefined = traj?.config): number | undefined {
  if (!config || config.rMode !== 'fraction' || !cfg) return undefined;
  return cfg.rMode === 'step' || Math.abs(config.rFraction - cfg.rFraction) > 1e-9 ? config.rFraction : undefined;
}

function imageFrame(f: number): FrameFields | undefined {
  const tr = traj!;
  const { t, r } = frameTR(f);
  const all = tr.fields;
  if (!all || f >= tr.loaded) return undefined; // still on its way
  const size = 4 * tr.n * tr.per;
  const own = all.subarray(f * size, (f + 1) * size);
  if (override && override.frame === f && override.result.fields) {
    if (!override.composite) {
      const block = tr.n * tr.per;
      const c = new Float32Array(size);
      c.set(own.subarray(0, block), 0); // z
      c.set(override.result.fields, block); // x, u at the new r
      c.set(own.subarray(3 * block), 3 * block); // v
      override.composite = c;
    }
    return { data: override.composite, n: tr.n, C: tr.C, H: tr.H, W: tr.W, t, r };
  }
  return { data: own, n: tr.n, C: tr.C, H: tr.H, W: tr.W, t, r };
}

function toyFrame(f: number): ToyFrame | undefined {
  const tr = traj!;
  const { t, r } = frameTR(f);
  const n = tr.n;
  if (override && override.frame === f && override.result.toy) {
    return { plane: override.result.toy.plane, offPlane: override.result.toy.offPlane, n, t, r };
  }
  const toyData = tr.result.toy;
  if (!toyData) return undefined;
  return {
    plane: toyData.plane.subarray(f * 4 * n * 2, (f + 1) * 4 * n * 2),
    offPlane: toyData.offPlane.subarray(f * 4 * n, (f + 1) * 4 * n),
    n, t, r,
  };
}

function requestDraw(): void {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    draw();
  });
}

/** Draws the selected frame now (or marks it for when the panel is visible again). */
function draw(): boolean {
  if (!traj || !model || !config) return false;
  if (document.visibilityState === 'hidden') {
    dirty = true;
    return false;
  }
  dirty = false;
  const f = Math.min(frame, traj.F - 1);
  const tr = frameTR(f);
  const stepR = traj.config.rMode === 'step' && !(override && override.frame === f);
  time.show(f, tr.t, tr.r, tr.rFraction, stepR);
  if (model.kind === 'toy') {
    const tf = toyFrame(f);
    if (tf) toy.setFrame(tf);
  } else {
    const ff = imageFrame(f);
    if (ff) {
      grid.draw(ff, { zoom: view.zoom, uv: view.uv, channel: view.channel, sharedScale: view.sharedScale, dataRange: model.dataRange });
      if (initAt !== undefined) {
        // read by the tests and the bench: model loaded (init) -> first panels drawn
        const at = initAt;
        initAt = undefined;
        requestAnimationFrame(() => { document.body.dataset.firstImageMs = (performance.now() - at).toFixed(0); });
      }
    } else {
      grid.pending(`Frame ${f + 1} is on its way (${traj.loaded} of ${traj.F} received)\u2026`);
    }
  }
  plots.setFrame(f);
  drawCount++;
  document.body.dataset.frame = String(f);
  document.body.dataset.drawn = String(drawCount);
  return true;
}

function selectFrame(f: number): void {
  if (!traj) return;
  const next = Math.max(0, Math.min(traj.F - 1, Math.round(f)));
  if (next === frame) return;
  frame = next;
  persist();
  // While an r change waits for its run, show the new frame at the slider's r too.
  const pr = pendingR();
  if (pr !== undefined) requestFields(frame, pr);
  requestDraw();
}

// ---------------------------------------------------------------- the r slider

function onRInput(rFraction: number): void {
  if (!config) return;
  config = { ...config, rMode: 'fraction', rFraction };
  persist();
  if (traj) {
    // Show the slider's r at once; the fields follow when the answer arrives.
    const t = frameTR(frame).t;
    time.show(frame, t, rFraction * t, rFraction);
    requestFields(frame, rFraction);
  }
}

function onRCommit(rFraction: number): void {
  if (!config) return;
  config = { ...config, rMode: 'fraction', rFraction };
  persist();
  clearTimeout(commitTimer);
  // Keyboard steps fire `change` on every key press: wait for the last one.
  commitTimer = setTimeout(() => run(), 250);
}

function requestFields(f: number, rFraction: number): void {
  if (!traj) return;
  if (fieldsInFlight) {
    fieldsPending = { frame: f, rFraction };
    return;
  }
  const id = nextId++;
  fieldsInFlight = { id, sentAt: performance.now(), frame: f, rFraction };
  send({ type: 'fieldsAt', requestId: id, frame: f, rFraction });
  setTimeout(() => {
    if (fieldsInFlight?.id === id) {
      fieldsInFlight = undefined;
      flushPendingFields();
    }
  }, FIELDS_TIMEOUT_MS);
}

function flushPendingFields(): void {
  const p = fieldsPending;
  fieldsPending = undefined;
  if (p) requestFields(p.frame, p.rFraction);
}

/**
 * The fields a message carries as float32: its 8-bit display frames decoded (blocks of `per`
 * values, each with its range), or its float32 fields as they are.
 */
function decodeFields(res: { fields?: Float32Array; q8?: { data: Uint8Array; lo: Float32Array; hi: Float32Array } }, per: number):
  Float32Array | undefined {
  if (res.q8) {
    if (per < 1 || res.q8.data.length !== res.q8.lo.length * per) return new Float32Array(0);
    return dequantise8(res.q8, per);
  }
  return res.fields;
}

function onFields(raw: FieldsResult, receivedAt: number): void {
  const res: FieldsResult = raw.q8 && traj ? { ...raw, q8: undefined, fields: decodeFields(raw, traj.per) } : raw;
  const inflight = fieldsInFlight;
  if (!inflight || inflight.id !== res.requestId) return; // superseded
  fieldsInFlight = undefined;
  if (traj && res.frame < traj.F && fieldsFit(res)) {
    override = { frame: res.frame, rFraction: inflight.rFraction, result: res };
    const drawStart = performance.now();
    if (res.frame === frame && draw()) {
      const drawn = performance.now();
      requestAnimationFrame(() => {
        const ms = performance.now() - inflight.sentAt;
        // read by bench/visualizer.ts: the round trip and where it went
        document.body.dataset.lastRoundTrip = ms.toFixed(2);
        document.body.dataset.lastTransport = (receivedAt - inflight.sentAt).toFixed(2);
        document.body.dataset.lastDraw = (drawn - drawStart).toFixed(2);
        send({ type: 'timing', name: 'r-slider', ms });
      });
    }
  }
  flushPendingFields();
}

function fieldsFit(res: FieldsResult): boolean {
  const tr = traj!;
  if (model?.kind === 'toy') return !!res.toy && res.toy.plane.length === 4 * tr.n * 2;
  return !!res.fields && res.fields.length === 2 * tr.n * tr.per;
}

// ---------------------------------------------------------------- results

function onTrajectory(res: TrajectoryResult): void {
  if (res.requestId !== lastRunId || !model) return; // an older run
  const cfg = runConfigs.get(res.requestId) ?? config!;
  const F = res.times.length;
  const n = res.n;
  const shape = res.sampleShape.length === 3 ? res.sampleShape : [1, ...res.sampleShape.slice(-2)];
  const [C, H, W] = model.kind === 'image' ? shape : [res.sampleShape[0] ?? 2, 1, 1];
  const per = model.kind === 'image' ? C * H * W : res.sampleShape.reduce((a, b) => a * b, 1);
  if (F < 1 || res.rs.length !== F) return showError(`The trajectory has ${F} times and ${res.rs.length} r values.`);
  const size = 4 * n * per;
  const sent = decodeFields(res, per);
  if (model.kind === 'image' && (!sent || sent.length % size !== 0 || sent.length < size || sent.length > F * size)) {
    return showError(`The trajectory's fields have ${sent?.length ?? 0} values, expected frames of 4\u00d7${n}\u00d7${per}.`);
  }
  if (model.kind === 'toy' && (!res.toy || res.toy.plane.length !== F * 4 * n * 2)) {
    return showError('The toy trajectory has no data-plane view of the expected size.');
  }
  let fields: Float32Array | undefined;
  if (sent) {
    fields = sent.length === F * size ? sent : new Float32Array(F * size);
    if (fields !== sent) fields.set(sent);
  }
  traj = { result: res, requestId: res.requestId, fields, loaded: sent ? sent.length / size : F, config: cfg, F, n, C, H, W, per };
  exactAsked = undefined;
  grid.clearExact();
  document.body.dataset.loaded = String(traj.loaded);
  if (cfg.mode === 'image') haveImage = true; // the host has an image
  override = undefined;
  fieldsPending = undefined;
  frame = Math.min(frame, F - 1);
  persist();
  empty.hidden = true;
  content.hidden = false;
  time.setTimes(res.times);
  if (model.kind === 'toy') {
    toy.setTrajectory({ plane: res.toy!.plane, frames: F, n });
  } else {
    const labels = Array.from({ length: n }, (_, i) => describeSample(i, cfg, model!));
    grid.layout(n, C, H, W, labels);
  }
  plots.setTrajectory({ times: res.times, toy: model.kind === 'toy' });
  plots.setMeasurements(undefined, 0, F);
  plots.setConsistency(undefined, 'Not computed for this trajectory yet.');
  trajStatus = `${F} frames \u00b7 ${n} sample${n === 1 ? '' : 's'} in ${(res.ms / 1000).toFixed(2)} s`;
  setStatus(`${trajStatus} \u00b7 measuring\u2026` + (cfg.mode === 'image' && imageNotice ? ` \u00b7 ${imageNotice}` : ''));
  draw();
  document.body.dataset.frames = String(F);
  document.body.dataset.measured = '0';
  // An r change made while this run was computed: keep showing the slider's r.
  const pr = pendingR(cfg);
  if (pr !== undefined) requestFields(frame, pr);
}

/** More frames of the current trajectory (they arrive in order). */
function onFrames(res: FramesResult): void {
  const tr = traj;
  if (!tr || res.requestId !== tr.requestId || !tr.fields) return;
  const size = 4 * tr.n * tr.per;
  const sent = decodeFields(res, tr.per);
  const count = (sent?.length ?? 0) / size;
  if (!sent || res.start !== tr.loaded || !Number.isInteger(count) || count < 1 || res.start + count > tr.F) {
    return showError(`Frames ${res.start}.. arrived out of order or of the wrong size (${tr.loaded} of ${tr.F} received).`);
  }
  tr.fields.set(sent, res.start * size);
  tr.loaded += count;
  document.body.dataset.loaded = String(tr.loaded);
  if (frame >= res.start && frame < tr.loaded) requestDraw();
}

/** Measurements of the current trajectory (all of it, or its first frames while the engine measures). */
function onMeasurements(res: MeasurementsResult): void {
  if (res.requestId !== lastRunId || !traj || res.total !== traj.F) return; // an older run, or not this trajectory
  if (res.done > res.total || Object.values(res.measurements.rms).some((v) => v.length !== res.done)) {
    return showError(`The measurements have the wrong length (${res.done} of ${res.total} frames).`);
  }
  plots.setMeasurements(res.done > 0 ? res.measurements : undefined, res.done, res.total);
  const notice = traj.config.mode === 'image' && imageNotice ? ` \u00b7 ${imageNotice}` : '';
  if (res.done === res.total) {
    setStatus(`${trajStatus} (measures ${(res.measurements.ms / 1000).toFixed(2)} s)${notice}`);
    document.body.dataset.patchDim = String(res.measurements.patchDim);
  } else {
    setStatus(`${trajStatus} \u00b7 measuring, ${res.done} of ${res.total} frames${notice}`);
  }
  document.body.dataset.measured = String(res.done);
}

function requestConsistency(): void {
  if (!traj) return;
  const id = nextId++;
  consistencyId = id;
  plots.setConsistency(undefined, 'Computing\u2026');
  send({ type: 'consistency', requestId: id, fineSteps: 32 });
}

function onInit(m: ModelView, c: VizConfig, models: { name: string; path: string }[], note?: string): void {
  initAt = performance.now();
  delete document.body.dataset.firstImageMs;
  defaultsNote.textContent = note ? `Defaults for this model: ${note}.` : '';
  defaultsNote.hidden = !note;
  const sameModel = (model?.path ?? persisted.config?.modelPath) === m.path;
  model = m;
  config = c;
  traj = undefined;
  override = undefined;
  fieldsInFlight = undefined;
  fieldsPending = undefined;
  haveImage = false;
  lastRunId = -1; // results of runs for the previous model are ignored
  consistencyId = -1;
  if (!sameModel) frame = 0;
  if (!view.zoom || !sameModel) view = { ...view, zoom: defaultZoom(m) };
  if (m.kind === 'image' && view.channel >= (m.sampleShape[0] ?? 1)) view = { ...view, channel: 0 };
  document.body.dataset.kind = m.kind;
  delete document.body.dataset.frames;
  toolbar.setModel(m, models);
  toolbar.setConfig(c);
  viewBar.setModel(m);
  setView({});
  grid.clear();
  grid.setZoom(view.zoom);
  toy.clear();
  plots.clear();
  panelsHost.hidden = m.kind === 'toy';
  toyHost.hidden = m.kind !== 'toy';
  content.hidden = true;
  empty.hidden = false;
  empty.textContent = 'Computing the trajectory\u2026';
  errorBox.hidden = true;
  persist();
  // Always run on init, also in image mode: the host may still hold the image (a model switch);
  // if it does not, its error says to pick one.
  run();
}

// ---------------------------------------------------------------- messages, errors, exports

function showError(message: string): void {
  errorText.textContent = message;
  errorBox.hidden = false;
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
  if (!traj || !model) return;
  try {
    const f = Math.min(frame, traj.F - 1);
    const { t, r } = frameTR(f);
    let canvas: HTMLCanvasElement | undefined;
    if (model.kind === 'toy') {
      canvas = toy.canvas;
    } else {
      const mode = { pmf: 'pMF trajectory', ode: 'v-ODE trajectory', image: 'real image' }[traj.config.mode];
      canvas = renderStrip(grid, `${model.name} \u00b7 ${mode} \u00b7 frame ${f + 1}/${traj.F} \u00b7 t = ${t.toFixed(4)}, r = ${r.toFixed(4)}, h = ${(t - r).toFixed(4)}`);
    }
    if (!canvas) return;
    setStatus('Encoding PNG\u2026');
    send({ type: 'exportPng', png: await canvasToPng(canvas) });
  } catch (e) {
    showError(e instanceof Error ? e.message : String(e));
  }
}

window.addEventListener('message', (ev: MessageEvent) => {
  const receivedAt = performance.now();
  const parsed = ToWebview.safeParse(ev.data);
  if (!parsed.success) {
    console.error('pMF visualizer: ignored an invalid message', parsed.error.message);
    return;
  }
  const msg = parsed.data;
  switch (msg.type) {
    case 'init':
      onInit(msg.model, msg.config, msg.models, msg.defaultsNote);
      break;
    case 'trajectory':
      onTrajectory(msg.result);
      break;
    case 'frames':
      onFrames(msg.result);
      break;
    case 'exact': {
      const a = exactAsked;
      // the readout shows the exact values of the pixel it still points at, at the frame's own r
      if (a && a.frame === msg.frame && a.sample === msg.sample && a.x === msg.x && a.y === msg.y && frame === msg.frame
        && !(override && override.frame === msg.frame)) {
        grid.setExact(msg.sample, msg.x, msg.y, msg.values);
      }
      break;
    }
    case 'measurements':
      onMeasurements(msg.result);
      break;
    case 'fields':
      onFields(msg.result, receivedAt);
      break;
    case 'consistency':
      if (msg.result.requestId === consistencyId && traj) {
        if (msg.result.relativeError.length === traj.F) {
          plots.setConsistency(msg.result.relativeError);
          setStatus(`Consistency with ${msg.result.fineSteps} fine steps in ${(msg.result.ms / 1000).toFixed(2)} s`);
        } else {
          plots.setConsistency(undefined, 'The result does not match the frames.');
        }
      }
      break;
    case 'image':
      haveImage = true;
      imageNotice = msg.notice;
      setStatus(msg.notice ?? `Using ${msg.name}`);
      if (model) toolbar.setImage(msg.name, msg.preview, msg.sampleShape, model.dataRange);
      if (config && config.mode !== 'image') updateConfig({ mode: 'image' }, false);
      run();
      break;
    case 'busy':
      toolbar.setBusy(msg.busy, msg.label);
      break;
    case 'error':
      showError(msg.message);
      if (empty.textContent?.startsWith('Computing')) empty.textContent = 'No trajectory.';
      if (consistencyId && !traj) plots.setConsistency(undefined, '');
      // An error may answer the fields request in flight: do not wait for it.
      if (fieldsInFlight) {
        fieldsInFlight = undefined;
        fieldsPending = undefined;
      }
      break;
    case 'exported':
      setStatus(`Saved ${msg.path}`);
      break;
  }
});

// ---------------------------------------------------------------- keyboard, visibility, theme

document.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
    e.preventDefault();
    run();
    return;
  }
  const target = e.target as HTMLElement | null;
  const tag = target?.tagName ?? '';
  if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
  if (e.key === 'Escape' && document.body.hasAttribute('aria-busy') && tag !== 'CANVAS') {
    e.preventDefault();
    cancel();
    return;
  }
  if (/^(INPUT|TEXTAREA|SELECT|CANVAS)$/.test(tag) || tag.startsWith('VSCODE-') || target?.isContentEditable) {
    if (!(tag === 'VSCODE-BUTTON' || tag === 'VSCODE-CHECKBOX')) return;
  }
  if (!traj) return;
  switch (e.key) {
    case 'ArrowLeft': selectFrame(frame - 1); break;
    case 'ArrowRight': selectFrame(frame + 1); break;
    case 'Home': selectFrame(0); break;
    case 'End': selectFrame(traj.F - 1); break;
    case '+': case '=': setView({ zoom: nextZoom(view.zoom, 1) }); break;
    case '-': setView({ zoom: nextZoom(view.zoom, -1) }); break;
    default: return;
  }
  e.preventDefault();
});

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible') return;
  plots.flush();
  if (dirty) draw();
});

// VS Code swaps the theme by changing the body class and the --vscode-* variables on <html>.
let themeTimer: ReturnType<typeof setTimeout> | undefined;
const themeObserver = new MutationObserver(() => {
  clearTimeout(themeTimer);
  themeTimer = setTimeout(() => {
    plots.refreshTheme();
    if (traj) requestDraw();
  }, 50);
});
themeObserver.observe(document.body, { attributes: true, attributeFilter: ['class'] });
themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });

let resizeTimer: ReturnType<typeof setTimeout> | undefined;
new ResizeObserver(() => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    if (model?.kind === 'toy' && traj) toy.draw();
  }, 60);
}).observe(toyHost);

viewBar.setView(view);
send({ type: 'ready' });
