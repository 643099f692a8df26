// The Explore Guidance page: wiring, state and messaging.
//   start: post `ready`, take `init` (model, config, evaluator, the sweep so far), draw the grid.
//   state: the GuidanceConfig lives in vscode.setState, so the host's serializer gets it back after
//          a reload and this page takes it again when it is rebuilt (a hidden panel's page is gone).
//   grid:  the sliders change the selected cell's row (omega), its column's or every cell's
//          interval (t_min, t_max) or every cell (noise scale); the cells that now want another
//          image go out in one request, one in flight, the newest waiting (cellRequests.ts).
//   strips: the seed walk and the class switch of the selected cell (LatestRequest), shortly after
//          the last change.
//   sweep: the host's job; its state arrives whole (`sweep`) and is plotted (sweepPlot.ts).
// Nothing is asked for while the page is hidden.
// About 400 lines, on purpose: this is the page's wiring, and every handler reads and writes the
// one `state`; the pieces live beside it (grid.ts, cellRequests.ts, sweepPlot.ts, dom.ts, images.ts).
import '../shared/jitless';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import { LatestRequest, type MessageOf } from '../../src/shared/channel';
import {
  type Cell, cellAt, clampSelection, columnInterval, FromWebview, gridShape, GuidanceConfig, type Images, MAX_COLUMNS, MAX_ROWS,
  type EvaluatorView, type ModelView, NOISE_SCALE_RANGE, OMEGA_MAX, parseIntervals, parseNumbers, type SavedDefaults, SWEEP_COUNTS, type SweepView, ToWebview,
} from '../../src/shared/protocol/guidance';
import { vscode, webviewChannel } from '../shared/host';
import { Debounce } from '../shared/timer';
import { button, h, select, slider, textfield } from './dom';
import { describeCell, SampleGrid } from './grid';
import { CellRequests } from './cellRequests';
import { displaySize, paint } from './images';
import { SweepPlot } from './sweepPlot';

interface Persisted {
  config?: GuidanceConfig;
}

/** The strips follow the selected cell once the sliders have rested this long (a drag redraws the grid first). */
const STRIP_DEBOUNCE_MS = 400;
const channel = webviewChannel('pMF explore guidance', { incoming: ToWebview, outgoing: FromWebview });
const send = (msg: FromWebview) => void channel.post(msg);
const persisted: Persisted = (vscode.getState() as Persisted | undefined) ?? {};

const state: { model?: ModelView; config?: GuidanceConfig; sweep?: SweepView; saved?: SavedDefaults; evaluator?: EvaluatorView } = {};

const fmt = (x: number, d = 3) => String(Number(x.toFixed(d)));

// ---------------------------------------------------------------- DOM

const title = h('h1', { id: 'model' });
const provider = h('vscode-badge', { id: 'provider', title: 'Execution provider' });
const facts = h('span', { class: 'meta', id: 'facts' });
const busy = h('span', { id: 'busy', hidden: '' }, h('vscode-progress-ring'), h('span', { id: 'busy-label' }));
const useButton = button('use', 'Use these settings', 'check',
  "Make the selected cell's omega and interval this model's defaults for Generate Samples and the Field Visualizer in this workspace, " +
  'and copy the pmf generate / pmf eval command lines', false);
const header = h('header', {}, title, provider, facts, busy, h('span', { class: 'actions' }, useButton));

