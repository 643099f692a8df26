// pmf: the command line over pMF Lab's core and engine (no VS Code needed).
//   pmf generate --model fashion-mnist --class Sneaker,Bag --n 8 --seed 0 --out samples
//   pmf fields MODEL [--steps 16] [--patch 4] [--json]
//   pmf info MODEL [--json]
//   pmf inspect FILE [--json] [--stats]
//   pmf bench MODEL [--provider P[,P...]] [--batch 1,4] [--runs N] [--json]
//   pmf eval MODEL --net NET --ref REF [--n N] [--shard k/n]; pmf eval --merge ...; pmf eval-ref ...
//   pmf sweep MODEL --net NET --ref REF --omega 1,1.5,2,3 [--interval 0-1,0.2-0.8] [--n N] [--json]
//   pmf providers
// Exit codes: 0 ok, 1 runtime failure (among them: the model returned NaN or infinite values,
// or an output cannot be written), 2 usage, 3 invalid checkpoint, 4 provider unavailable,
// 5 inspect found code a Python load would run, 130 cancelled.
// generate writes all its files or none, and never over another run's: when the plain names are
// taken in --out, every file of the run carries the next free -runK (grid-run2.png, ...).
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InspectError } from '../core/checkpoint/inspect';
import { CheckpointError, type PmfModelInfo } from '../core/checkpoint/types';
import { describePrecision } from '../core/checkpoint/precision';
import { parseClasses } from '../core/generationPlan';
import { listHead } from '../core/listHead';
import { EngineError } from '../engine/client';
import { listBundledModels } from '../node/bundled';
import { cliCommand, runGeneration, writeOutputs } from '../node/generation';
import { checkFolderFor } from '../node/outputFiles';
import { BENCH_USAGE, cmdBench } from './bench';
import { engine, EXIT, loadInfo, noiseScaleOption, num, provider, ROOT, solverOption, UsageError } from './common';
import { cmdEval, cmdEvalRef, EVAL_USAGE } from './eval';
import { cmdFields, FIELDS_USAGE } from './fields';
import { cmdInspect, INSPECT_USAGE } from './inspect';
import { cmdSweep, SWEEP_USAGE } from './sweep';
import { installEscapingWriters } from './terminal';

const USAGE = `pmf - pixel MeanFlow (pMF) models from the command line

  pmf generate --model MODEL [--class C[,C...]] [--n N] [--seed S] [--steps K]
               [--omega W] [--t-min A] [--t-max B] [--out DIR] [--provider P]
               [--batch-size B] [--scale X] [--solver euler|heun] [--noise-scale S]
      Generates N samples (sample i: seed S+i, class i mod #classes) and writes one PNG per
      sample (settings embedded as XMP) and grid.png into DIR (default pmf-samples).
      Toy models write samples.npy. Defaults come from the model's metadata. --solver: the
      ODE solver of a flow-matching model (pmf.model_type 'flow-matching'). --noise-scale:
      z_1 = S * (the model's noise scale) * e, S from 0.5 to 1.5 (1, as trained). All files or
      none are written; names an earlier run has taken get -run2, -run3, ... (grid-run2.png).
      NaN or infinite model outputs are an error (exit 1) and write nothing.
${FIELDS_USAGE}
  pmf info MODEL [--json]      the checkpoint's contract, inputs/outputs and metadata
${INSPECT_USAGE}
${BENCH_USAGE}
${EVAL_USAGE}
${SWEEP_USAGE}
  pmf providers                the execution providers this machine offers
  pmf models                   the bundled models

  MODEL is a path to a pMF .onnx file or a bundled model name (see 'pmf models').
  P is auto (default), cuda, webgpu or cpu. C is a class name or index, 'all' or 'none'.`;

