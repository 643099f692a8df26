// pMF: Compare Models (the page): two to four image models side by side at the same seeds and
// classes, each column its one-step samples, x and u at the chosen t, and its published metrics;
// below, the effective dimension of x's and u's patches along t for every model (plot and table).
//   state: the CompareConfig lives in vscode.setState, so the host's serializer gets it back after a
//          reload and this page takes it again when it is rebuilt (a hidden panel's page is gone).
//   runs:  a run's events carry its seq (requestId); only the latest run's are drawn. The t slider
//          needs no request: every frame's x and u came with the column.
// Keys: the t slider takes arrows, Home and End (and so does the page outside its controls);
// Escape stops a run.
import '../shared/jitless';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import { MAX_COMPARED } from '../../src/core/modelComparison';
import {
  type ColumnResult, type CompareConfig, FromWebview, type MeasuredResult, ToWebview,
} from '../../src/shared/protocol/compareModels';
import { h } from '../shared/dom';
import { vscode, webviewChannel } from '../shared/host';
import { drawDimPlot } from './dimPlot';
import { sampleCanvas, U_RANGE } from './images';

interface Persisted {
  config?: CompareConfig;
}

const channel = webviewChannel('pMF compare models', { incoming: ToWebview, outgoing: FromWebview });
const persisted = (vscode.getState() as Persisted | undefined) ?? {};
let config: CompareConfig | undefined = persisted.config;
let current = -1; // the requestId of the run shown
let columns: Array<ColumnResult | undefined> = [];
let measured: Array<MeasuredResult | undefined> = [];
let failures: Array<string | undefined> = [];
let classNames: string[] = [];

const COLORS = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple'];
const FALLBACK = ['#3794ff', '#d18616', '#89d185', '#b180d7'];
const color = (slot: number) => getComputedStyle(document.body).getPropertyValue(COLORS[slot]).trim() || FALLBACK[slot];

// ---- the page ---------------------------------------------------------------------------------
const addButton = h('vscode-button', { id: 'add', icon: 'add', secondary: '' }, 'Add model');
const resampleButton = h('vscode-button', { id: 'resample', icon: 'refresh', secondary: '' }, 'New seeds');
const stopButton = h('vscode-button', { id: 'stop', icon: 'debug-stop', secondary: '', hidden: '' }, 'Stop');
const busy = h('span', { id: 'busy', hidden: '' }, h('vscode-progress-ring'), h('span', { id: 'busy-label' }));
const classSelect = h('vscode-single-select', { id: 'class', 'aria-label': 'Classes of the samples' });
const tSlider = h('input', { id: 't', type: 'range', min: '0', max: '8', step: '1', value: '4', 'aria-label': 'Time t of x and u' });
const tLabel = h('output', { id: 't-label', for: 't' });
const seedsLabel = h('span', { id: 'seeds' });
const statusLine = h('div', { id: 'status', role: 'status' });
const errorBox = h('div', { id: 'error', role: 'alert', hidden: '' });
const grid = h('main', { id: 'columns', 'aria-label': 'Models' });
const plot = h('canvas', { id: 'plot', role: 'img', 'aria-label': 'Effective dimension of x and u patches along t, per model' });
const legend = h('div', { id: 'legend' });
const table = h('table', { id: 'dim-table' });
const app = document.getElementById('app')!;
app.append(
  h('header', {}, h('h1', { text: 'Compare models: x- vs u-prediction as the patch dimension grows (Table 2)' }),
    addButton, resampleButton, stopButton, busy),
  h('p', { class: 'lead' }, 'The same seeds and classes for every model. pMF predicts x: a network whose patch dimension ' +
    'exceeds its width can still output x, which lies on a low-dimensional manifold, but not u, which carries the ' +
    'full-dimensional noise (the paper\'s Table 2: u-prediction collapses at 16x16 patches). Samples are one step, ' +
    'x(z\u2081, 0, 1); x and u are those at (z_t, 0, t) along the v-ODE from the same noise.'),
  h('div', { class: 'controls' },
    h('label', { for: 'class', text: 'Classes' }), classSelect,
    h('label', { for: 't', text: 'x and u at' }), tSlider, tLabel, seedsLabel),
  statusLine, errorBox, grid,
  h('section', { id: 'dims', 'aria-labelledby': 'dims-title' },
    h('h2', { id: 'dims-title', text: 'Effective dimension of the patches along t' }),
    h('p', { class: 'lead', text: 'Participation ratio of the p x p patches each model\'s network sees (its tokens, ' +
      'pooled over its samples): x solid, u dashed. Low: the patches vary along few directions (near the data ' +
      'manifold); noise spreads over all p\u00b2C of them.' }),
    plot, legend, table),
);

