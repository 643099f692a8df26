// The checkpoint inspector webview: findings first, then Overview (contract, architecture,
// parameters), Tensors (filterable, with statistics and histograms on request), Metadata and
// Structure (ONNX operators or the pickle's globals), and for a runnable checkpoint "Benchmark
// here" (its latency per execution provider and batch size). Theme colours come from --vscode-*.
import '../shared/jitless';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { checkBenchPlan, parseBatchList } from '../../src/core/benchPlan';
import { formatParams, isExporterName, moduleOf, tensorMatches } from '../../src/core/checkpoint/inspect/display';
import { el, sender } from '../shared/host';
import { type Actions, type BenchResult, FromWebview, type Stats, type Summary, ToWebview } from './protocol';

const send = sender(FromWebview);

/** Creates an element with text and optional class. */
function h<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

let summary: Summary | undefined;
const stats = new Map<number, Stats>();
const statsErrors = new Map<number, string>();
const rows = new Map<number, HTMLTableRowElement>();
let filtered: number[] = [];

// -- formatting -------------------------------------------------------------------------
function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** A number for a table cell; null (NaN or infinite on the host: JSON has neither) shows as a dash. */
function num(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return v === null || Number.isNaN(v) ? '—' : v > 0 ? '+inf' : '-inf';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
  return v.toPrecision(4).replace(/\.?0+$/, (m) => (m.startsWith('.') ? '' : m));
}

function shape(s: number[]): string {
  return `[${s.join(', ')}]`;
}

function prettyValue(v: string): string {
  try {
    const parsed: unknown = JSON.parse(v);
    if (typeof parsed === 'object' && parsed !== null) return JSON.stringify(parsed, null, 2);
  } catch {
    // not JSON: shown as stored
  }
  return v;
}

/** A two-column table of facts. */
function facts(rowsIn: Array<[string, string | HTMLElement]>, label: string): HTMLTableElement {
  const t = h('table', undefined, 'facts');
  t.setAttribute('aria-label', label);
  for (const [k, v] of rowsIn) {
    const tr = h('tr');
    tr.append(h('th', k));
    const td = h('td');
    if (typeof v === 'string') td.textContent = v;
    else td.append(v);
    tr.append(td);
    t.append(tr);
  }
  return t;
}

function section(title: string, ...children: Array<HTMLElement | string>): HTMLElement {
  const s = h('section', undefined, 'card');
  s.append(h('h2', title), ...children);
  return s;
}

// -- findings and header --------------------------------------------------------------------
const ICON: Record<string, string> = { danger: 'error', warning: 'warning', info: 'info' };

function renderFindings(s: Pick<Summary, 'findings'>): void {
  const list = el('findings');
  list.replaceChildren(...s.findings.map((f) => {
    const li = h('li', undefined, `finding ${f.severity}`);
    const icon = h('span', undefined, `codicon codicon-${ICON[f.severity]}`);
    icon.setAttribute('aria-label', f.severity);
    li.append(icon, h('span', f.message));
    return li;
  }));
  list.hidden = s.findings.length === 0;
}

