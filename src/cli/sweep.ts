// pmf sweep: FD and class-consistency of a model over guidance settings (node/guidanceSweep.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readReference } from '../node/evalReference';
import { DEFAULT_SPLITS } from '../node/evaluation';
import { describeSweep, runGuidanceSweep, sweepSettings, type SweepResult } from '../node/guidanceSweep';
import { writeFileAtomic } from '../node/outputFiles';
import { engine, EXIT, loadInfo, num, provider, ROOT, solverOption, UsageError } from './common';

export const SWEEP_USAGE = `  pmf sweep MODEL --net NET --ref REF --omega W[,W...] [--interval A-B[,A-B...]]
            [--n N] [--seed S] [--steps K] [--batch-size B] [--state-dir DIR]
            [--out FILE] [--provider P] [--threads T] [--solver euler|heun] [--json]
      FD and class-consistency (pmf eval's, on N samples each, default 2000, the same
      seeds and classes in every setting) for every omega with every interval [A, B]
      (default 0-1), as a table with the lowest FD marked, and the pmf generate and
      pmf eval command lines of that setting. Each setting's state goes to DIR (kept: an
      interrupted sweep resumes there), by default a temporary folder removed afterwards.
      --out writes the results as JSON; --json prints them. A flow-matching model guided by
      two passes sweeps too; --solver is its ODE solver (its default_sampling's when absent).`;