async function cmdGenerate(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true, options: {
      model: { type: 'string' }, class: { type: 'string' }, n: { type: 'string' }, seed: { type: 'string' },
      steps: { type: 'string' }, omega: { type: 'string' }, 't-min': { type: 'string' }, 't-max': { type: 'string' },
      out: { type: 'string' }, provider: { type: 'string' }, 'batch-size': { type: 'string' }, scale: { type: 'string' },
      quiet: { type: 'boolean' }, solver: { type: 'string' }, 'noise-scale': { type: 'string' },
    },
  });
  const noiseScale = noiseScaleOption(values['noise-scale']);
  if (!values.model) throw new UsageError('generate needs --model (a .onnx path or a bundled name; see pmf models)');
  const { path, info } = loadInfo(values.model);
  const solver = solverOption(values.solver, info, path);
  const d = info.defaultSampling;
  let classes: number[];
  try {
    classes = parseClasses(values.class, info);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const req = {
    modelPath: path, modelSpec: values.model, provider: provider(values.provider), classes,
    n: num(values.n, 'n', info.numClasses > 0 ? classes.length * 4 : 64, true), seed: num(values.seed, 'seed', 0, true),
    steps: num(values.steps, 'steps', d.steps, true), omega: num(values.omega, 'omega', d.omega),
    tMin: num(values['t-min'], 't-min', d.tMin), tMax: num(values['t-max'], 't-max', d.tMax),
    batchSize: num(values['batch-size'], 'batch-size', 64, true),
    ...(solver ? { solver } : {}), ...(noiseScale !== undefined ? { noiseScale } : {}),
  };
  const scale = num(values.scale, 'scale', info.imageSize && info.imageSize < 64 ? 4 : 1, true);
  const out = resolve(values.out ?? 'pmf-samples');
  const hint = 'pass another --out';
  // before the model runs: an --out that is a file, or a folder where the grid goes, fails now
  await checkFolderFor(out, [info.kind === 'image' ? 'grid.png' : 'samples.npy'], hint);
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const client = engine();
  try {
    const log = values.quiet ? () => {} : (s: string) => process.stderr.write(s);
    const result = await runGeneration(client, req, ac.signal, (done, total) => log(`\rgenerating: step ${done}/${total}`));
    log('\n');
    const quoteArg = (a: string) => (/^[\w./:@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
    const nonFiniteAdvice = `Try --provider cpu, fewer --steps${info.hasCfg ? ' or a smaller --omega' : ''}; if the values stay ` +
      `non-finite, look for NaN or infinite weights with: pmf inspect --stats ${quoteArg(path)}`;
    const written = await writeOutputs(out, req, result, { scale, signal: ac.signal, hint, nonFiniteAdvice });
    const load = result.load;
    const via = load.skipped.length ? ` (passed over: ${load.skipped.map((s) => `${s.provider}: ${s.reason}`).join('; ')})` : '';
    process.stdout.write(`${result.samples.length} samples from ${info.name || basename(path)} on ${load.provider}${via} ` +
      `in ${(result.ms / 1000).toFixed(2)} s\n`);
    if (written.grid) process.stdout.write(`grid: ${written.grid}\n`);
    process.stdout.write(`wrote ${written.files.length} files to ${out}` + (written.run > 1
      ? ` (names with -run${written.run}: an earlier run has the plain names there)\n` : '\n'));
    process.stdout.write(`reproduce: ${cliCommand(req, info, values.out ?? 'pmf-samples')}\n`);
    if (written.blank > 0) process.stderr.write(`warning: ${written.blank} blank sample(s)\n`);
    return EXIT.ok;
  } finally {
    process.removeListener('SIGINT', onSigint);
    await client.dispose();
  }
}

function describe(info: PmfModelInfo, path: string): string {
  const lines = [
    `${info.name || basename(path)}  (${path})`,
    info.description ? `  ${info.description}` : '',
    `  pMF format v${info.formatVersion}, ${info.kind} model, ${info.declaredPrediction}-prediction` +
      (info.modelType === 'flow-matching' ? ', flow matching (a network of z and t; no r)' : ''),
    info.kind === 'image'
      ? `  images ${info.channels}x${info.imageSize}x${info.imageSize}, data range [${info.dataRange.join(', ')}], noise scale ${info.noiseScale}`
      : `  points in D = ${info.dim}, data range [${info.dataRange.join(', ')}], noise scale ${info.noiseScale}`,
    `  classes: ${info.numClasses === 0 ? 'none (unconditional)' : `${info.numClasses}: ${listHead(info.classNames, 12, '; `--json` lists all')}`}`,
    `  CFG inputs: ${info.hasCfg ? 'omega, t_min, t_max' : info.guidance === 'two-pass' ? 'no (CFG by two passes)' : 'no'}; ` +
      `t_eps ${info.tEps}`,
    `  default sampling: ${info.defaultSampling.steps} step(s), omega ${info.defaultSampling.omega}, ` +
      `interval [${info.defaultSampling.tMin}, ${info.defaultSampling.tMax}]` +
      (info.defaultSolver ? `, ${info.defaultSolver} solver` : ''),
    '  inputs:',
    ...info.inputSpecs.map((s) => `    ${s.name.padEnd(6)} ${s.elemType.padEnd(8)} [${s.dims.map((d) => d ?? '?').join(', ')}]`),
    `  output: ${info.outputSpec.name} ${info.outputSpec.elemType} [${info.outputSpec.dims.map((d) => d ?? '?').join(', ')}]`,
  ];
  const arch = info.architecture;
  if (Object.keys(arch).length) lines.push(`  architecture: ${JSON.stringify(arch)}`);
  if (Object.keys(info.training).length) lines.push(`  training: ${JSON.stringify(info.training)}`);
  if (info.precision) lines.push(`  precision: ${describePrecision(info.precision)}`);
  for (const w of info.warnings) lines.push(`  warning: ${w}`);
  return lines.filter((l) => l !== '').join('\n') + '\n';
}

function cmdInfo(args: string[]): number {
  const { values, positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new UsageError('info takes one MODEL');
  const { path, info } = loadInfo(positionals[0]);
  process.stdout.write(values.json ? JSON.stringify({ path, ...info }, null, 2) + '\n' : describe(info, path));
  return EXIT.ok;
}

async function cmdProviders(): Promise<number> {
  const client = engine();
  try {
    const h = await client.hello();
    process.stdout.write(`onnxruntime-node ${h.onnxruntimeVersion} on ${h.platform}, Node ${h.nodeVersion}\n`);
    for (const [p, s] of Object.entries(h.providers.available)) {
      process.stdout.write(`  ${p.padEnd(7)} ${s.usable ? 'usable ' : 'absent '} ${s.reason}\n`);
    }
    process.stdout.write(`auto picks: ${h.providers.autoOrder.join(' > ')}\n`);
    return EXIT.ok;
  } finally {
    await client.dispose();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'generate':
        return await cmdGenerate(rest);
      case 'fields':
        return await cmdFields(rest);
      case 'info':
        return cmdInfo(rest);
      case 'inspect':
        return await cmdInspect(rest, (m) => new UsageError(m));
      case 'bench':
        return await cmdBench(rest);
      case 'eval':
        return await cmdEval(rest);
      case 'eval-ref':
        return await cmdEvalRef(rest);
      case 'sweep':
        return await cmdSweep(rest);
      case 'providers':
        return await cmdProviders();
      case 'models':
        for (const m of listBundledModels(ROOT)) process.stdout.write(`${m.name.padEnd(24)} ${m.path}\n`);
        return EXIT.ok;
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE + '\n');
        return cmd === undefined ? EXIT.usage : EXIT.ok;
      default:
        throw new UsageError(`unknown command '${cmd}'`);
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) {
      process.stderr.write(`pmf: ${msg}\n\n${USAGE}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`pmf: ${msg}\n`);
    if (e instanceof CheckpointError || e instanceof InspectError) return EXIT.checkpoint;
    if (e instanceof EngineError) {
      if (e.code === 'checkpoint') return EXIT.checkpoint;
      if (e.code === 'provider') return EXIT.provider;
      if (e.code === 'cancelled') return EXIT.cancelled;
      if (e.code === 'bad-request') return EXIT.usage;
    }
    if (msg === 'Cancelled') return EXIT.cancelled;
    if (msg.startsWith('No model')) return EXIT.usage;
    return EXIT.runtime;
  }
}

if (require.main === module) {
  installEscapingWriters();
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, (e: unknown) => {
    // main() answers every failure with an exit code; this is a bug in that answer itself
    process.stderr.write(`pmf: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exitCode = EXIT.runtime;
  });
}

