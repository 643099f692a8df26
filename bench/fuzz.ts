// The checkpoint fuzzer: mutated fixtures and hostile structures of every format (bench/fuzzInputs.ts)
// through pMF: Inspect Checkpoint, each in a worker thread under a time budget, asserting:
//   - no crash: inspectCheckpoint returns a summary or throws InspectError, nothing else (no
//     TypeError, RangeError, out-of-memory, ...); statistics of a few of the tensors it lists
//     return figures or throw InspectError; the summary is well formed and serialises to JSON;
//   - no hang: an answer within the budget plus a margin, else the worker is killed;
//   - documented outcomes only: InspectError codes of docs (exit 3, or 5 for dangerous and
//     ambiguous), summaries (exit 0, or 5 with a danger finding);
//   - every InspectError message names the file and quotes no JavaScript internals;
//   - the real CLI (node dist/cli.js inspect FILE, with --json or --stats for some) on a sample:
//     exit codes 0, 3 or 5 only, the same as in-process, messages that name the file, no stack trace.
// Failing inputs are saved under --repro-dir (default /tmp/fuzz-repro) as <format>-<index>.bin with
// a .json of what happened; the first of each kind of crash is also minimised (.min.bin).
// Every input is a pure function of (seed, format, index): --format F --seed K --only I rebuilds one;
// --replay DIR runs the reproducers saved in DIR again (after a fix: which still fail?).
//
// Usage: node out/bench/fuzz.js [--per-format N] [--seconds S] [--seed K] [--format F[,F...]]
//          [--workers W] [--budget-ms MS] [--margin-ms MS] [--cli-sample FRACTION] [--cli-max N]
//          [--repro-dir DIR] [--json FILE] [--only I] [--replay DIR] [--no-minimize]
// Exit code 1 on any crash, hang, undocumented outcome or CLI failure.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { bufferSource, InspectError, inspectCheckpoint, tensorStats, type CheckpointSummary } from '../src/core/checkpoint/inspect';
import { Summary } from '../src/shared/protocol/inspector';
import { FORMATS, inputName, loadFixtures, makeInput, type Fixtures, type Format } from './fuzzInputs';

const REPO = resolve(__dirname, '..', '..');
const CLI = join(REPO, 'dist', 'cli.js');

/** InspectError codes and their exit codes (docs/errors.md, src/cli/inspectExit.ts). */
const DOCUMENTED: Readonly<Record<string, number>> = {
  empty: 3, 'unknown-format': 3, truncated: 3, corrupt: 3, unsupported: 3, 'too-large': 3, 'not-a-file': 3, budget: 3,
  ambiguous: 5, dangerous: 5,
};

