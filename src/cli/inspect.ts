// pmf inspect FILE: what pMF: Inspect Checkpoint shows, as text or JSON (nothing in the file runs).
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  formatParams,
  inspectCheckpoint,
  statsEach,
  type CheckpointSummary,
  type TensorEntry,
  type TensorStats,
} from '../core/checkpoint/inspect';
import { isExporterName, tensorMatches } from '../core/checkpoint/inspect/display';
import { CheckpointFiles } from '../node/fileSource';
import { cmdCompare } from './compare';
import { EXIT_DANGER, inspectFailure } from './inspectExit';

export const INSPECT_USAGE = `  pmf inspect FILE [--json] [--stats] [--filter TEXT] [--compare OTHER]
      Explains a checkpoint (.onnx, .safetensors, PyTorch .pt/.pth/.ckpt) without running it:
      format, pMF contract, architecture, findings (unsafe pickle globals among them), tensors.
      --stats adds min/max/mean/std per tensor; --filter keeps tensors whose name (or, in ONNX,
      the name of a node that reads them) contains TEXT. Exit code 5 when the file references
      code that loading it in Python would run (an unsafe pickle): a gate before torch.load.
      --compare OTHER pairs the tensors of FILE and OTHER by name and prints, for each, the relative
      L2 distance ||a - b|| / ||a||, the largest absolute difference and the cosine similarity.`;