const quote = (s: string) => (/^[\w./:@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** --omega: a comma-separated list of numbers >= 1. */
export function parseOmegas(v: string | undefined): number[] {
  if (v === undefined) throw new UsageError('sweep needs --omega: the guidance scales to try, e.g. --omega 1,1.5,2,3');
  return v.split(',').map((part) => {
    const x = Number(part);
    if (part.trim() === '' || !Number.isFinite(x)) throw new UsageError(`--omega expects numbers separated by commas, got '${part}' in '${v}'`);
    if (x < 1) throw new UsageError(`--omega values must be >= 1 (1 = no guidance), got ${x}`);
    return x;
  });
}

/** --interval: comma-separated A-B with 0 <= A <= B <= 1. */
export function parseIntervals(v: string | undefined): Array<[number, number]> {
  if (v === undefined) return [[0, 1]];
  return v.split(',').map((part) => {
    const m = /^\s*(\d*\.?\d+)\s*-\s*(\d*\.?\d+)\s*$/.exec(part);
    const a = m ? Number(m[1]) : NaN;
    const b = m ? Number(m[2]) : NaN;
    if (!m || !(a >= 0 && a <= b && b <= 1)) {
      throw new UsageError(`--interval expects t_min-t_max pairs with 0 <= t_min <= t_max <= 1 separated by commas (e.g. 0-1,0.2-0.8), got '${part}'`);
    }
    return [a, b] as [number, number];
  });
}

/** A feature network path or the bundled name 'fashion-mnist-classifier' (as pmf eval). */
function netPath(v: string | undefined): string {
  if (!v) throw new UsageError('--net is needed: a feature network .onnx (models/eval/fashion-mnist-classifier.onnx, or one from the trainer)');
  return v === 'fashion-mnist-classifier' ? join(ROOT, 'models', 'eval', 'fashion-mnist-classifier.onnx') : resolve(v);
}

export async function cmdSweep(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, strict: true, allowPositionals: true, options: {
      net: { type: 'string' }, ref: { type: 'string' }, omega: { type: 'string' }, interval: { type: 'string' },
      n: { type: 'string' }, seed: { type: 'string' }, steps: { type: 'string' }, 'batch-size': { type: 'string' },
      'state-dir': { type: 'string' }, out: { type: 'string' }, provider: { type: 'string' }, threads: { type: 'string' }, solver: { type: 'string' },
      json: { type: 'boolean' }, quiet: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('sweep takes one MODEL');
  const omegas = parseOmegas(values.omega);
  const intervals = parseIntervals(values.interval);
  const net = netPath(values.net);
  if (!values.ref) throw new UsageError('sweep needs --ref (reference statistics .npz; make one with pmf eval-ref)');
  const { path, info } = loadInfo(positionals[0]);
  if (!info.hasCfg && info.guidance !== 'two-pass') {
    throw new UsageError(`${positionals[0]} has no guidance inputs (omega, t_min, t_max): there is nothing to sweep`);
  }
  const solver = solverOption(values.solver, info, path);
  const n = num(values.n, 'n', 2000, true);
  if (n < 2) throw new UsageError(`--n must be at least 2, got ${n}`);
  const seed = num(values.seed, 'seed', 0, true);
  const steps = num(values.steps, 'steps', info.defaultSampling.steps, true);
  const log = values.quiet ? () => {} : (s: string) => process.stderr.write(s);
  const ref = await readReference(resolve(values.ref)); // a bad reference fails before any work
  const given = values['state-dir'] !== undefined;
  const stateDir = given ? resolve(values['state-dir']!) : mkdtempSync(join(tmpdir(), 'pmf-sweep-'));
  const settings = sweepSettings(omegas, intervals);
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const client = engine();
  let r: SweepResult;
  try {
    r = await runGuidanceSweep(client, {
      modelPath: path, netPath: net, provider: provider(values.provider),
      threads: values.threads === undefined ? undefined : num(values.threads, 'threads', 0, true),
      n, seed, steps, batchSize: num(values['batch-size'], 'batch-size', 64, true), keep: 0, splits: DEFAULT_SPLITS, settings, stateDir,
      ...(solver ? { solver } : {}),
    }, ref, ac.signal, (p) => log(`\rsetting ${p.setting + 1}/${p.settings}: samples ${p.done}/${p.total}`), (line) => log(`\r${line}\n`));
  } finally {
    process.removeListener('SIGINT', onSigint);
    await client.dispose();
    if (!given) rmSync(stateDir, { recursive: true, force: true });
  }
  if (r.best < 0) throw new Error('no setting gave a finite FD');
  const b = r.rows[r.best];
  const model = quote(positionals[0]);
  // a flow-matching model's solver goes with the steps (the one the protocol sampled with)
  const cfg = `--steps ${steps} --omega ${b.omega} --t-min ${b.tMin} --t-max ${b.tMax}` + (r.solver ? ` --solver ${r.solver}` : '');
  const commands = {
    generate: `pmf generate --model ${model} ${cfg}`,
    eval: `pmf eval ${model} --net ${quote(values.net!)} --ref ${quote(values.ref)} --n ${n} --seed ${seed} ${cfg}`,
  };
  const record = {
    tool: 'pmf sweep', model: { spec: positionals[0], file: path, name: r.model.name }, net: { file: net, name: r.net.name },
    reference: r.reference, n, seed, steps, ...(r.solver ? { solver: r.solver } : {}), provider: r.provider,
    settings: r.rows.map((x, i) => ({ omega: x.omega, tMin: x.tMin, tMax: x.tMax, fd: x.fd, classConsistency: x.classConsistency,
      inceptionScore: x.inceptionScore, best: i === r.best, seconds: x.seconds, scores: x.scores, protocol: x.protocol })),
    best: { index: r.best, omega: b.omega, tMin: b.tMin, tMax: b.tMax, fd: b.fd, classConsistency: b.classConsistency },
    commands, written: new Date().toISOString(),
  };
  const json = JSON.stringify(record, null, 2) + '\n';
  if (values.out) await writeFileAtomic(resolve(values.out), Buffer.from(json), 'pass another --out');
  if (values.json) {
    process.stdout.write(json);
  } else {
    process.stdout.write(describeSweep(r));
    process.stdout.write(`best: omega ${b.omega}, interval [${b.tMin}, ${b.tMax}] (FD ${b.fd.toFixed(4)})\n`);
    process.stdout.write(`generate: ${commands.generate}\n`);
    process.stdout.write(`evaluate: ${commands.eval}\n`);
    if (values.out) process.stdout.write(`wrote ${resolve(values.out)}\n`);
  }
  return EXIT.ok;
}
