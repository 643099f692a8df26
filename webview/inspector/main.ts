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
import { formatParams, isExporterName, tensorMatches } from '../../src/core/checkpoint/inspect/display';
import { el, webviewChannel } from '../shared/host';
import { benchError, benchProgress, benchRunning, installBench, renderBench, setRunnable } from './bench';
import { formatBytes, h, num, shape } from './dom';
import { renderMetadata, renderOverview, renderStructure, setDocLinkHandler } from './overview';
import { type Actions, FromWebview, type Stats, type Summary, ToWebview } from '../../src/shared/protocol/inspector';

const channel = webviewChannel('pMF inspector', { incoming: ToWebview, outgoing: FromWebview });
const send = (msg: FromWebview) => void channel.post(msg);
setDocLinkHandler(() => send({ type: 'action', action: 'showFormatDoc' }));

let summary: Summary | undefined;
const stats = new Map<number, Stats>();
const statsErrors = new Map<number, string>();
const rows = new Map<number, HTMLTableRowElement>();
let filtered: number[] = [];

// -- findings and header --------------------------------------------------------------------
const ICON: Record<string, string> = { danger: 'error', warning: 'warning', info: 'info' };

function renderFindings(s: Pick<Summary, 'findings'>, list = el('findings'), prefix = ''): void {
  list.replaceChildren(...s.findings.map((f) => {
    const li = h('li', undefined, `finding ${f.severity}`);
    const icon = h('span', undefined, `codicon codicon-${ICON[f.severity]}`);
    icon.setAttribute('aria-label', f.severity);
    li.append(icon, h('span', prefix + f.message));
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
  // guidance to explore: an image model with omega, t_min and t_max inputs
  const info = s.format === 'onnx' && s.onnx.contract.ok ? s.onnx.contract.info : undefined;
  el('explore').hidden = !actions.run || !info?.hasCfg || info.kind !== 'image';
  setRunnable(actions.run);
  el('benchmark').hidden = !actions.run || benchRunning;
  el('convert').hidden = !actions.convert;
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
  otherFindings: Summary['findings'];
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
      (d.nonFinite ? `; ${d.nonFinite} NaN/inf pairs skipped` : '');
  } else if (r?.error) {
    cell.textContent = r.error;
    cell.classList.add('error-text');
  }
}

function renderComparison(): void {
  el<HTMLTableElement>('tensors').classList.toggle('comparing', !!comparison);
  if (!comparison) {
    el('compare-summary').textContent = '';
    renderFindings({ findings: [] }, el('compare-findings'));
    return;
  }
  const c = comparison;
  // what the other file holds that matters (a Python load of it would run code, ...): said here too
  renderFindings({ findings: c.otherFindings }, el('compare-findings'), `${c.fileName}: `);
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
  const match = matcher(el<HTMLInputElement>('filter').value ?? '');
  filtered = s.tensors.map((_, i) => i).filter((i) => tensorMatches(s.tensors[i], match));
  shown = Math.min(PAGE, filtered.length);
  const body = el<HTMLTableElement>('tensors').tBodies[0];
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
  const body = el<HTMLTableElement>('tensors').tBodies[0];
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

function refillStats(index: number): void {
  const tr = rows.get(index);
  if (tr) fillStats(index, tr);
}

channel.on('loading', (msg) => {
  el('file').textContent = msg.fileName;
  el('loading').hidden = false;
  el('loading-label').textContent = `Reading ${msg.fileName}`;
});
channel.on('summary', (msg) => show(msg.summary, msg.actions, msg.ms));
channel.on('error', (msg) => {
  summary = undefined;
  el('file').textContent = msg.fileName;
  el('loading').hidden = true;
  el('content').hidden = true;
  // a file refused because a Python load would run code from it: its DANGER findings above the message
  renderFindings({ findings: msg.findings ?? [] });
  el('error').hidden = false;
  el('error').textContent = msg.message;
  setRunnable(false);
  for (const id of ['generate', 'visualize', 'explore', 'benchmark', 'convert']) el(id).hidden = true;
});
channel.on('stats', (msg) => {
  stats.set(msg.index, msg.stats);
  refillStats(msg.index);
});
channel.on('statsError', (msg) => {
  statsErrors.set(msg.index, msg.message);
  refillStats(msg.index);
});
channel.on('compare', (msg) => {
  comparison = { fileName: msg.fileName, pairs: msg.pairs, onlyHere: new Set(msg.onlyHere), onlyThere: msg.onlyThere,
    otherFindings: msg.otherFindings, results: new Map() };
  for (const [i, tr] of rows) fillDiff(i, tr);
  renderComparison();
});
channel.on('diff', (msg) => {
  if (!comparison) return;
  comparison.results.set(msg.index, msg);
  const tr = rows.get(msg.index);
  if (tr) fillDiff(msg.index, tr);
});
channel.on('compareProgress', (msg) => {
  el('compare-cancel').hidden = !msg.running;
  el('compare').hidden = msg.running;
  renderComparison();
  if (msg.running) el('compare-summary').textContent = `comparing ${msg.done} / ${msg.total}`;
});
channel.on('compareError', (msg) => {
  comparison = undefined;
  renderComparison();
  el('compare-summary').textContent = `comparison failed: ${msg.message}`;
});
channel.on('benchProgress', (msg) => benchProgress(msg));
channel.on('bench', (msg) => renderBench(msg.result));
channel.on('benchError', (msg) => benchError(msg.message));
channel.on('progress', (msg) => {
  el('stats-cancel').hidden = !msg.running;
  el('stats-all').hidden = msg.running;
  el('stats-progress').textContent = msg.running
    ? `statistics ${msg.done} / ${msg.total}${msg.bytesTotal ? ` (${(msg.bytesDone! / 1e9).toFixed(1)} of ${(msg.bytesTotal / 1e9).toFixed(1)} GB read)` : ''}` :
    msg.total > 1 ? `statistics of ${msg.done} tensors` : '';
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
el('explore').addEventListener('click', () => send({ type: 'action', action: 'exploreGuidance' }));
el('convert').addEventListener('click', () => send({ type: 'action', action: 'copyConvert' }));
installBench(send, () => summary !== undefined);
el('reload').addEventListener('click', () => send({ type: 'action', action: 'reload' }));
window.addEventListener('scroll', () => {
  if (window.innerHeight + window.scrollY >= document.body.scrollHeight - 400) showMore();
});
send({ type: 'ready' });