function clearResults(n: number): void {
  columns = new Array<ColumnResult | undefined>(n).fill(undefined);
  measured = new Array<MeasuredResult | undefined>(n).fill(undefined);
  failures = new Array<string | undefined>(n).fill(undefined);
}

function save(): void {
  vscode.setState({ config } satisfies Persisted);
}

function frames(): number {
  return columns.find((c) => c)?.times.length ?? 9;
}

function frameT(f: number): number {
  return columns.find((c) => c)?.times[f] ?? 1 - f / 8;
}

function fmt(v: number | undefined, digits = 2): string {
  return v === undefined || !Number.isFinite(v) ? '\u2013' : v.toFixed(digits);
}

// ---- columns ----------------------------------------------------------------------------------
function strip(col: ColumnResult, field: 'x' | 'u', frame: number, cls: string): HTMLElement {
  const v = col.view;
  const range: [number, number] = field === 'x' ? [v.dataRange[0], v.dataRange[1]] : [-U_RANGE, U_RANGE];
  const t = col.times[frame];
  const div = h('div', { class: `strip ${cls}` });
  for (let s = 0; s < col.n; s++) {
    const cls2 = v.labels.length ? ` (${v.classNames[v.labels[s]] ?? v.labels[s]})` : '';
    const label = cls === 'samples' ? `${v.label}: sample, seed ${(config?.seed ?? 0) + s}${cls2}`
      : `${v.label}: ${field} at t = ${t.toFixed(3)}, seed ${(config?.seed ?? 0) + s}${cls2}`;
    const c = sampleCanvas(col[field], frame * col.n + s, v.sampleShape, range, label, `img ${cls}`);
    c.dataset.seed = String((config?.seed ?? 0) + s);
    div.append(c);
  }
  return div;
}

/** The column's line under its images: the effective dimension of x and u at the frame shown. */
function dimAtT(slot: number, frame: number): string {
  const mm = measured[slot];
  const col = columns[slot];
  return mm && col && mm.dimX.length > frame
    ? `effective dimension at t = ${col.times[frame].toFixed(3)}: x ${fmt(mm.dimX[frame])} \u00b7 u ${fmt(mm.dimU[frame])} (of ${mm.patchDim})`
    : 'effective dimension: measuring\u2026';
}

function columnElement(slot: number): HTMLElement {
  const col = columns[slot];
  const spec = config?.models[slot] ?? '';
  const sec = h('section', { class: 'column', 'data-slot': String(slot) });
  sec.style.setProperty('--model-color', color(slot));
  const replace = h('vscode-button', { class: 'replace', icon: 'replace', secondary: '', title: `Replace ${spec}` }, 'Replace');
  const remove = h('vscode-button', { class: 'remove', icon: 'close', secondary: '', title: `Remove ${spec}` }, 'Remove');
  replace.addEventListener('click', () => void pickInto(slot));
  remove.addEventListener('click', () => removeModel(slot));
  if ((config?.models.length ?? 0) <= 2) remove.setAttribute('disabled', ''); // a comparison: two models at least
  const tools = h('div', { class: 'tools' }, replace, remove);
  if (!col) {
    sec.append(h('h2', { class: 'label', text: spec }), tools,
      h('p', { class: failures[slot] ? 'failed' : 'pending', text: failures[slot] ?? 'Computing\u2026' }));
    return sec;
  }
  const v = col.view;
  sec.dataset.prediction = v.prediction;
  sec.dataset.patchDim = String(v.patchDim);
  sec.dataset.spec = spec;
  const m = v.metrics;
  const metrics = m ? [m.fd !== undefined ? `FD ${fmt(m.fd, 3)}` : '', m.classConsistency !== undefined
    ? `class-consistency ${(m.classConsistency * 100).toFixed(1)} %` : ''].filter(Boolean).join(' \u00b7 ') : 'no published metrics';
  const frame = Math.min(config?.frame ?? 0, col.times.length - 1);
  const atT = h('p', { class: 'dim-at-t' });
  atT.textContent = dimAtT(slot, frame);
  sec.append(
    h('h2', { class: 'label', text: v.label }),
    h('div', { class: 'name', text: `${v.name} \u00b7 ${v.detail}` }),
    h('div', { class: 'metrics', text: metrics }),
    h('div', { class: 'sampling', text: `\u03c9 ${v.sampling.omega}, interval [${v.sampling.tMin}, ${v.sampling.tMax}] \u00b7 ` +
      `${col.ms.toFixed(0)} ms on ${v.provider}` }),
    tools,
    h('h3', { text: v.modelType === 'flow-matching' ? 'Samples (its ODE\'s z\u2080: not one step)' : 'One-step samples' }),
    strip(col, 'x', 0, 'samples'),
    h('h3', { class: 'at-t', text: `x at t = ${col.times[frame].toFixed(3)}` }), strip(col, 'x', frame, 'x'),
    h('h3', { class: 'at-t', text: `u at t = ${col.times[frame].toFixed(3)} (\u00b1${U_RANGE})` }), strip(col, 'u', frame, 'u'),
    atT,
  );
  if (failures[slot]) sec.append(h('p', { class: 'failed', text: failures[slot] }));
  return sec;
}

