// pmf bench: the checkpoint's one-step latency on each execution provider this machine offers
// (src/node/benchmarkHere.ts, which the Inspect Checkpoint panel's "Benchmark here" runs too).
import { parseArgs } from 'node:util';
import type { Provider } from '../engine/protocol';
import { checkBenchPlan, DEFAULT_BATCHES, DEFAULT_RUNS, parseBatchList } from '../core/benchPlan';
import { ALL_PROVIDERS, benchmarkHere, formatBenchTable } from '../node/benchmarkHere';
import { engine, EXIT, loadInfo, num, UsageError } from './common';

export const BENCH_USAGE = `  pmf bench MODEL [--provider P[,P...]] [--batch 1,4] [--runs N] [--json] [--quiet]
      One-step latency on each execution provider this machine offers (default: all of them;
      P: cuda, webgpu, cpu): the model's load time (and whether the optimised model cache was
      hit), then per batch size one warm-up and N timed runs (default ${DEFAULT_RUNS}): median and min
      seconds per batch, images/s, and the engine's RSS. A provider that cannot load or run the
      model is reported with its error. --json prints one JSON object.`;

function parseProviders(v: string | undefined): Provider[] | undefined {
  if (v === undefined) return undefined;
  const list = v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (list.length === 0) throw new UsageError(`--provider expects cuda, webgpu or cpu (comma-separated), got '${v}'`);
  for (const p of list) {
    if (!(ALL_PROVIDERS as readonly string[]).includes(p)) {
      throw new UsageError(`--provider: '${p}' is not a provider; give cuda, webgpu or cpu (comma-separated: cpu,webgpu)`);
    }
  }
  return [...new Set(list)] as Provider[];
}

function parseBatches(v: string | undefined): number[] {
  if (v === undefined) return [...DEFAULT_BATCHES];
  try {
    return parseBatchList(v);
  } catch (e) {
    throw new UsageError(`--batch: ${(e as Error).message}`);
  }
}

export async function cmdBench(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, strict: true, allowPositionals: true, options: {
      provider: { type: 'string' }, batch: { type: 'string' }, runs: { type: 'string' }, json: { type: 'boolean' },
      quiet: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('bench takes one MODEL (a .onnx path or a bundled name; see pmf models)');
  const providers = parseProviders(values.provider);
  const batches = parseBatches(values.batch);
  const runs = num(values.runs, 'runs', DEFAULT_RUNS, true);
  try {
    checkBenchPlan(batches, runs);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  // the contract, from the file's header, before any engine starts: a missing or broken file fails here, naming it
  const { path } = loadInfo(positionals[0]);
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const client = engine();
  const tty = process.stderr.isTTY;
  const log = values.quiet ? () => {} : (s: string) => process.stderr.write(s);
  let last = '';
  let width = 0;
  const clearLine = () => {
    if (!tty || !width) return;
    log(`\r${' '.repeat(width)}`); // a leading carriage return is the only one a write may hold (terminal.ts)
    log('\r');
    width = 0;
  };
  try {
    const result = await benchmarkHere(client, {
      modelPath: path, providers, batches, runs, signal: ac.signal,
      onProgress: (p) => {
        // a terminal gets one line that redraws; a pipe one line per load and per batch size
        if (tty) {
          const line = `${p.message} (${p.done}/${p.total})`;
          log(`\r${line.padEnd(width)}`);
          width = line.length;
        } else if (p.batch === undefined ? p.message !== last : !last.startsWith(`${p.provider}: batch ${p.batch},`)) log(`${p.message}\n`);
        last = p.message;
      },
    });
    clearLine();
    process.stdout.write(values.json ? JSON.stringify(result, null, 2) + '\n' : formatBenchTable(result));
    if (result.rows.some((r) => r.ok)) return EXIT.ok;
    // nothing measured: a provider that cannot run here is exit 4, anything else 1
    return result.rows.every((r) => r.errorCode === 'provider') ? EXIT.provider : EXIT.runtime;
  } finally {
    clearLine();
    process.removeListener('SIGINT', onSigint);
    await client.dispose();
  }
}