function formatBytes(n: number): string {
  return n < 1e3 ? `${n} bytes` : n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : n < 1e9 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e9).toFixed(2)} GB`;
}

function num(v: number): string {
  if (Number.isNaN(v)) return '-';
  return Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(3) : v.toPrecision(4);
}

function describe(s: CheckpointSummary, path: string, stats: Map<number, TensorStats | string>, shown: number[]): string {
  const out: string[] = [];
  out.push(`${s.fileName}  (${path})`);
  out.push(`  ${s.format}, ${formatBytes(s.fileSize)}, ${formatParams(s.totalParams)} parameters in ${s.tensors.length} tensors` +
    ` (${Object.entries(s.paramsByDtype).map(([d, n]) => `${d} ${formatParams(n)}`).join(', ')})`);
  const a = s.architecture;
  const gflops = a.config.gflops_per_image;
  out.push(`  architecture: ${a.family}${a.label ? ` ${a.label}` : ''}${typeof gflops === 'number' ? `, ${gflops} GFLOP per image` : ''} (from ${a.basis})`);
  const config = Object.entries(a.config).map(([k, v]) => `${k} ${typeof v === 'number' && k.startsWith('params') ? formatParams(v) : v}`);
  for (let i = 0; i < config.length; i += 6) out.push(`    ${config.slice(i, i + 6).join(', ')}`);
  if (s.format === 'onnx') {
    const c = s.onnx.contract;
    out.push(c.ok ? `  pMF contract: ok (${c.info.prediction}-prediction ${c.info.kind} model)`
      : `  pMF contract: not runnable (${c.code}): ${c.message}`);
    out.push(`  graph: ${s.onnx.nodeCount} nodes, opsets ${s.onnx.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}`);
  }
  if (s.format === 'pytorch') {
    out.push(`  pickle: ${s.pickle.layout}, protocol ${s.pickle.protocol}, tensors at '${s.pickle.tensorPath}'`);
    const bad = s.pickle.globals.filter((g) => !g.allowed);
    out.push(`  globals: ${s.pickle.globals.length} (${bad.length} not expected in a state dict` +
      `${bad.length ? `: ${bad.map((g) => `${g.module}.${g.name}`).join(', ')}` : ''})`);
  }
  for (const f of s.findings) out.push(`  ${f.severity.toUpperCase()}: ${f.message}`);
  out.push('  tensors:');
  for (const i of shown) {
    const t = s.tensors[i];
    let line = `    ${t.name}  ${t.dtype} [${t.shape.join(', ')}]`;
    if (isExporterName(t.name) && t.usedBy?.length) line += `  (read by ${t.usedBy[0]})`;
    const st = stats.get(i);
    if (typeof st === 'string') line += `  (${st})`;
    else if (st) {
      line += `  min ${num(st.min)} max ${num(st.max)} mean ${num(st.mean)} std ${num(st.std)}` +
        (st.nan || st.inf ? `  NaN ${st.nan} inf ${st.inf}` : '');
    }
    out.push(line);
  }
  return out.join('\n') + '\n';
}

export async function cmdInspect(args: string[], usageError: (m: string) => Error): Promise<number> {
  try {
    return await inspectCommand(args, usageError);
  } catch (e) {
    if (!(e instanceof StatsStopped)) throw e;
    process.stderr.write(`pmf: ${e.message}\n`);
    return 130;
  }
}

async function inspectCommand(args: string[], usageError: (m: string) => Error): Promise<number> {
  const { values, positionals } = parseArgs({
    args, strict: true, allowPositionals: true,
    options: { json: { type: 'boolean' }, stats: { type: 'boolean' }, filter: { type: 'string' }, compare: { type: 'string' } },
  });
  if (positionals.length !== 1) throw usageError('inspect takes one FILE');
  const existing = (p: string) => {
    const full = resolve(p);
    if (!existsSync(full)) throw usageError(`No file '${p}' (looked at ${full}).`);
    return full;
  };
  const path = existing(positionals[0]);
  const keep = (t: TensorEntry) => !values.filter || tensorMatches(t, (text) => text.includes(values.filter!));
  if (values.compare !== undefined) {
    if (values.stats) throw usageError('--stats and --compare do not go together: compare prints its own figures');
    const other = existing(values.compare);
    return inspectFailure(() => cmdCompare(path, other, keep, values.json === true), values.json === true);
  }
  return inspectFailure(() => inspectOne(path, keep, values.stats === true, values.json === true), values.json === true);
}

async function inspectOne(path: string, keep: (t: TensorEntry) => boolean, withStats: boolean, json: boolean): Promise<number> {
  const files = new CheckpointFiles(path);
  try {
    const summary = await inspectCheckpoint(await files.source(), basename(path));
    const shown = summary.tensors.map((_, i) => i).filter((i) => keep(summary.tensors[i]));
    const stats = new Map<number, TensorStats | string>();
    if (withStats) await cliStats(files, summary, shown, stats);
    report(summary, path, stats, shown, json);
    return summary.findings.some((f) => f.severity === 'danger') ? EXIT_DANGER : 0;
  } finally {
    await files.close();
  }
}

/** Progress lines from this much tensor data on (smaller files finish before anyone looks). */
const PROGRESS_BYTES = 256 * 1024 * 1024;

/** --stats: streamed from the file, with progress on stderr for large files; Ctrl-C stops it (exit 130). */
async function cliStats(files: CheckpointFiles, summary: CheckpointSummary, shown: number[], stats: Map<number, TensorStats | string>): Promise<void> {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const gb = (n: number) => `${(n / 1e9).toFixed(1)} GB`;
  let lastShown = 0;
  const progress = (done: number, total: number) => {
    if (total < PROGRESS_BYTES || Date.now() - lastShown < 500) return;
    lastShown = Date.now();
    process.stderr.write(`\rstatistics: ${gb(done)} of ${gb(total)} read (${Math.floor((100 * done) / total)} %); Ctrl-C stops`);
  };
  try {
    await statsEach((f) => files.source(f), shown.map((index) => ({ index, tensor: summary.tensors[index] })),
      (r) => stats.set(r.index, 'stats' in r ? r.stats : r.error), ac.signal, progress);
  } catch (e) {
    if (ac.signal.aborted) throw new StatsStopped(`statistics stopped (Ctrl-C) after ${stats.size} of ${shown.length} tensors of ${summary.fileName}; nothing was written.`);
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
    if (lastShown) process.stderr.write('\n');
  }
}

/** Ctrl-C during --stats: the CLI exits 130 with this message. */
export class StatsStopped extends Error {}

function report(summary: CheckpointSummary, path: string, stats: Map<number, TensorStats | string>, shown: number[], json: boolean): void {
  if (json) {
    const tensors = shown.map((i) => ({ ...summary.tensors[i], ...(stats.has(i) ? { stats: stats.get(i) } : {}) }));
    process.stdout.write(JSON.stringify({ path, ...summary, tensors }, null, 2) + '\n');
  } else {
    process.stdout.write(describe(summary, path, stats, shown));
  }
}