function drawColumns(): void {
  const n = config?.models.length ?? 0;
  grid.style.gridTemplateColumns = `repeat(${Math.max(1, n)}, minmax(0, 1fr))`;
  grid.replaceChildren(...Array.from({ length: n }, (_, i) => columnElement(i)));
  document.body.dataset.columnsDrawn = String(columns.filter((c) => c).length);
  addButton.toggleAttribute('disabled', n >= MAX_COMPARED);
}

// ---- measurements -----------------------------------------------------------------------------
function drawDims(): void {
  const n = config?.models.length ?? 0;
  const frame = config?.frame ?? 0;
  const lines = [];
  let maxDim = 1;
  for (let s = 0; s < n; s++) {
    const m = measured[s];
    const col = columns[s];
    if (!m || !col) continue;
    maxDim = Math.max(maxDim, m.patchDim);
    lines.push({ color: color(s), times: col.times.slice(0, m.dimX.length), x: m.dimX, u: m.dimU });
  }
  drawDimPlot(plot, lines, maxDim, columns.some((c) => c) ? frameT(frame) : undefined);
  legend.replaceChildren(...Array.from({ length: n }, (_, s) => {
    const item = h('span', { class: 'legend-item' }, h('span', { class: 'swatch' }), columns[s]?.view.label ?? config!.models[s]);
    item.style.setProperty('--model-color', color(s));
    return item;
  }), h('span', { class: 'legend-item', text: 'x solid, u dashed' }));
  const t = frameT(frame);
  const head = h('tr', {}, ...['Model', 'patch dim', `x at t = ${t.toFixed(3)}`, `u at t = ${t.toFixed(3)}`, 'u / x',
    'x, mean over t', 'u, mean over t'].map((s) => h('th', { scope: 'col', text: s })));
  const rows = Array.from({ length: n }, (_, s) => {
    const m = measured[s];
    const label = columns[s]?.view.label ?? config!.models[s];
    const complete = m && m.done === m.total;
    // mean over t < 1 and t > 0: where z_t mixes noise and data
    const inner = (a: number[]) => {
      const vals = a.filter((_, i) => i > 0 && i < a.length - 1);
      return vals.length ? vals.reduce((p, q) => p + q, 0) / vals.length : undefined;
    };
    const cell = (cls: string, v: number | undefined) => h('td', { class: cls, 'data-slot': String(s), text: fmt(v) });
    const row = h('tr', { 'data-slot': String(s) }, h('th', { scope: 'row', text: label }),
      h('td', { text: m ? String(m.patchDim) : '\u2013' }),
      cell('dim-x', m?.dimX[frame]), cell('dim-u', m?.dimU[frame]),
      cell('ratio', m && m.dimX[frame] !== undefined ? m.dimU[frame] / m.dimX[frame] : undefined),
      cell('mean-x', complete ? inner(m.dimX) : undefined), cell('mean-u', complete ? inner(m.dimU) : undefined));
    row.style.setProperty('--model-color', color(s));
    return row;
  });
  table.replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
  document.body.dataset.measured = String(measured.filter((m) => m && m.done === m.total).length);
}

function drawAll(): void {
  const F = frames();
  tSlider.max = String(F - 1);
  if (config) config.frame = Math.min(config.frame, F - 1);
  tSlider.value = String(config?.frame ?? 0);
  tLabel.textContent = `t = ${frameT(config?.frame ?? 0).toFixed(3)}`;
  if (config) {
    seedsLabel.textContent = `seeds ${config.seed}\u2013${config.seed + config.samples - 1}`;
  }
  drawColumns();
  drawDims();
}

