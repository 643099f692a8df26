// The inspector's "Benchmark here" card: the batch sizes and runs to time, the progress while the
// host benchmarks, the latency table per execution provider and batch size, and its notes.
import { checkBenchPlan, parseBatchList } from '../../src/core/benchPlan';
import type { BenchResult, FromWebview, ToWebview } from '../../src/shared/protocol/inspector';
import { el } from '../shared/host';
import { formatBytes, h } from './dom';

/** A benchmark runs. */
export let benchRunning = false;
/** The file is a runnable pMF checkpoint (its last summary said so). */
let runnable = false;
/** Whether the panel shows a summary (the Benchmark button needs one). */
let hasSummary: () => boolean = () => false;

/** A new summary (or none: the file could not be read) says whether the file can be benchmarked. */
export function setRunnable(run: boolean): void {
  runnable = run;
}

/** Seconds with three significant digits (0.00412, 0.153, 2.41, 118). */
function secs(s: number | undefined): string {
  if (s === undefined) return '—';
  return s >= 100 ? s.toFixed(0) : s.toPrecision(3);
}

export function renderBench(r: BenchResult): void {
  el('bench').hidden = false;
  el('bench-error').hidden = true;
  el('bench-facts').textContent = `one step${r.omega !== 1 ? `, ω ${r.omega}` : ''}, median of ${r.runs} run${r.runs === 1 ? '' : 's'} ` +
    `after a warm-up · onnxruntime-node ${r.onnxruntimeVersion} on ${r.platform}, ${r.cpu}`;
  const table = el<HTMLTableElement>('bench-table');
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

export function benchProgress(msg: Extract<ToWebview, { type: 'benchProgress' }>): void {
  benchRunning = msg.running;
  el('bench-running').hidden = !msg.running;
  el('benchmark').hidden = msg.running || !hasSummary() || !runnable;
  el('bench-again').hidden = msg.running;
  if (msg.running) {
    el('bench').hidden = false;
    el('bench-error').hidden = true;
    el('bench-progress').textContent = msg.total > 0 ? `${msg.message} (${msg.done} / ${msg.total})` : msg.message;
  } else if (msg.message === 'stopped' && el<HTMLTableElement>('bench-table').hidden) {
    el('bench-error').hidden = false;
    el('bench-error').textContent = 'Benchmark stopped.';
  }
}

/** Shows the benchmark's failure (the host could not run it). */
export function benchError(message: string): void {
  el('bench').hidden = false;
  el('bench-error').hidden = false;
  el('bench-error').textContent = message;
}

/** Starts a benchmark with the batch sizes and runs in the panel's fields (the defaults until changed). */
function startBench(send: (msg: FromWebview) => void): void {
  let batches: number[];
  let runs: number;
  try {
    batches = parseBatchList(el<HTMLInputElement>('bench-batches').value ?? '');
    const runsText = (el<HTMLInputElement>('bench-runs').value ?? '').trim();
    runs = /^\d+$/.test(runsText) ? Number(runsText) : NaN;
    checkBenchPlan(batches, runs);
  } catch (e) {
    el('bench').hidden = false;
    el('bench-error').hidden = false;
    el('bench-error').textContent = (e as Error).message.replace('got NaN', 'got nothing usable');
    return;
  }
  el<HTMLTableElement>('bench-table').hidden = true;
  el('bench-notes').replaceChildren();
  send({ type: 'benchmark', batches, runs });
}

/** Wires the card's buttons; send posts to the host, summaryShown tells whether a summary is on screen. */
export function installBench(send: (msg: FromWebview) => void, summaryShown: () => boolean): void {
  hasSummary = summaryShown;
  el('benchmark').addEventListener('click', () => startBench(send));
  el('bench-again').addEventListener('click', () => startBench(send));
  el('bench-cancel').addEventListener('click', () => send({ type: 'cancelBenchmark' }));
}