const sliders = {
  omega: slider('omega', '\u03c9', "Guidance scale of the selected cell's row (1: no guidance)", { min: 1, max: OMEGA_MAX, step: 0.05 },
    (v) => fmt(v, 2), (v) => onSlider('omega', v)),
  tMin: slider('t-min', 't_min', "Start of the guidance interval: the selected column's (columns of intervals) or every cell's",
    { min: 0, max: 1, step: 0.01 }, (v) => fmt(v, 2), (v) => onSlider('tMin', v)),
  tMax: slider('t-max', 't_max', "End of the guidance interval: the selected column's (columns of intervals) or every cell's",
    { min: 0, max: 1, step: 0.01 }, (v) => fmt(v, 2), (v) => onSlider('tMax', v)),
  noise: slider('noise-scale', 'noise scale', 'Multiplies z_1 = noise_scale \u00b7 e for every cell: 1 is the noise the model was trained on; ' +
    'other values show how the one-step map answers noise off that shell', { min: NOISE_SCALE_RANGE[0], max: NOISE_SCALE_RANGE[1], step: 0.01 },
    (v) => fmt(v, 2), (v) => onSlider('noise', v)),
};
const rowsField = textfield('omegas', '\u03c9 rows', `Omegas of the rows, comma-separated (1 to ${OMEGA_MAX}, at most ${MAX_ROWS})`,
  (v) => editConfig((c) => {
    const xs = parseNumbers(v, 1, OMEGA_MAX, MAX_ROWS);
    return typeof xs === 'string' ? xs : { ...c, omegas: xs };
  }));
const columnsSelect = select('columns', 'columns', [['seeds', 'seeds'], ['intervals', 'intervals [t_min, t_max]']],
  (v) => editConfig((c) => ({ ...c, columns: v === 'intervals' ? 'intervals' : 'seeds' })));
const seedsField = textfield('seeds', 'seeds', `Noise seeds of the columns, comma-separated (at most ${MAX_COLUMNS}); columns of intervals use the first`,
  (v) => editConfig((c) => {
    const xs = parseNumbers(v, 0, 0xffffffff, MAX_COLUMNS, true);
    return typeof xs === 'string' ? xs : { ...c, seeds: xs };
  }));
const intervalsField = textfield('intervals', 'intervals', `Guidance intervals of the columns, e.g. 0-1, 0.2-0.8 (at most ${MAX_COLUMNS})`,
  (v) => editConfig((c) => {
    const xs = parseIntervals(v, MAX_COLUMNS);
    return typeof xs === 'string' ? xs : { ...c, intervals: xs };
  }));
const classSelect = select('classes', 'classes', [], (v) => editConfig((c) => ({
  ...c, classes: v === 'cycle' ? c.seeds.map((_, i) => i % state.model!.numClasses) : [Number(v)],
})));
const controls = h('section', { class: 'controls', 'aria-label': 'Guidance' },
  h('div', { class: 'sliders' }, sliders.omega.root, sliders.tMin.root, sliders.tMax.root, sliders.noise.root),
  h('div', { class: 'fields' }, rowsField.root, columnsSelect.root, seedsField.root, intervalsField.root, classSelect.root));

const gridHost = h('div', { id: 'grid' });
const sweepCount = select('sweep-count', 'samples per \u03c9', SWEEP_COUNTS.map((n) => [String(n), n.toLocaleString('en')]),
  (v) => editConfig((c) => ({ ...c, sweepCount: Number(v) })));
const sweepButton = button('sweep', 'Sweep metric', 'graph-line', 'FD and class-consistency at every omega of the rows (the selected interval), in the background');
const stopButton = button('stop', 'Stop', 'debug-stop', 'Stop the sweep (Escape); the settings done stay');
stopButton.hidden = true;
const sweepNote = h('p', { class: 'note', id: 'sweep-note' });
const sweepStatus = h('p', { id: 'sweep-status', role: 'status', 'aria-live': 'polite' });
const plotHost = h('div', { id: 'plot', 'aria-label': 'Metric against omega' });
const sweepCard = h('section', { class: 'card', id: 'sweep-card', 'aria-label': 'Metric sweep' },
  h('h2', { text: 'Metric against \u03c9' }), sweepNote, h('div', { class: 'toolbar' }, sweepCount.root, sweepButton, stopButton),
  plotHost, sweepStatus);