/** Phrases of JavaScript engine errors: a message quoting one reports a bug, not the file. */
const INTERNALS =
  /is not a function|is not a constructor|is not iterable|is not defined|Cannot read propert|Cannot set propert|Cannot convert|Cannot mix BigInt|Invalid typed array length|Invalid array length|Invalid string length|Maximum call stack|Array buffer allocation failed|out of memory|Offset is outside the bounds|Start offset .* is outside|should be a multiple of|Do not know how to serialize|Converting circular structure|\[native code\]|\[object Object\]|function \w*\([^)]*\) \{|=> \{|at Object\.|at async |node:internal/;
/** Text that suggests a value printed without care: reported, not failed. */
const SUSPECT = /\bundefined\b|\bNaN\b|function \w*\(/;

// ---- the worker ---------------------------------------------------------------------------------

interface Job {
  id: number;
  format: Format;
  index: number;
  seed: number;
  /** Given bytes (minimisation) instead of the generated input. */
  bytes?: Uint8Array;
}

export interface Outcome {
  id: number;
  format: Format;
  index: number;
  /** 'ok' | 'danger' (summaries) | an InspectError code | 'crash' | 'hang'. */
  code: string;
  /** The CLI's exit code for this outcome (undefined for crashes and hangs). */
  exit?: number;
  ms: number;
  statsMs: number;
  /**
   * The worker's memory after the input, MB: its V8 heap (the input's allocations, garbage included, plus
   * at most 64 MB from before) and ArrayBuffers (the fixtures, about 15 MB, among them).
   */
  heapMb: number;
  size: number;
  how: string;
  message?: string;
  /** Assertions that failed (each a short sentence); a crash has its stack in `stack`. */
  problems: string[];
  suspects: string[];
  stack?: string;
}

const DANGER_FINDINGS_EXPECTED = new Set(['dangerous']);

function describeError(e: unknown): { name: string; message: string; stack: string } {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack ?? `${e.name}: ${e.message}` };
  return { name: typeof e, message: String(e), stack: String(e) };
}

function checkText(where: string, text: unknown, problems: string[], suspects: string[]): void {
  if (typeof text !== 'string') {
    problems.push(`${where} is a ${typeof text}, not a string`);
    return;
  }
  const m = INTERNALS.exec(text);
  if (m) problems.push(`${where} quotes JavaScript internals ("${m[0]}"): ${text.slice(0, 300)}`);
  const s = SUSPECT.exec(text);
  if (s) suspects.push(`${where} contains "${s[0]}": ${text.slice(0, 200)}`);
}

function checkSummary(s: CheckpointSummary, fileName: string, size: number, problems: string[], suspects: string[]): void {
  const bad = (why: string) => problems.length < 8 && problems.push(`summary: ${why}`);
  if (s.fileName !== fileName) bad(`fileName is ${JSON.stringify(s.fileName)}`);
  if (!['onnx', 'safetensors', 'pytorch'].includes(s.format)) bad(`format is ${s.format}`);
  if (s.fileSize !== size) bad(`fileSize ${s.fileSize}, the file has ${size}`);
  if (!Array.isArray(s.tensors)) bad('tensors is not a list');
  else {
    s.tensors.forEach((t, i) => {
      if (typeof t.name !== 'string') bad(`tensor ${i}'s name is a ${typeof t.name}`);
      const name: unknown = t.name, dtype: unknown = t.dtype; // what the file made of them, checked as such
      if (typeof dtype !== 'string') bad(`tensor ${i} (${String(name).slice(0, 80)})'s dtype is a ${typeof dtype}: ${String(dtype).slice(0, 60)}`);
      if (!Array.isArray(t.shape) || !t.shape.every((d) => typeof d === 'number')) bad(`tensor ${i}'s shape is not a list of numbers`);
      if (typeof t.numel !== 'number' || Number.isNaN(t.numel) || t.numel < 0) bad(`tensor ${i}'s numel is ${String(t.numel)}`);
      if (t.data) {
        const { offset, byteLength, file } = t.data;
        if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(byteLength) || offset < 0 || byteLength < 0) bad(`tensor ${i}'s data is at ${offset}, ${byteLength} bytes`);
        else if (file === undefined && offset + byteLength > size) suspects.push(`tensor ${i}'s data (${offset}+${byteLength}) lies past the end of the file (${size})`);
        if (file !== undefined && typeof file !== 'string') bad(`tensor ${i}'s external file is a ${typeof file}`);
      }
      if (t.note !== undefined) checkText(`tensor ${i}'s note`, t.note, problems, suspects);
    });
  }
  if (typeof s.totalParams !== 'number' || Number.isNaN(s.totalParams)) bad(`totalParams is ${String(s.totalParams)}`);
  if (!Array.isArray(s.findings)) bad('findings is not a list');
  else {
    for (const [i, f] of s.findings.entries()) {
      if (!['info', 'warning', 'danger'].includes(f.severity)) bad(`finding ${i}'s severity is ${f.severity}`);
      checkText(`finding ${i}`, f.message, problems, suspects);
    }
  }
  let json: string;
  try {
    json = JSON.stringify(s);
  } catch (e) {
    bad(`it does not serialise to JSON (what pmf inspect --json prints): ${describeError(e).message}`);
    return;
  }
  // What the inspector's webview gets: the summary as JSON, which must pass its schema (the
  // format's details included: an ONNX summary has its graph's, a PyTorch one its pickle's).
  const parsed = Summary.safeParse(JSON.parse(json));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    bad(`it does not pass the inspector's schema: ${issue.path.join('.')}: ${issue.message}`);
  }
}

/** Up to three tensors with data: the first, the middle and the last. */
function statsTargets(s: CheckpointSummary): number[] {
  const withData = s.tensors.flatMap((t, i) => (t.data ? [i] : []));
  return [...new Set([withData[0], withData[withData.length >> 1], withData[withData.length - 1]])].filter((i) => i !== undefined);
}

/** An external-data file for ONNX tensors: 4 kB of a pattern. */
const EXTERNAL = bufferSource(Uint8Array.from({ length: 4096 }, (_, i) => (i * 37) & 0xff));