function renderHeader(s: Summary, actions: Actions, ms: number): void {
  el('file').textContent = s.fileName;
  el('format').textContent = { onnx: 'ONNX', safetensors: 'safetensors', pytorch: 'PyTorch' }[s.format];
  el('facts').textContent = `${formatBytes(s.fileSize)} · ${formatParams(s.totalParams)} parameters in ` +
    `${s.tensors.length} tensors · read in ${ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`}`;
  el('generate').hidden = !actions.run;
  el('visualize').hidden = !actions.run;
  runnable = actions.run;
  el('benchmark').hidden = !actions.run || benchRunning;
  el('convert').hidden = !actions.convert;
}

// -- benchmark here ----------------------------------------------------------------------------
let benchRunning = false;
/** The file is a runnable pMF checkpoint (its last summary said so). */
let runnable = false;

/** Seconds with three significant digits (0.00412, 0.153, 2.41, 118). */
function secs(s: number | undefined): string {
  if (s === undefined) return '—';
  return s >= 100 ? s.toFixed(0) : s.toPrecision(3);
}

function renderBench(r: BenchResult): void {
  el('bench').hidden = false;
  el('bench-error').hidden = true;
  el('bench-facts').textContent = `one step${r.omega !== 1 ? `, ω ${r.omega}` : ''}, median of ${r.runs} run${r.runs === 1 ? '' : 's'} ` +
    `after a warm-up · onnxruntime-node ${r.onnxruntimeVersion} on ${r.platform}, ${r.cpu}`;
  const table = el('bench-table') as HTMLTableElement;
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const p of r.providers) {
    const rows = r.rows.filter((x) => x.provider === p.provider);
    rows.forEach((x, i) => {
      const tr = h('tr', undefined, x.ok ? '' : 'bad');
      tr.dataset.provider = x.provider;
      tr.dataset.batch = String(x.batch);
      const first = i === 0;
      const cache = p.alreadyLoaded ? 'already loaded' : p.modelCache
        ? { hit: 'optimised model cache hit', written: 'optimised model cache written', unused: 'no cache' }[p.modelCache.state] : '';
      const load = h('td', first && p.loadS !== undefined ? secs(p.loadS) : '', 'num');
      if (first && p.modelCache?.reason) load.title = `optimised model cache not used: ${p.modelCache.reason}`;
      tr.append(h('td', first ? p.provider : '', 'provider'), h('td', String(x.batch), 'num'), load);
      if (x.ok) {
        tr.append(h('td', secs(x.medianS), 'num'), h('td', secs(x.minS), 'num'),
          h('td', x.imagesPerS === undefined ? '—' : x.imagesPerS >= 100 ? x.imagesPerS.toFixed(0) : x.imagesPerS.toPrecision(3), 'num'),
          h('td', first && p.rssBytes !== undefined ? formatBytes(p.rssBytes) : '', 'num'), h('td', first ? cache : '', 'notes'));
        if (first && p.modelCache?.reason) tr.cells[7].title = p.modelCache.reason;
      } else {
        const err = h('td', x.error ?? 'failed', 'error-text');
        err.colSpan = 5;
        tr.append(err);
      }
      body.append(tr);
    });
  }
  table.hidden = r.rows.length === 0;
  const notes = [
    ...r.notOffered.filter((n) => !r.providers.some((p) => p.provider === n.provider)).map((n) => `${n.provider} not measured: ${n.reason}`),
    ...r.notes,
    'Seconds per batch are wall time through the engine process; engine RSS is its memory after that provider\'s runs.',
  ];
  el('bench-notes').replaceChildren(...notes.map((n) => h('li', n)));
}

function benchProgress(msg: Extract<ToWebview, { type: 'benchProgress' }>): void {
  benchRunning = msg.running;
  el('bench-running').hidden = !msg.running;
  el('benchmark').hidden = msg.running || !summary || !runnable;
  el('bench-again').hidden = msg.running;
  if (msg.running) {
    el('bench').hidden = false;
    el('bench-error').hidden = true;
    el('bench-progress').textContent = msg.total > 0 ? `${msg.message} (${msg.done} / ${msg.total})` : msg.message;
  } else if (msg.message === 'stopped' && (el('bench-table') as HTMLTableElement).hidden) {
    el('bench-error').hidden = false;
    el('bench-error').textContent = 'Benchmark stopped.';
  }
}

// -- overview ----------------------------------------------------------------------------
function contractCard(s: Summary): HTMLElement | undefined {
  const c = s.onnx?.contract;
  if (!c) {
    const p = h('p', s.architecture.family === 'pmfDiT-official'
      ? 'An official pMF checkpoint (PyTorch weights). The extension runs ONNX files that follow the pMF ' +
        'checkpoint format: convert this one with the command the "Copy convert command" button copies.'
      : 'Not an ONNX file: the extension runs pMF checkpoints in ONNX form. This view explains the file; ' +
        'export a trained model with pmf_trainer to run it.');
    return section('Runs in pMF Lab?', p, docLink());
  }
  if (!c.ok) {
    const p = h('p', undefined, 'contract-bad');
    p.append(h('span', undefined, 'codicon codicon-error'), h('span', ` Not a runnable pMF checkpoint (${c.code}): ${c.message}`));
    return section('pMF checkpoint contract', p, docLink());
  }
  const info = c.info;
  const sampling = info.defaultSampling;
  const classes = info.classNames;
  const rowsIn: Array<[string, string]> = [
    ['name', info.name || s.fileName],
    ['prediction', info.prediction === 'x' ? 'x (denoised image; u = (z - x) / t)' : 'u (average velocity)'],
    ['kind', info.kind],
  ];
  if (info.kind === 'image') {
    rowsIn.push(['image', `${info.channels} × ${info.imageSize} × ${info.imageSize}, patch ${info.patchSize ?? '?'}`]);
  } else {
    rowsIn.push(['dimension D', String(info.dim)]);
  }
  const nc = info.numClasses;
  rowsIn.push(['classes', nc > 0 ? `${nc}: ${classes.slice(0, 12).join(', ')}${classes.length > 12 ? ', …' : ''}` : 'none (unconditional)']);
  rowsIn.push(['inputs', info.inputs.join(', ')]);
  rowsIn.push(['guidance', info.hasCfg ? 'omega and interval [t_min, t_max] are inputs' : 'none']);
  rowsIn.push(['default sampling', `${sampling.steps} step${sampling.steps === 1 ? '' : 's'}` +
    (info.hasCfg ? `, ω ${sampling.omega}, interval [${sampling.tMin}, ${sampling.tMax}]` : '')]);
  rowsIn.push(['noise scale, t_eps', `${info.noiseScale}, ${info.tEps}`]);
  rowsIn.push(['data range', `[${info.dataRange.join(', ')}]`]);
  const ok = h('p', undefined, 'contract-ok');
  ok.append(h('span', undefined, 'codicon codicon-pass'), h('span', ' A runnable pMF checkpoint (format version ' +
    `${info.formatVersion}).`));
  const card = section('pMF checkpoint contract', ok, facts(rowsIn, 'Contract'));
  const training = info.training;
  if (Object.keys(training).length) {
    card.append(h('h3', 'Training'), facts(Object.entries(training).map(([k, v]) =>
      [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]), 'Training'));
  }
  return card;
}

function docLink(): HTMLElement {
  const a = h('a', 'The pMF checkpoint format');
  a.href = '#';
  a.addEventListener('click', (e) => {
    e.preventDefault();
    send({ type: 'action', action: 'showFormatDoc' });
  });
  return a;
}

function architectureCard(s: Summary): HTMLElement {
  const a = s.architecture;
  const family = { 'pmfDiT-official': 'pmfDiT (official pMF checkpoint)', pmfDiT: 'pmfDiT (pMF Lab)', 'toy-mlp': 'toy MLP',
    unknown: 'not recognised' }[a.family];
  const rowsIn: Array<[string, string]> = [['family', a.label ? `${family}: ${a.label}` : family]];
  for (const [k, v] of Object.entries(a.config)) rowsIn.push([k, String(v)]);
  return section('Architecture', facts(rowsIn, 'Architecture'), h('p', `Inferred from ${a.basis}.`, 'note'));
}

function paramsCard(s: Summary): HTMLElement {
  const total = s.totalParams || 1;
  const rowsIn: Array<[string, string]> = Object.entries(s.paramsByDtype)
    .sort((x, y) => y[1] - x[1])
    .map(([dt, n]) => [dt, `${formatParams(n)} (${((100 * n) / total).toFixed(1)} %)`]);
  const groups = new Map<string, number>();
  for (const t of s.tensors) {
    // a weight the exporter named onnx::MatMul_N counts for the module whose node reads it
    const path = (isExporterName(t.name) && moduleOf(t)) || t.name;
    const top = path.split('.').slice(0, path.startsWith('net.') ? 2 : 1).join('.');
    groups.set(top, (groups.get(top) ?? 0) + t.numel);
  }
  const top = [...groups.entries()].sort((x, y) => y[1] - x[1]).slice(0, 12);
  const card = section('Parameters', facts(rowsIn, 'Parameters by dtype'));
  if (top.length > 1) {
    card.append(h('h3', 'Largest groups'), facts(top.map(([g, n]) =>
      [g, `${formatParams(n)} (${((100 * n) / total).toFixed(1)} %)`]), 'Parameters by group'));
  }
  return card;
}

function renderOverview(s: Summary): void {
  const parts = [contractCard(s), architectureCard(s), paramsCard(s)].filter((x): x is HTMLElement => !!x);
  el('overview').replaceChildren(...parts);
}

// -- tensors -------------------------------------------------------------------------------
function matcher(text: string): (name: string) => boolean {
  const q = text.trim();
  if (!q) return () => true;
  const re = /^\/(.+)\/([a-z]*)$/.exec(q);
  if (re) {
    try {
      const r = new RegExp(re[1], re[2].includes('i') ? re[2] : `${re[2]}i`);
      return (n) => r.test(n);
    } catch {
      // an unfinished regex filters nothing out until it parses
      return () => true;
    }
  }
  const lower = q.toLowerCase();
  return (n) => n.toLowerCase().includes(lower);
}

function histogramCanvas(st: Stats): HTMLCanvasElement {
  const c = h('canvas', undefined, 'hist');
  const counts = st.histogram.counts;
  // CSS size 72 x 20 (inspector.css), drawn at the screen's pixel density
  const dpr = window.devicePixelRatio || 1;
  c.width = Math.round(72 * dpr);
  c.height = Math.round(20 * dpr);
  c.title = `${counts.length} bins over [${num(st.histogram.lo)}, ${num(st.histogram.hi)}]`;
  const ctx = c.getContext('2d');
  const max = Math.max(1, ...counts);
  if (ctx) {
    ctx.fillStyle = getComputedStyle(document.body).getPropertyValue('--vscode-charts-blue') || '#3794ff';
    const w = c.width / Math.max(1, counts.length);
    counts.forEach((n, i) => {
      const bh = n === 0 ? 0 : Math.max(1, (n / max) * c.height);
      ctx.fillRect(i * w, c.height - bh, Math.max(1, w - 0.5), bh);
    });
  }
  return c;
}

/** The tensor table's columns (the comparison sits by the name, where it is seen; hidden until there is one). */
const COL = { name: 0, dtype: 1, shape: 2, params: 3, vs: 4, min: 5, max: 6, mean: 7, std: 8, histogram: 9, notes: 10 } as const;

function fillStats(index: number, tr: HTMLTableRowElement): void {
  const cells = tr.cells;
  const st = stats.get(index);
  const err = statsErrors.get(index);
  const t = summary!.tensors[index];
  for (let i = COL.min; i <= COL.notes; i++) cells[i].replaceChildren();
  tr.classList.toggle('bad', !!st && (st.nan > 0 || st.inf > 0));
  if (st) {
    cells[COL.min].textContent = num(st.min);
    cells[COL.max].textContent = num(st.max);
    cells[COL.mean].textContent = num(st.mean);
    cells[COL.std].textContent = num(st.std);
    cells[COL.histogram].append(histogramCanvas(st));
    const notes: string[] = [];
    if (st.nan) notes.push(`${st.nan} NaN`);
    if (st.inf) notes.push(`${st.inf} inf`);
    if (st.zeros === st.count && st.count > 0) notes.push('all zero');
    else if (st.zeros) notes.push(`${((100 * st.zeros) / st.count).toFixed(1)} % zero`);
    cells[COL.notes].textContent = notes.join(', ');
  } else if (err) {
    cells[COL.notes].textContent = err;
    cells[COL.notes].className = 'error-text';
  } else if (t.data) {
    const b = document.createElement('vscode-button');
    b.setAttribute('secondary', '');
    b.setAttribute('icon', 'pulse');
    b.textContent = 'Stats';
    b.title = `Statistics of ${t.name}`;
    b.addEventListener('click', () => send({ type: 'stats', indices: [index] }));
    cells[COL.min].append(b);
    if (t.note) cells[COL.notes].textContent = t.note;
  } else {
    cells[COL.notes].textContent = t.note ?? 'no data to read';
  }
}

function tensorRow(index: number): HTMLTableRowElement {
  const t = summary!.tensors[index];
  const tr = h('tr');
  tr.dataset.index = String(index);
  const name = h('td', undefined, 'name');
  name.append(h('div', t.name));
  name.title = t.usedBy?.length ? `${t.name}\nread by ${t.usedBy.join(', ')}` : t.name;
  // Exporters' own names (onnx::MatMul_1914) say nothing of the module: show the node that reads the weight.
  if (isExporterName(t.name) && t.usedBy?.length) name.append(h('div', `→ ${t.usedBy[0]}`, 'used-by'));
  tr.append(name, h('td', t.dtype), h('td', shape(t.shape)), h('td', formatParams(t.numel), 'num'), h('td', undefined, 'vs'));
  for (let i = 0; i < 4; i++) tr.append(h('td', undefined, 'num'));
  tr.append(h('td'), h('td', undefined, 'notes'));
  fillStats(index, tr);
  fillDiff(index, tr);
  return tr;
}

// -- comparison with another checkpoint ------------------------------------------------------
interface Comparison {
  fileName: string;
  pairs: number;
  onlyHere: Set<number>;
  onlyThere: string[];
  results: Map<number, Extract<ToWebview, { type: 'diff' }>>;
}
let comparison: Comparison | undefined;

function fillDiff(index: number, tr: HTMLTableRowElement): void {
  const cell = tr.cells[COL.vs];
  cell.className = 'vs';
  cell.textContent = '';
  cell.title = '';
  if (!comparison) return;
  const r = comparison.results.get(index);
  if (comparison.onlyHere.has(index)) {
    cell.textContent = 'not there';
    cell.title = `no tensor of this name in ${comparison.fileName}`;
    cell.classList.add('missing');
  } else if (r?.diff) {
    const d = r.diff;
    cell.textContent = `${d.identical ? 'identical' : `Δ ${num(d.relative)}`}${r.transposed ? ' ⇄' : ''}`;
    cell.classList.add(d.identical ? 'same' : 'apart');
    cell.title = `${r.other} in ${comparison.fileName}${r.transposed ? ', stored transposed there (⇄)' : ''}: ` +
      `relative L2 distance ${num(d.relative)}, max |a - b| ${num(d.maxAbs)}, cosine ${num(d.cosine)} over ${d.count} values` +
      `${d.nonFinite ? `; ${d.nonFinite} NaN/inf pairs skipped` : ''}`;
  } else if (r?.error) {
    cell.textContent = r.error;
    cell.classList.add('error-text');
  }
}

function renderComparison(): void {
  (el('tensors') as HTMLTableElement).classList.toggle('comparing', !!comparison);
  if (!comparison) {
    el('compare-summary').textContent = '';
    return;
  }
  const c = comparison;
  el('vs-head').textContent = `vs ${c.fileName}`;
  el('vs-head').title = 'Δ: relative L2 distance ||a - b|| / ||a|| to the same-named tensor there; ⇄: stored transposed there';
  const same = [...c.results.values()].filter((r) => r.diff?.identical).length;
  el('compare-summary').textContent = `against ${c.fileName}: ${c.pairs} paired (${same} identical), ` +
    `${c.onlyHere.size} only here, ${c.onlyThere.length} only there`;
  el('compare-summary').title = c.onlyThere.length ? `only in ${c.fileName}: ${c.onlyThere.join(', ')}` : '';
}

/** Rows are built when first shown: a large checkpoint has thousands of tensors. */
const PAGE = 500;
let shown = 0;

function renderTensors(): void {
  const s = summary!;
  const match = matcher((el('filter') as HTMLInputElement).value ?? '');
  filtered = s.tensors.map((_, i) => i).filter((i) => tensorMatches(s.tensors[i], match));
  shown = Math.min(PAGE, filtered.length);
  const body = (el('tensors') as HTMLTableElement).tBodies[0];
  body.replaceChildren(...filtered.slice(0, shown).map((i) => rowFor(i)));
  updateCount();
}

function rowFor(i: number): HTMLTableRowElement {
  let tr = rows.get(i);
  if (!tr) {
    tr = tensorRow(i);
    rows.set(i, tr);
  }
  return tr;
}

function showMore(): void {
  if (shown >= filtered.length) return;
  const body = (el('tensors') as HTMLTableElement).tBodies[0];
  const next = Math.min(filtered.length, shown + PAGE);
  body.append(...filtered.slice(shown, next).map((i) => rowFor(i)));
  shown = next;
  updateCount();
}

function updateCount(): void {
  const total = summary?.tensors.length ?? 0;
  el('tensor-count').textContent = filtered.length === total
    ? `${total} tensors${shown < total ? ` (${shown} shown; scroll for more)` : ''}`
    : `${filtered.length} of ${total} tensors match${shown < filtered.length ? ` (${shown} shown)` : ''}`;
}

// -- metadata and structure -----------------------------------------------------------------
function renderMetadata(s: Summary): void {
  const entries = Object.entries(s.metadata);
  if (!entries.length) {
    el('metadata').replaceChildren(h('p', 'The file carries no metadata.', 'note'));
    return;
  }
  el('metadata').replaceChildren(facts(entries.map(([k, v]) => [k, h('pre', prettyValue(v))]), 'Metadata'));
}

function renderStructure(s: Summary): void {
  const parts: HTMLElement[] = [];
  if (s.onnx) {
    const o = s.onnx;
    parts.push(section('Graph', facts([
      ['IR version', String(o.irVersion)],
      ['producer', o.producer || '—'],
      ['opsets', o.opsets.map((x) => `${x.domain || 'ai.onnx'} ${x.version}`).join(', ')],
      ['nodes', String(o.nodeCount)],
      ['inputs', o.inputs.map((i) => `${i.name}: ${i.elemType} [${i.dims.map((d) => d ?? '?').join(', ')}]`).join('\n')],
      ['outputs', o.outputs.map((i) => `${i.name}: ${i.elemType} [${i.dims.map((d) => d ?? '?').join(', ')}]`).join('\n')],
    ], 'Graph')));
    const ops = Object.entries(o.opCounts).sort((a, b) => b[1] - a[1]);
    parts.push(section('Operators', facts(ops.map(([k, n]) => [k, String(n)]), 'Operators')));
  }
  if (s.pickle) {
    const p = s.pickle;
    const layout = { zip: 'torch.save zip archive (PyTorch ≥ 1.6)', torchscript: 'TorchScript archive (torch.jit.save)',
      legacy: 'legacy torch.save format (PyTorch < 1.6)' }[p.layout];
    parts.push(section('Pickle', facts([
      ['layout', layout],
      ['protocol', String(p.protocol)],
      ['tensors at', p.tensorPath || '(top level)'],
    ], 'Pickle'), h('p', 'pMF Lab reads pickles with a parser: nothing in the file is executed.', 'note')));
    const globals = h('table', undefined, 'facts');
    globals.setAttribute('aria-label', 'Globals');
    for (const g of p.globals) {
      const tr = h('tr', undefined, g.allowed ? '' : 'bad');
      const status = h('td');
      status.append(h('span', undefined, `codicon codicon-${g.allowed ? 'pass' : 'error'}`),
        h('span', g.allowed ? ' expected in a state dict' : ' would run on torch.load(weights_only=False)'));
      tr.append(h('th', `${g.module}.${g.name}`), status);
      globals.append(tr);
    }
    parts.push(section(`Globals referenced (${p.globals.length})`, globals));
    const top = Object.entries(p.topLevel);
    if (top.length) parts.push(section('Other top-level entries', facts(top, 'Top level')));
  }
  if (!parts.length) parts.push(h('p', 'safetensors: a JSON header and raw tensors; nothing else to show.', 'note'));
  el('structure').replaceChildren(...parts);
}

// -- messages ---------------------------------------------------------------------------
function show(s: Summary, actions: Actions, ms: number): void {
  summary = s;
  stats.clear();
  statsErrors.clear();
  rows.clear();
  comparison = undefined; // its indices belong to the previous read of the file
  renderComparison();
  if (!benchRunning) el('bench').hidden = true; // a benchmark of what the file held before
  el('loading').hidden = true;
  el('error').hidden = true;
  el('content').hidden = false;
  renderHeader(s, actions, ms);
  renderFindings(s);
  renderOverview(s);
  renderTensors();
  renderMetadata(s);
  renderStructure(s);
}

window.addEventListener('message', (ev: MessageEvent) => {
  const parsed = ToWebview.safeParse(ev.data);
  if (!parsed.success) {
    console.error('pMF inspector: ignored an invalid message', parsed.error.message);
    return;
  }
  const msg = parsed.data;
  switch (msg.type) {
    case 'loading':
      el('file').textContent = msg.fileName;
      el('loading').hidden = false;
      el('loading-label').textContent = `Reading ${msg.fileName}`;
      break;
    case 'summary':
      show(msg.summary, msg.actions, msg.ms);
      break;
    case 'error':
      summary = undefined;
      el('file').textContent = msg.fileName;
      el('loading').hidden = true;
      el('content').hidden = true;
      // a file refused because a Python load would run code from it: its DANGER findings above the message
      renderFindings({ findings: msg.findings ?? [] });
      el('error').hidden = false;
      el('error').textContent = msg.message;
      runnable = false;
      for (const id of ['generate', 'visualize', 'benchmark', 'convert']) el(id).hidden = true;
      break;
    case 'stats':
    case 'statsError': {
      if (msg.type === 'stats') stats.set(msg.index, msg.stats);
      else statsErrors.set(msg.index, msg.message);
      const tr = rows.get(msg.index);
      if (tr) fillStats(msg.index, tr);
      break;
    }
    case 'compare':
      comparison = { fileName: msg.fileName, pairs: msg.pairs, onlyHere: new Set(msg.onlyHere), onlyThere: msg.onlyThere, results: new Map() };
      for (const [i, tr] of rows) fillDiff(i, tr);
      renderComparison();
      break;
    case 'diff': {
      if (!comparison) break;
      comparison.results.set(msg.index, msg);
      const tr = rows.get(msg.index);
      if (tr) fillDiff(msg.index, tr);
      break;
    }
    case 'compareProgress':
      el('compare-cancel').hidden = !msg.running;
      el('compare').hidden = msg.running;
      renderComparison();
      if (msg.running) el('compare-summary').textContent = `comparing ${msg.done} / ${msg.total}`;
      break;
    case 'compareError':
      comparison = undefined;
      renderComparison();
      el('compare-summary').textContent = `comparison failed: ${msg.message}`;
      break;
    case 'benchProgress':
      benchProgress(msg);
      break;
    case 'bench':
      renderBench(msg.result);
      break;
    case 'benchError':
      el('bench').hidden = false;
      el('bench-error').hidden = false;
      el('bench-error').textContent = msg.message;
      break;
    case 'progress':
      el('stats-cancel').hidden = !msg.running;
      el('stats-all').hidden = msg.running;
      el('stats-progress').textContent = msg.running
        ? `statistics ${msg.done} / ${msg.total}${msg.bytesTotal ? ` (${(msg.bytesDone! / 1e9).toFixed(1)} of ${(msg.bytesTotal / 1e9).toFixed(1)} GB read)` : ''}` :
        msg.total > 1 ? `statistics of ${msg.done} tensors` : '';
      break;
  }
});

el('filter').addEventListener('input', () => summary && renderTensors());
el('stats-all').addEventListener('click', () => {
  if (!summary) return;
  send({ type: 'stats', indices: filtered.filter((i) => summary!.tensors[i].data && !stats.has(i)) });
});
el('stats-cancel').addEventListener('click', () => send({ type: 'cancel' }));
el('compare').addEventListener('click', () => send({ type: 'action', action: 'compare' }));
el('compare-cancel').addEventListener('click', () => send({ type: 'cancelCompare' }));
el('generate').addEventListener('click', () => send({ type: 'action', action: 'generate' }));
el('visualize').addEventListener('click', () => send({ type: 'action', action: 'visualize' }));
el('convert').addEventListener('click', () => send({ type: 'action', action: 'copyConvert' }));
/** Starts a benchmark with the batch sizes and runs in the panel's fields (the defaults until changed). */
function startBench(): void {
  let batches: number[];
  let runs: number;
  try {
    batches = parseBatchList((el('bench-batches') as HTMLInputElement).value ?? '');
    const runsText = ((el('bench-runs') as HTMLInputElement).value ?? '').trim();
    runs = /^\d+$/.test(runsText) ? Number(runsText) : NaN;
    checkBenchPlan(batches, runs);
  } catch (e) {
    el('bench').hidden = false;
    el('bench-error').hidden = false;
    el('bench-error').textContent = (e as Error).message.replace('got NaN', 'got nothing usable');
    return;
  }
  (el('bench-table') as HTMLTableElement).hidden = true;
  el('bench-notes').replaceChildren();
  send({ type: 'benchmark', batches, runs });
}
el('benchmark').addEventListener('click', startBench);
el('bench-again').addEventListener('click', startBench);
el('bench-cancel').addEventListener('click', () => send({ type: 'cancelBenchmark' }));
el('reload').addEventListener('click', () => send({ type: 'action', action: 'reload' }));
window.addEventListener('scroll', () => {
  if (window.innerHeight + window.scrollY >= document.body.scrollHeight - 400) showMore();
});
send({ type: 'ready' });