const seedBField = textfield('seed-b', 'to seed', 'The seed walk goes from the selected cell\'s seed to this one', (v) => editConfig((c) => {
  const xs = parseNumbers(v, 0, 0xffffffff, 1, true);
  return typeof xs === 'string' ? xs : { ...c, walk: { ...c.walk, seedB: xs[0] } };
}));
const walkCount = textfield('walk-count', 'images', 'Images along the walk (3 to 12)', (v) => editConfig((c) => {
  const xs = parseNumbers(v, 3, 12, 1, true);
  return typeof xs === 'string' ? xs : { ...c, walk: { ...c.walk, count: xs[0] } };
}));
const walkStrip = h('div', { class: 'strip', id: 'walk-strip', role: 'list', 'aria-label': 'Seed walk' });
const classStrip = h('div', { class: 'strip', id: 'class-strip', role: 'list', 'aria-label': 'Class switch' });
const walkCaption = h('p', { class: 'note', id: 'walk-caption' });
const classCaption = h('p', { class: 'note', id: 'class-caption' });
const stripsCard = h('section', { class: 'card', id: 'strips', 'aria-label': 'Seed walk and class switch' },
  h('h2', { text: 'Seed walk' }), h('div', { class: 'toolbar' }, seedBField.root, walkCount.root), walkCaption, walkStrip,
  h('h2', { text: 'Class switch' }), classCaption, classStrip);

const errorBox = h('div', { id: 'error', role: 'alert', hidden: '' });
const used = h('div', { id: 'used', role: 'status', hidden: '' });
const empty = h('p', { id: 'empty', text: 'Loading the model\u2026' });
const main = h('main', { id: 'content', hidden: '' }, controls, h('div', { class: 'grid-and-plot' }, gridHost, sweepCard), stripsCard);
document.getElementById('app')!.replaceWith(h('div', { id: 'app' }, header, errorBox, used, empty, main));

// ---------------------------------------------------------------- grid and requests

const grid = new SampleGrid(gridHost, { select: (row, col) => selectCell(row, col) });
const cellOf = (row: number, col: number): Cell => cellAt(state.config!, row, col);
const cells = new CellRequests(channel, () => {
  const c = state.config;
  if (!c) return undefined;
  const { rows, cols } = gridShape(c);
  const list: Cell[] = [];
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) list.push(cellOf(r, k));
  return { cells: list, steps: c.steps, noiseScale: c.noiseScale };
}, (i, images, k) => grid.draw(i, images, k), (m) => showError(m));
const plot = new SweepPlot(plotHost, (omega) => {
  const c = state.config;
  if (!c) return;
  const row = c.omegas.reduce((best, w, i) => (Math.abs(w - omega) < Math.abs(c.omegas[best] - omega) ? i : best), 0);
  selectCell(row, c.selected.col);
  grid.select(row, c.selected.col, true);
});

const walkRequests = new LatestRequest((body: MessageOf<FromWebview, 'strip'>) => channel.request<MessageOf<ToWebview, 'images'>>(body).reply);
const classRequests = new LatestRequest((body: MessageOf<FromWebview, 'strip'>) => channel.request<MessageOf<ToWebview, 'images'>>(body).reply);
const stripTimer = new Debounce();
let stripsDeferred = false;

function persist(): void {
  vscode.setState({ config: state.config } satisfies Persisted);
}

function showError(message: string): void {
  errorBox.hidden = false;
  errorBox.textContent = message;
}