async function runJob(fx: Fixtures, job: Job, budgetMs: number, started: () => void = () => {}): Promise<Outcome> {
  const input = job.bytes ? { bytes: job.bytes, how: 'given bytes' } : makeInput(fx, job.format, job.seed, job.index);
  collect();
  started(); // the clock of the hang detector starts here, not with the input's generation
  const fileName = inputName(job.format, job.index);
  const source = bufferSource(input.bytes);
  const out: Outcome = {
    id: job.id, format: job.format, index: job.index, code: 'crash', ms: 0, statsMs: 0, heapMb: 0,
    size: input.bytes.length, how: input.how, problems: [], suspects: [],
  };
  const t0 = performance.now();
  let summary: CheckpointSummary | undefined;
  try {
    summary = await inspectCheckpoint(source, fileName, { budgetMs });
  } catch (e) {
    out.ms = performance.now() - t0;
    if (e instanceof InspectError) {
      out.code = e.code;
      out.message = e.message;
      out.exit = DOCUMENTED[e.code];
      if (out.exit === undefined) out.problems.push(`undocumented InspectError code ${JSON.stringify(e.code)}`);
      const message: unknown = e.message;
      if (typeof message !== 'string' || !message.includes(fileName)) out.problems.push(`the message does not name the file: ${String(message).slice(0, 300)}`);
      checkText('the message', e.message, out.problems, out.suspects);
      if (!Array.isArray(e.findings)) out.problems.push('its findings are not a list');
      else {
        for (const [i, f] of e.findings.entries()) checkText(`finding ${i}`, f.message, out.problems, out.suspects);
        if (DANGER_FINDINGS_EXPECTED.has(e.code) && !e.findings.some((f) => f.severity === 'danger')) out.suspects.push(`${e.code} without a danger finding`);
      }
    } else {
      const d = describeError(e);
      out.code = 'crash';
      out.message = `${d.name}: ${d.message}`;
      out.stack = d.stack;
      out.problems.push(`crash: ${d.name}: ${d.message.slice(0, 300)}`);
    }
  }
  if (summary) {
    out.ms = performance.now() - t0;
    const danger = Array.isArray(summary.findings) && summary.findings.some((f) => f.severity === 'danger');
    out.code = danger ? 'danger' : 'ok';
    out.exit = danger ? 5 : 0;
    checkSummary(summary, fileName, input.bytes.length, out.problems, out.suspects);
    const s0 = performance.now();
    for (const i of Array.isArray(summary.tensors) ? statsTargets(summary) : []) {
      const t = summary.tensors[i];
      try {
        const st = await tensorStats(t.data?.file !== undefined ? EXTERNAL : source, t);
        if (st.count !== t.numel) out.problems.push(`statistics of tensor ${i} count ${st.count} of its ${t.numel} elements`);
      } catch (e) {
        if (e instanceof InspectError) checkText(`the statistics error of tensor ${i}`, e.message, out.problems, out.suspects);
        else {
          const d = describeError(e);
          out.code = 'crash';
          out.exit = undefined;
          out.message = `statistics of tensor ${i}: ${d.name}: ${d.message}`;
          out.stack = d.stack;
          out.problems.push(`crash in statistics of tensor ${i}: ${d.name}: ${d.message.slice(0, 300)}`);
        }
      }
    }
    out.statsMs = performance.now() - s0;
  }
  const heap = getHeapStatistics();
  out.heapMb = (heap.used_heap_size + heap.external_memory) / 2 ** 20;
  return out;
}

/** Collects garbage when the heap holds more than 64 MB, so that the heap after an input is what that input cost. */
let collect: () => void = () => {};

function workerMain(): void {
  const { repo, budgetMs } = workerData as { repo: string; budgetMs: number };
  const fx = loadFixtures(repo);
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  collect = () => {
    if (getHeapStatistics().used_heap_size > 64 << 20) gc();
  };
  parentPort!.on('message', (job: Job) => {
    runJob(fx, job, budgetMs, () => parentPort!.postMessage({ started: job.id })).then(
      (r) => parentPort!.postMessage(r),
      (e: unknown) => {
        // The generator itself failed: a bug of the harness, reported as such.
        const d = describeError(e);
        parentPort!.postMessage({ ...job, bytes: undefined, code: 'harness', ms: 0, statsMs: 0, heapMb: 0, size: 0, how: '', problems: [`the harness failed: ${d.stack}`], suspects: [] });
      },
    );
  });
  parentPort!.postMessage({ ready: true });
}

// ---- the pool of workers ----------------------------------------------------------------------

interface PoolOptions {
  workers: number;
  budgetMs: number;
  marginMs: number;
  heapMb: number;
}

type Result = Outcome | { id: number; code: 'hang' | 'died' | 'harness'; message: string };