function fillClasses(): void {
  const choice = config?.classChoice ?? 'mixed';
  const opts = [h('vscode-option', { value: 'mixed', text: 'Mixed (sample i: class i)' }),
    ...classNames.map((name, i) => h('vscode-option', { value: String(i), text: `${i}: ${name}` }))];
  classSelect.replaceChildren(...opts);
  (classSelect as unknown as { value: string }).value = String(choice);
}

// ---- runs -------------------------------------------------------------------------------------
function run(): void {
  if (!config) return;
  save();
  clearResults(config.models.length);
  document.body.dataset.done = 'false';
  errorBox.hidden = true;
  current = channel.post({ type: 'run', config }).seq;
  drawAll();
}

async function pickInto(slot: number): Promise<void> {
  if (!config) return;
  const { reply } = channel.request({ type: 'pickModel', slot });
  const answer = await reply.catch(() => undefined);
  if (answer?.type !== 'picked' || !config) return;
  const models = [...config.models];
  models[slot] = answer.spec;
  config = { ...config, models: models.slice(0, MAX_COMPARED) };
  run();
}

function removeModel(slot: number): void {
  if (!config || config.models.length <= 2) return;
  config = { ...config, models: config.models.filter((_, i) => i !== slot) };
  run();
}

function selectFrame(f: number): void {
  if (!config) return;
  config.frame = Math.max(0, Math.min(frames() - 1, f));
  save();
  drawAll();
}

addButton.addEventListener('click', () => void pickInto(config?.models.length ?? 0));
resampleButton.addEventListener('click', () => {
  if (!config) return;
  config = { ...config, seed: (config.seed + config.samples) % (0xffffffff - 64) };
  run();
});
stopButton.addEventListener('click', () => channel.post({ type: 'cancel' }));
tSlider.addEventListener('input', () => selectFrame(Number(tSlider.value)));
classSelect.addEventListener('change', () => {
  if (!config) return;
  const v = (classSelect as unknown as { value: string }).value;
  const choice = v === 'mixed' ? 'mixed' : Number(v);
  if (choice === config.classChoice) return;
  config = { ...config, classChoice: choice };
  run();
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !busy.hidden) {
    e.preventDefault();
    channel.post({ type: 'cancel' });
    return;
  }
  const tag = (e.target as HTMLElement | null)?.tagName ?? '';
  if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || /^(INPUT|TEXTAREA|SELECT)$/.test(tag) || tag.startsWith('VSCODE-')) return;
  const f = config?.frame ?? 0;
  const moves: Record<string, number> = { ArrowLeft: f - 1, ArrowRight: f + 1, Home: 0, End: frames() - 1 };
  if (!(e.key in moves)) return;
  e.preventDefault();
  selectFrame(moves[e.key]);
});
let resizeTimer: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(drawDims, 100);
});

// ---- the host's events ------------------------------------------------------------------------
channel.on('config', (msg) => {
  config = msg.config;
  save();
  clearResults(config.models.length);
  fillClasses();
  drawAll();
});
channel.on('column', (msg) => {
  const r = msg.result;
  if (r.requestId !== current) return;
  columns[r.slot] = r;
  if (!classNames.length && r.view.classNames.length) {
    classNames = r.view.classNames;
    fillClasses();
  }
  drawAll();
});
channel.on('measured', (msg) => {
  const r = msg.result;
  if (r.requestId !== current) return;
  measured[r.slot] = r;
  // the numbers only: the column's images stay as drawn
  const line = grid.querySelector(`section.column[data-slot="${r.slot}"] .dim-at-t`);
  if (line) line.textContent = dimAtT(r.slot, Math.min(config?.frame ?? 0, frames() - 1));
  drawDims();
});
channel.on('failed', (msg) => {
  if (msg.requestId !== current) return;
  failures[msg.slot] = `${msg.spec}: ${msg.message}`;
  drawAll();
});
channel.on('done', (msg) => {
  if (msg.requestId !== current) return;
  document.body.dataset.done = 'true';
  statusLine.textContent = `${config?.models.length ?? 0} models, ${config?.samples ?? 0} samples each, in ${(msg.ms / 1000).toFixed(2)} s`;
});
channel.on('busy', (msg) => {
  busy.hidden = msg.label === undefined;
  stopButton.hidden = msg.label === undefined;
  document.getElementById('busy-label')!.textContent = msg.label ?? '';
  document.body.toggleAttribute('aria-busy', msg.label !== undefined);
});
channel.on('error', (msg) => {
  errorBox.textContent = msg.message;
  errorBox.hidden = false;
});

document.body.dataset.done = 'false';
current = channel.post({ type: 'ready', config }).seq;
drawAll();