/** A change from the text fields and selects: validated, then the grid is laid out again. */
function editConfig(change: (c: GuidanceConfig) => GuidanceConfig | string): void {
  const c = state.config;
  if (!c) return;
  const next = change(c);
  if (typeof next === 'string') return showError(next);
  const parsed = GuidanceConfig.safeParse(next);
  if (!parsed.success) return showError(`Invalid setting: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  errorBox.hidden = true;
  const config = { ...parsed.data, selected: clampSelection(parsed.data) };
  const reshape = JSON.stringify([c.omegas, c.columns, c.seeds, c.classes, c.intervals]) !==
    JSON.stringify([config.omegas, config.columns, config.seeds, config.classes, config.intervals]);
  state.config = config;
  persist();
  showConfig();
  if (reshape) layout();
  scheduleStrips();
}

/** The grid for the current config, and the cells it wants. */
function layout(): void {
  const c = state.config!;
  cells.reset();
  grid.layout(c, state.model!.classNames, cellOf, state.model!.sampleShape[2] ?? 28);
  cells.update();
}

/** The controls show the config (the sliders the selected cell's settings). */
function showConfig(): void {
  const c = state.config!;
  const { row, col } = c.selected;
  const iv = columnInterval(c, col);
  sliders.omega.set(c.omegas[row]);
  sliders.tMin.set(iv.tMin);
  sliders.tMax.set(iv.tMax);
  sliders.noise.set(c.noiseScale);
  rowsField.field.value = c.omegas.join(', ');
  columnsSelect.select.value = c.columns;
  seedsField.field.value = c.seeds.join(', ');
  intervalsField.field.value = c.intervals.map((i) => `${i.tMin}-${i.tMax}`).join(', ');
  intervalsField.root.hidden = c.columns !== 'intervals';
  classSelect.root.hidden = (state.model?.numClasses ?? 0) === 0;
  classSelect.select.value = c.classes.length > 1 ? 'cycle' : String(c.classes[0] ?? 'cycle');
  sweepCount.select.value = String(c.sweepCount);
  showSweepNote();
  seedBField.field.value = String(c.walk.seedB);
  walkCount.field.value = String(c.walk.count);
  const cell = cellOf(row, col);
  useButton.title = `Make \u03c9 ${fmt(cell.omega)}, interval [${fmt(cell.tMin)}, ${fmt(cell.tMax)}] (${c.steps} step${c.steps === 1 ? '' : 's'}) ` +
    "this model's defaults for Generate Samples and the Field Visualizer in this workspace, and copy the pmf command lines";
  document.body.dataset.omega = String(cell.omega);
}

function selectCell(row: number, col: number): void {
  const c = state.config;
  if (!c || (c.selected.row === row && c.selected.col === col)) return;
  state.config = { ...c, selected: { row, col } };
  persist();
  showConfig();
  grid.select(row, col, false);
  scheduleStrips();
}

/** A slider moved: the selected cell's row, column or every cell takes the value, and the cells it changed are asked for. */
function onSlider(which: 'omega' | 'tMin' | 'tMax' | 'noise', v: number): void {
  const c = state.config;
  if (!c) return;
  const { row, col } = c.selected;
  let next: GuidanceConfig = c;
  if (which === 'omega') {
    next = { ...c, omegas: c.omegas.map((w, i) => (i === row ? v : w)) };
  } else if (which === 'noise') {
    next = { ...c, noiseScale: v };
  } else {
    const iv = columnInterval(c, col);
    // t_min past t_max drags t_max along (and back): the interval stays an interval
    const moved = which === 'tMin' ? { tMin: v, tMax: Math.max(v, iv.tMax) } : { tMin: Math.min(v, iv.tMin), tMax: v };
    next = c.columns === 'intervals' ? { ...c, intervals: c.intervals.map((x, i) => (i === col ? moved : x)) } : { ...c, interval: moved };
  }
  state.config = next;
  persist();
  if (which === 'tMin') sliders.tMax.set(columnInterval(next, col).tMax);
  if (which === 'tMax') sliders.tMin.set(columnInterval(next, col).tMin);
  grid.relabel(next, state.model!.classNames, cellOf);
  cells.update();
  scheduleStrips();
}

// ---------------------------------------------------------------- strips

function scheduleStrips(): void {
  stripTimer.schedule(STRIP_DEBOUNCE_MS, () => requestStrips());
}

function stripImages(host: HTMLElement, images: Images, captions: string[]): void {
  const size = `${displaySize(images.width)}px`;
  host.replaceChildren(...captions.map((text, k) => {
    const cv = h('canvas', { class: 'cell', role: 'img', 'aria-label': text, title: text });
    cv.style.width = size;
    paint(cv, images, k);
    return h('figure', { role: 'listitem' }, cv, h('figcaption', { text }));
  }));
}

function requestStrips(): void {
  const c = state.config;
  const m = state.model;
  if (!c || !m) return;
  if (document.visibilityState === 'hidden') {
    stripsDeferred = true;
    return;
  }
  stripsDeferred = false;
  if (cells.busy) return scheduleStrips(); // the grid's cells first
  const cell = cellOf(c.selected.row, c.selected.col);
  const base = { type: 'strip' as const, cell, seedB: c.walk.seedB, count: c.walk.count, labels: [], steps: c.steps, noiseScale: c.noiseScale };
  walkCaption.textContent = `From seed ${cell.seed} to seed ${c.walk.seedB} along the spherical path of the noise (its norm kept), ` +
    `at ${describeCell(cell, m.classNames).replace(/, seed \d+/, '')}.`;
  walkRequests.request({ ...base, kind: 'walk' }).then((a) => {
    if (!a) return;
    stripImages(walkStrip, a.images, Array.from({ length: a.images.n }, (_, i) =>
      i === 0 ? `seed ${cell.seed}` : i === a.images.n - 1 ? `seed ${c.walk.seedB}` : `s = ${fmt(i / (a.images.n - 1), 2)}`));
    document.body.dataset.walkDrawn = String(Number(document.body.dataset.walkDrawn ?? 0) + 1);
  }, (e: unknown) => showError(e instanceof Error ? e.message : String(e)));
  if (m.numClasses === 0) {
    classCaption.textContent = 'An unconditional model: no classes to switch.';
    classStrip.replaceChildren();
    return;
  }
  // every class of a small model; of a large one (ImageNet) the grid's
  const labels = m.numClasses <= MAX_COLUMNS ? Array.from({ length: m.numClasses }, (_, i) => i) : [...new Set(c.classes)].slice(0, MAX_COLUMNS);
  classCaption.textContent = `Seed ${cell.seed}'s noise in ${labels.length === m.numClasses ? 'every class' : 'the grid\'s classes'}, ` +
    `\u03c9 ${fmt(cell.omega)}, interval [${fmt(cell.tMin)}, ${fmt(cell.tMax)}].`;
  classRequests.request({ ...base, kind: 'classes', labels }).then((a) => {
    if (a) stripImages(classStrip, a.images, labels.map((l) => m.classNames[l] ?? String(l)));
  }, (e: unknown) => showError(e instanceof Error ? e.message : String(e)));
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && stripsDeferred) requestStrips();
});

// ---------------------------------------------------------------- sweep and defaults

function showSweep(s: SweepView): void {
  state.sweep = s;
  plot.render(s);
  const running = s.status === 'running';
  stopButton.hidden = !running;
  sweepButton.toggleAttribute('disabled', running);
  document.body.dataset.sweep = s.status;
  const p = s.progress;
  const at = p && s.settings[p.setting];
  const where = s.net ? ` in ${s.net}'s features${s.reference ? ` against ${s.reference}` : ''}` : '';
  const best = s.best === undefined ? undefined : s.rows[s.best];
  const rows = s.rows.map((r) => `\u03c9 ${r.omega}: FD ${r.fd.toFixed(4)}` +
    (r.classConsistency === undefined ? '' : `, class-consistency ${r.classConsistency.toFixed(4)}`) +
    (r.resumed ? ` (${r.resumed} read back)` : ` (${r.seconds.toFixed(1)} s)`));
  sweepStatus.textContent = s.status === 'idle' ? 'Not run yet.'
    : [running && at ? `\u03c9 ${at.omega} (${p.setting + 1} of ${s.settings.length}): ${p.done} of ${p.total} samples${where}` : '',
      running && !at ? s.message ?? 'starting' : '',
      s.status === 'done' ? `${s.rows.length} settings, ${s.n.toLocaleString('en')} samples each${where}.` : '',
      s.status === 'stopped' || s.status === 'failed' ? s.message ?? s.status : '',
      best ? `Best: \u03c9 ${best.omega} (lowest FD, ${best.fd.toFixed(4)}); click a point to select its row.` : '',
      ...rows].filter(Boolean).join(' \u00b7 ');
}