/** Generating one input takes milliseconds; one that takes longer is a bug of the harness. */
const GENERATION_MS = 60_000;

/** One worker thread and the input it is working on; a worker that hangs or dies is replaced. */
class Slot {
  private worker!: Worker;
  private ready!: Promise<void>;
  private pending?: { job: Job; resolve: (r: Result) => void; timer: NodeJS.Timeout };
  private closed = false;

  constructor(private readonly opts: PoolOptions) {
    this.spawn();
  }

  private spawn(): void {
    const w = new Worker(__filename, {
      workerData: { fuzzWorker: true, repo: REPO, budgetMs: this.opts.budgetMs },
      // The CLI runs in the main thread, whose stack is about 1 MB: the same here, so that a
      // recursion that overflows there overflows here.
      resourceLimits: { maxOldGenerationSizeMb: this.opts.heapMb, stackSizeMb: 1 },
    });
    this.worker = w;
    this.ready = new Promise((ok) => {
      w.on('message', (m: Outcome & { ready?: boolean; started?: number }) => {
        if (w !== this.worker) return;
        if (m.ready) ok();
        else if (m.started !== undefined) this.arm(this.opts.budgetMs + this.opts.marginMs, 'hang');
        else this.finish(m);
      });
    });
    w.on('error', (e) => w === this.worker && this.replace(`the worker died: ${describeError(e).stack}`, 'died'));
    w.on('exit', (code) => w === this.worker && !this.closed && this.replace(`the worker exited with code ${code}`, 'died'));
  }

  private finish(r: Result): void {
    const p = this.pending;
    if (!p) return;
    clearTimeout(p.timer);
    this.pending = undefined;
    p.resolve(r);
  }

  /** A fresh worker in place of this one; the input it was working on ends as `code`. */
  private replace(message: string, code: 'hang' | 'died' | 'harness'): void {
    const old = this.worker;
    const p = this.pending;
    if (!this.closed) this.spawn();
    void old.terminate();
    if (p) this.finish({ id: p.job.id, code, message });
  }

  /** Ends the pending input as `code` if no answer comes within `ms`. */
  private arm(ms: number, code: 'hang' | 'harness'): void {
    const p = this.pending;
    if (!p) return;
    clearTimeout(p.timer);
    p.timer = setTimeout(() => this.replace(code === 'hang' ? `no answer within ${ms} ms` : `the input took over ${ms} ms to generate`, code), ms);
  }

  async run(job: Job): Promise<Result> {
    await this.ready;
    return new Promise<Result>((resolvePromise) => {
      this.pending = { job, resolve: resolvePromise, timer: setTimeout(() => {}, 0) };
      this.arm(GENERATION_MS, 'harness');
      this.worker.postMessage(job, job.bytes ? [job.bytes.buffer as ArrayBuffer] : []);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker.terminate();
  }
}

// ---- the run ----------------------------------------------------------------------------------

export interface FuzzOptions {
  /** Inputs per format, at most. */
  perFormat: number;
  /** Wall-clock time for all formats together, shared in order (the time a format leaves goes to the next); 0: no limit. */
  seconds: number;
  seed: number;
  formats: readonly Format[];
  workers: number;
  budgetMs: number;
  /** How long past the budget an input may take before it counts as a hang. */
  marginMs: number;
  /** Fraction of the inputs also run through the real CLI. */
  cliSample: number;
  /** CLI runs per format at most. */
  cliMax: number;
  reproDir: string;
  /** Old-generation heap of a worker (MB): an input needing more is a crash (out of memory). */
  heapMb: number;
  minimize: boolean;
  /** Only this input index (a reproduction). */
  only?: number;
  /** Run the reproducers saved in this folder (<format>-<index>.bin) instead of generated inputs. */
  replay?: string;
  log?: (line: string) => void;
}

export interface Failure {
  format: Format;
  index: number;
  code: string;
  problems: string[];
  how: string;
  repro?: string;
  minimized?: string;
  stack?: string;
}

export interface FormatReport {
  format: Format;
  inputs: number;
  crashes: number;
  hangs: number;
  /** Inputs with an undocumented outcome, a message that does not name the file or quotes JavaScript internals (not crashes or hangs). */
  problems: number;
  /** Summaries that break their own contract (a dtype that is no string, a negative numel, data at a negative offset, ...). */
  invalid: number;
  suspects: number;
  outcomes: Record<string, number>;
  slowest: { ms: number; index: number; how: string };
  /** Largest resident set size of the process while this format ran (all workers together), MB. */
  largestRssMb: number;
  /** Largest memory of a worker after an input (Outcome.heapMb), MB. */
  largestHeap: { mb: number; index: number; how: string };
  cli: { runs: number; failures: number };
  seconds: number;
  /** The first inputs of each kind of failure (up to 5 of each, 200 in all), with their reproducers. */
  failures: Failure[];
  /** Each kind of failure (signature: the first problem, numbers left out, and where it was thrown) and how often it happened. */
  kinds: Record<string, { count: number; first: number }>;
  suspectExamples: string[];
}

export interface FuzzReport {
  seed: number;
  budgetMs: number;
  formats: FormatReport[];
  failed: boolean;
}

export const DEFAULTS: FuzzOptions = {
  perFormat: 10_000,
  seconds: 0,
  seed: 1,
  formats: FORMATS,
  workers: Math.max(1, Math.min(4, cpus().length)),
  budgetMs: 2000,
  marginMs: 5000,
  cliSample: 0.01,
  cliMax: 100,
  reproDir: '/tmp/fuzz-repro',
  heapMb: 2048,
  minimize: true,
};

/** A crash's kind, for deduplication: the error and where it was thrown, numbers left out. */
function signature(o: Outcome | Result): string {
  if (!('problems' in o)) return o.code;
  const out = o;
  const frame = /\((?:[^()]*[\\/])?(src[\\/][^()]+?):\d+:\d+\)/.exec(out.stack ?? '')?.[1] ?? '';
  const first = (out.problems[0] ?? out.code)
    .replace(/fz-[\w-]+\.\w+/g, 'FILE')
    .replace(/ \([^()]*\)'s/g, "'s") // a tensor's name
    .replace(/function \w*\(\) \{ \[native code\] \}/g, 'FUNCTION')
    .replace(/\d+/g, 'N')
    .slice(0, 120);
  return `${first} @ ${frame}`;
}

export async function runFuzz(partial: Partial<FuzzOptions> = {}): Promise<FuzzReport> {
  const opts: FuzzOptions = { ...DEFAULTS, ...partial };
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const pool = Array.from({ length: opts.workers }, () => new Slot(opts));
  let fx: Fixtures | undefined;
  const fixtures = () => (fx ??= loadFixtures(REPO));
  const reports: FormatReport[] = [];
  let nextId = 0;
  let current: FormatReport | undefined;
  const start = Date.now();
  const sampler = setInterval(() => {
    const rss = process.memoryUsage().rss / 2 ** 20;
    if (current && rss > current.largestRssMb) current.largestRssMb = rss;
  }, 25);
  try {
    for (const format of opts.formats) {
      const report: FormatReport = {
        format, inputs: 0, crashes: 0, hangs: 0, problems: 0, invalid: 0, suspects: 0, outcomes: {}, slowest: { ms: 0, index: -1, how: '' },
        largestRssMb: 0, largestHeap: { mb: 0, index: -1, how: '' }, cli: { runs: 0, failures: 0 }, seconds: 0, failures: [], kinds: {}, suspectExamples: [],
      };
      current = report;
      reports.push(report);
      const t0 = Date.now();
      // The time left, shared among the formats left: what a quick format leaves goes to the next.
      const left = opts.formats.length - reports.length + 1;
      const deadline = opts.seconds > 0 ? t0 + Math.max(0, start + opts.seconds * 1000 - t0) / left : Infinity;
      const results = new Map<number, Outcome | Result>();
      const replayed = opts.replay ? savedInputs(opts.replay, format) : undefined;
      const indices =
        replayed ? [...replayed.keys()]
        : opts.only !== undefined ? [opts.only]
        : Array.from({ length: opts.perFormat }, (_, i) => i);
      let next = 0;
      let minimized = 0;
      const record = async (slot: Slot, index: number, r: Result) => {
        results.set(index, r);
        report.inputs++;
        report.outcomes[r.code] = (report.outcomes[r.code] ?? 0) + 1;
        const o = 'problems' in r ? r : undefined;
        if (o) {
          if (o.ms > report.slowest.ms) report.slowest = { ms: o.ms, index, how: o.how.slice(0, 200) };
          if (o.heapMb > report.largestHeap.mb) report.largestHeap = { mb: o.heapMb, index, how: o.how.slice(0, 200) };
          if (o.suspects.length) {
            report.suspects++;
            if (report.suspectExamples.length < 10) report.suspectExamples.push(`#${index}: ${o.suspects[0]}`);
          }
        }
        const failed = r.code === 'hang' || r.code === 'died' || r.code === 'crash' || r.code === 'harness' || (o?.problems.length ?? 0) > 0;
        if (!failed) return;
        if (r.code === 'hang') report.hangs++;
        else if (r.code === 'crash' || r.code === 'died' || r.code === 'harness') report.crashes++;
        else if (o?.problems.every((p) => p.startsWith('summary: '))) report.invalid++;
        else report.problems++;
        const sig = signature(r);
        const seen = report.kinds[sig]?.count ?? 0;
        report.kinds[sig] = { count: seen + 1, first: report.kinds[sig]?.first ?? index };
        const failure: Failure = {
          format, index, code: r.code, problems: o ? o.problems : [(r as { message: string }).message], how: o?.how ?? '', stack: o?.stack,
        };
        if (replayed) {
          failure.repro = join(opts.replay!, `${format}-${index}.bin`);
          report.failures.push(failure);
        } else if (seen < 5 && report.failures.length < 200) {
          failure.repro = saveRepro(opts, fixtures(), format, index, failure);
          report.failures.push(failure);
          if (seen === 0 && opts.minimize && r.code !== 'hang' && r.code !== 'harness' && minimized < 5) {
            minimized++;
            failure.minimized = await minimize(slot, fixtures(), format, index, opts, sig);
          }
        }
        log(`  ${format} #${index}: ${r.code}: ${failure.problems[0]?.slice(0, 200)}`);
      };
      const lanes = pool.map(async (slot) => {
        while (next < indices.length && Date.now() < deadline) {
          const index = indices[next++];
          const r = await slot.run({ id: nextId++, format, index, seed: opts.seed, bytes: replayed?.get(index) });
          await record(slot, index, r);
        }
      });
      await Promise.all(lanes);
      if (!replayed) await cliSample(opts, fixtures(), format, results, report, log);
      report.seconds = (Date.now() - t0) / 1000;
      log(`${format}: ${report.inputs} inputs in ${report.seconds.toFixed(1)} s, ${report.crashes} crashes, ${report.hangs} hangs, ${report.problems} with problems, ${report.invalid} invalid summaries`);
    }
  } finally {
    clearInterval(sampler);
    await Promise.all(pool.map((s) => s.close()));
  }
  const failed = reports.some((r) => r.crashes + r.hangs + r.problems + r.invalid + r.cli.failures > 0);
  return { seed: opts.seed, budgetMs: opts.budgetMs, formats: reports, failed };
}

/** The reproducers of `format` saved in `dir`, by input index. */
function savedInputs(dir: string, format: Format): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const name of readdirSync(dir)) {
    const m = /^(.+)-(\d+)\.bin$/.exec(name);
    if (m && m[1] === format) out.set(Number(m[2]), new Uint8Array(readFileSync(join(dir, name))));
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

function saveRepro(opts: FuzzOptions, fx: Fixtures, format: Format, index: number, failure: Failure): string {
  mkdirSync(opts.reproDir, { recursive: true });
  const base = join(opts.reproDir, `${format}-${index}`);
  let input: { bytes: Uint8Array; how: string };
  try {
    input = makeInput(fx, format, opts.seed, index);
  } catch (e) {
    input = { bytes: new Uint8Array(0), how: `the generator failed: ${describeError(e).stack}` };
  }
  failure.how ||= input.how;
  writeFileSync(`${base}.bin`, input.bytes);
  writeFileSync(`${base}.json`, JSON.stringify({ ...failure, seed: opts.seed, fileName: inputName(format, index), how: input.how, size: input.bytes.length }, null, 2) + '\n');
  return `${base}.bin`;
}

/** Shrinks a crashing input while the same crash (signature) happens: chunks cut, halving their size. */
async function minimize(slot: Slot, fx: Fixtures, format: Format, index: number, opts: FuzzOptions, sig: string): Promise<string | undefined> {
  let best = makeInput(fx, format, opts.seed, index).bytes;
  const deadline = Date.now() + 20_000;
  let tries = 0;
  for (let chunk = Math.max(1, best.length >> 1); chunk >= 1 && Date.now() < deadline && tries < 300; chunk >>= 1) {
    for (let at = 0; at < best.length && Date.now() < deadline && tries < 300; ) {
      const candidate = new Uint8Array(best.length - Math.min(chunk, best.length - at));
      candidate.set(best.subarray(0, at));
      candidate.set(best.subarray(at + chunk), at);
      tries++;
      const r = await slot.run({ id: -1, format, index, seed: opts.seed, bytes: candidate.slice() });
      if (r.code !== 'hang' && signature(r) === sig) best = candidate;
      else at += chunk;
    }
  }
  const path = join(opts.reproDir, `${format}-${index}.min.bin`);
  writeFileSync(path, best);
  return path;
}

// ---- the real CLI on a sample -------------------------------------------------------------------

function runCli(args: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      ok({ status, stdout, stderr, timedOut });
    });
  });
}