/** What the sweep costs and scores with (the count is the panel's; cheap by default). */
function showSweepNote(): void {
  const c = state.config;
  const ev = state.evaluator;
  if (!c || !ev) return;
  sweepNote.textContent = `${c.sweepCount.toLocaleString('en')} samples per \u03c9 (seeds 0 on, classes in turn; no precision/recall), ` +
    `scored with ${ev.description}. FD at this count is biased up: compare the settings with each other, and run pmf eval at 10,000 ` +
    'samples for the figure.';
}

useButton.addEventListener('click', () => {
  const c = state.config;
  if (!c) return;
  const cell = cellOf(c.selected.row, c.selected.col);
  channel.request<MessageOf<ToWebview, 'used'>>({ type: 'useSettings', settings: { steps: c.steps, omega: cell.omega, tMin: cell.tMin, tMax: cell.tMax,
    noiseScale: c.noiseScale } })
    .reply.then((a) => {
      if (a?.type !== 'used') return;
      state.saved = a.saved;
      showSaved();
      used.append(h('pre', { id: 'commands', text: `${a.generate}\n${a.eval}` }));
    }, (e: unknown) => showError(e instanceof Error ? e.message : String(e)));
});

function showSaved(): void {
  const s = state.saved;
  used.hidden = !s;
  if (!s) return;
  used.replaceChildren(h('span', { text: `This workspace's defaults for the model: ${s.steps} step${s.steps === 1 ? '' : 's'}, ` +
    `\u03c9 ${s.omega}, interval [${s.tMin}, ${s.tMax}]${s.noiseScale !== undefined && s.noiseScale !== 1 ? `, noise x${s.noiseScale}` : ''} ` +
    '(Generate Samples starts with them; the Field Visualizer with all but the noise scale).' }));
  document.body.dataset.saved = `${s.omega}|${s.tMin}|${s.tMax}` + (s.noiseScale !== undefined && s.noiseScale !== 1 ? `|x${s.noiseScale}` : '');
}