async function cliSample(opts: FuzzOptions, fx: Fixtures, format: Format, results: Map<number, Outcome | Result>, report: FormatReport, log: (l: string) => void): Promise<void> {
  if (opts.cliSample <= 0 || opts.cliMax <= 0) return;
  const step = Math.max(1, Math.round(1 / opts.cliSample));
  const chosen = [...results.entries()]
    .filter(([i, r]) => i % step === 0 && 'exit' in r && r.exit !== undefined && r.problems.length === 0)
    .slice(0, opts.cliMax) as Array<[number, Outcome]>;
  if (!chosen.length) return;
  const dir = mkdtempSync(join(tmpdir(), 'pmf-fuzz-cli-'));
  try {
    let k = 0;
    const lanes = Array.from({ length: opts.workers }, async () => {
      while (k < chosen.length) {
        const n = k++;
        const [index, expected] = chosen[n];
        const fileName = inputName(format, index);
        const path = join(dir, fileName);
        writeFileSync(path, makeInput(fx, format, opts.seed, index).bytes);
        const variant = n % 3 === 1 ? ['--json'] : n % 3 === 2 ? ['--stats'] : [];
        const r = await runCli(['inspect', path, ...variant], 60_000);
        rmSync(path, { force: true });
        report.cli.runs++;
        const problems: string[] = [];
        if (r.timedOut) problems.push('the CLI ran past 60 s');
        else if (r.status === null || ![0, 3, 5].includes(r.status)) problems.push(`the CLI exited with ${r.status}`);
        else if (r.status !== expected.exit && expected.code !== 'budget') problems.push(`the CLI exited with ${r.status}, in-process ${expected.code} says ${expected.exit}`);
        if (/^\s+at .+:\d+:\d+\)?$/m.test(r.stderr)) problems.push('the CLI printed a stack trace');
        const m = INTERNALS.exec(r.stderr);
        if (m) problems.push(`the CLI's stderr quotes JavaScript internals ("${m[0]}")`);
        if (r.stdout.includes('[native code]')) problems.push('the CLI printed a JavaScript function ("[native code]")');
        if (r.status === 3 || (r.status === 5 && expected.code !== 'danger')) {
          const line = r.stderr.split('\n').find((l) => l.startsWith('pmf: ')) ?? '';
          if (!line.includes(fileName)) problems.push(`the CLI's error does not name the file: ${line.slice(0, 200) || r.stderr.slice(0, 200)}`);
        } else if (r.status === 0 || r.status === 5) {
          if (!r.stdout.includes(fileName)) problems.push("the CLI's report does not name the file");
          if (variant[0] === '--json') {
            try {
              JSON.parse(r.stdout);
            } catch {
              problems.push('pmf inspect --json printed no JSON');
            }
          }
        }
        if (problems.length) {
          report.cli.failures++;
          const sig = `CLI: ${problems[0].replace(/fz-[\w-]+\.\w+/g, 'FILE').replace(/\d+/g, 'N').slice(0, 120)}`;
          report.kinds[sig] = { count: (report.kinds[sig]?.count ?? 0) + 1, first: report.kinds[sig]?.first ?? index };
          const failure: Failure = { format, index, code: `cli ${variant.join(' ') || 'text'}`, problems: [...problems, `stderr: ${r.stderr.slice(-500)}`], how: expected.how };
          failure.repro = saveRepro(opts, fx, format, index, failure);
          if (report.failures.length < 220) report.failures.push(failure);
          log(`  ${format} #${index}: CLI: ${problems[0]}`);
        }
      }
    });
    await Promise.all(lanes);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the table ----------------------------------------------------------------------------------

export function formatTable(report: FuzzReport): string {
  const codes = [...new Set(report.formats.flatMap((f) => Object.keys(f.outcomes)))].sort();
  const head = ['format', 'inputs', 'crashes', 'hangs', 'problems', 'invalid summaries', 'CLI runs', 'CLI fails', 'slowest ms', 'largest RSS MB', 'largest heap MB', 'suspect'];
  const rows = report.formats.map((f) => [
    f.format, String(f.inputs), String(f.crashes), String(f.hangs), String(f.problems), String(f.invalid), String(f.cli.runs), String(f.cli.failures),
    `${f.slowest.ms.toFixed(0)} (#${f.slowest.index})`, f.largestRssMb.toFixed(0), `${f.largestHeap.mb.toFixed(0)} (#${f.largestHeap.index})`, String(f.suspects),
  ]);
  const table = (h: string[], rs: string[][]) => {
    const w = h.map((c, i) => Math.max(c.length, ...rs.map((r) => r[i].length)));
    const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
    return [line(h), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rs.map(line)].join('\n');
  };
  const outcomes = table(['format', ...codes], report.formats.map((f) => [f.format, ...codes.map((c) => String(f.outcomes[c] ?? 0))]));
  return `${table(head, rows)}\n\nOutcomes by code:\n${outcomes}\n`;
}

// ---- the command line ---------------------------------------------------------------------------

function parseArgs(argv: string[]): Partial<FuzzOptions> & { json?: string } {
  const out: Partial<FuzzOptions> & { json?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    const n = () => {
      const x = Number(v());
      if (!Number.isFinite(x) || x < 0) throw new Error(`${a} needs a number`);
      return x;
    };
    switch (a) {
      case '--per-format': out.perFormat = n(); break;
      case '--seconds': out.seconds = n(); break;
      case '--seed': out.seed = n(); break;
      case '--workers': out.workers = Math.max(1, n()); break;
      case '--budget-ms': out.budgetMs = n(); break;
      case '--margin-ms': out.marginMs = n(); break;
      case '--cli-sample': out.cliSample = n(); break;
      case '--cli-max': out.cliMax = n(); break;
      case '--heap-mb': out.heapMb = n(); break;
      case '--repro-dir': out.reproDir = resolve(v()); break;
      case '--json': out.json = resolve(v()); break;
      case '--only': out.only = n(); break;
      case '--replay': out.replay = resolve(v()); break;
      case '--no-minimize': out.minimize = false; break;
      case '--format': {
        const fs = v().split(',');
        for (const f of fs) if (!(FORMATS as readonly string[]).includes(f)) throw new Error(`unknown format ${f} (one of ${FORMATS.join(', ')})`);
        out.formats = fs as Format[];
        break;
      }
      default: throw new Error(`unknown option ${a}`);
    }
  }
  return out;
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`fuzz: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const { json, ...opts } = args;
  const t0 = Date.now();
  const report = await runFuzz(opts);
  process.stdout.write(`\nseed ${report.seed}, budget ${report.budgetMs} ms, ${((Date.now() - t0) / 1000).toFixed(0)} s\n\n${formatTable(report)}`);
  const kinds = report.formats.flatMap((f) => Object.entries(f.kinds).map(([k, v]) => `- ${f.format}: ${v.count} x ${k} (first #${v.first})`));
  if (kinds.length) process.stdout.write(`\nKinds of failure:\n${kinds.join('\n')}\n`);
  // The first input of each kind, in full.
  const failures = report.formats.flatMap((f) => f.failures.filter((x) => Object.values(f.kinds).some((k) => k.first === x.index)));
  if (failures.length) {
    process.stdout.write('\nThe first input of each kind (all reproducers are in the repro folder, with a .json each):\n');
    for (const f of failures) {
      process.stdout.write(`- ${f.format} #${f.index} (${f.code}): ${f.problems[0]?.slice(0, 300)}\n    input: ${f.how.slice(0, 200)}\n    repro: ${f.repro ?? '-'}${f.minimized ? `, minimised: ${f.minimized}` : ''}\n`);
      if (f.stack) process.stdout.write(`    ${f.stack.split('\n').slice(0, 6).join('\n    ')}\n`);
    }
  }
  process.stdout.write('\nSlowest and heaviest inputs:\n');
  for (const f of report.formats) {
    process.stdout.write(`- ${f.format} #${f.slowest.index} ${f.slowest.ms.toFixed(0)} ms: ${f.slowest.how}\n  ${f.format} #${f.largestHeap.index} ${f.largestHeap.mb.toFixed(0)} MB heap: ${f.largestHeap.how}\n`);
  }
  const suspects = report.formats.flatMap((f) => f.suspectExamples.map((s) => `${f.format} ${s}`));
  if (suspects.length) process.stdout.write(`\nSuspect texts (not failures):\n${suspects.map((s) => `- ${s}`).join('\n')}\n`);
  if (json) writeFileSync(json, JSON.stringify(report, null, 2) + '\n');
  process.exit(report.failed ? 1 : 0);
}

if (!isMainThread && (workerData as { fuzzWorker?: boolean } | undefined)?.fuzzWorker) workerMain();
else if (require.main === module) void main();