sweepButton.addEventListener('click', () => {
  const c = state.config;
  if (!c) return;
  const iv = columnInterval(c, c.selected.col);
  const omegas = [...new Set(c.omegas)].sort((a, b) => a - b);
  send({ type: 'sweep', omegas, interval: iv, n: c.sweepCount, steps: c.steps });
});
stopButton.addEventListener('click', () => send({ type: 'stopSweep' }));
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && state.sweep?.status === 'running') {
    e.preventDefault();
    send({ type: 'stopSweep' });
  }
});

// ---------------------------------------------------------------- messages

channel.on('init', (msg) => {
  const m = msg.model;
  state.model = m;
  const mine = GuidanceConfig.safeParse(persisted.config);
  // this page's own config when it is of this model (the page was rebuilt), else the host's
  state.config = mine.success && mine.data.modelPath === m.path ? mine.data : msg.config;
  state.config = { ...state.config, selected: clampSelection(state.config) };
  state.saved = msg.saved;
  state.evaluator = msg.evaluator;
  title.textContent = m.name;
  provider.textContent = m.provider;
  const d = m.defaultSampling;
  facts.textContent = `${m.sampleShape.join('\u00d7')} \u00b7 ${d.steps} step${d.steps === 1 ? '' : 's'} \u00b7 model defaults ` +
    `\u03c9 ${d.omega}, [${d.tMin}, ${d.tMax}] \u00b7 one network evaluation per image`;
  classSelect.select.replaceChildren(h('vscode-option', { value: 'cycle', text: 'cycle through the classes' }),
    ...m.classNames.map((n, i) => h('vscode-option', { value: String(i), text: n })));
  empty.hidden = true;
  main.hidden = false;
  persist();
  showConfig();
  showSaved();
  showSweep(msg.sweep);
  layout();
  scheduleStrips();
});
channel.on('sweep', (msg) => showSweep(msg.sweep));
channel.on('busy', (msg) => {
  busy.hidden = !msg.busy;
  document.getElementById('busy-label')!.textContent = msg.label ?? '';
});
channel.on('error', (msg) => {
  showError(msg.message);
  if (!state.model) empty.textContent = 'No model.';
});

send({ type: 'ready' });
