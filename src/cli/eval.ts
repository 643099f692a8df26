// pmf eval and pmf eval-ref: FID and friends of a checkpoint (docs/evaluation.md).
import { mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../node/outputFiles';
import { imageFolderSource, levelsSource, makeReference, readFashionMnist, readReference, type ImageSource } from '../node/evalReference';
import {
  DEFAULT_KEEP, DEFAULT_SPLITS, describeScores, EVAL_BLOCK, mergeEvalStates, runEvalShard, scoreEval, type EvalProtocol, type EvalScores,
} from '../node/evaluation';
import { engine, EXIT, loadInfo, noiseScaleOption, num, provider, ROOT, solverOption, UsageError } from './common';

export const EVAL_USAGE = `  pmf eval MODEL --net NET --ref REF [--n N] [--seed S] [--steps K] [--omega W]
           [--t-min A] [--t-max B] [--batch-size B] [--shard k/n] [--state FILE]
           [--out FILE] [--keep M] [--provider P] [--threads T] [--solver euler|heun]
           [--noise-scale S] [--json]
      (--keep M: precision/recall and density/coverage on the first M samples and reference
      images, default 5000; 0 skips them; --solver: a flow-matching model's ODE solver, its
      default_sampling's when absent, kept in the protocol; --noise-scale S: z_1 = S * the
      model's noise scale * e, from 0.5 to 1.5, default 1, kept in the protocol when not 1)
      FD (FID with Inception), class-consistency, Inception Score, precision/recall and
      density/coverage of N generated samples (default 10000; sample i: seed S+i, class
      i mod #classes) in the features of NET (a feature network: models/eval/*.onnx or
      one made by the trainer). REF: reference statistics (.npz with mu, sigma; see
      eval-ref). --shard k/n runs shard k (1-based) of n and writes its state (--state,
      default pmf-eval-shard-k-of-n.npz) without scoring; an interrupted run resumes from
      its state file. Scores and their protocol go to --out (default pmf-eval.json).
  pmf eval --merge STATE... --ref REF [--out FILE] [--json]
      Merges the shards' state files exactly and scores the whole run.
  pmf eval-ref --net NET (--images DIR | --fashion-mnist train|test) --out REF.npz [--keep M]
      Reference statistics of real images in NET's features (mu, sigma, the first M
      images' features for precision/recall), in the format of ADM's and pytorch-fid's.`;

function parseShard(v: string | undefined): { k: number; of: number } {
  if (v === undefined) return { k: 0, of: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  const k = m ? Number(m[1]) : NaN;
  const of = m ? Number(m[2]) : NaN;
  if (!m || of < 1 || k < 1 || k > of) throw new UsageError(`--shard expects k/n with 1 <= k <= n (e.g. 2/4), got '${v}'`);
  return { k: k - 1, of };
}

/** A feature network path or the bundled name 'fashion-mnist-classifier'. */
function netPath(v: string | undefined): string {
  if (!v) throw new UsageError('--net is needed: a feature network .onnx (models/eval/fashion-mnist-classifier.onnx, or one from the trainer)');
  return v === 'fashion-mnist-classifier' ? join(ROOT, 'models', 'eval', 'fashion-mnist-classifier.onnx') : resolve(v);
}

async function writeResults(out: string, protocol: EvalProtocol, scores: EvalScores, ref: string): Promise<void> {
  const record = { protocol, reference: ref, scores, written: new Date().toISOString() };
  await writeFileAtomic(out, Buffer.from(JSON.stringify(record, null, 2) + '\n'), 'pass another --out');
}

function withSigint<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  return fn(ac.signal).finally(() => process.removeListener('SIGINT', onSigint));
}

export async function cmdEval(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, strict: true, allowPositionals: true, options: {
      net: { type: 'string' }, ref: { type: 'string' }, n: { type: 'string' }, seed: { type: 'string' }, steps: { type: 'string' },
      omega: { type: 'string' }, 't-min': { type: 'string' }, 't-max': { type: 'string' }, 'batch-size': { type: 'string' },
      shard: { type: 'string' }, state: { type: 'string' }, out: { type: 'string' }, keep: { type: 'string' },
      provider: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' }, merge: { type: 'boolean' },
      quiet: { type: 'boolean' }, solver: { type: 'string' }, 'noise-scale': { type: 'string' },
    },
  });
  const log = values.quiet ? () => {} : (s: string) => process.stderr.write(s);
  const out = resolve(values.out ?? 'pmf-eval.json');
  const report = async (protocol: EvalProtocol, scores: EvalScores, ref: string) => {
    await writeResults(out, protocol, scores, ref);
    process.stdout.write(values.json ? JSON.stringify({ protocol, reference: ref, scores }, null, 2) + '\n' : describeScores(protocol, scores, ref));
    if (!values.json) process.stdout.write(`wrote ${out}\n`);
  };
  if (values.merge) {
    if (!values.ref) throw new UsageError('eval --merge needs --ref (reference statistics .npz)');
    if (values.solver !== undefined) throw new UsageError('eval --merge takes no --solver: the shards\' protocol holds the one they sampled with');
    if (values['noise-scale'] !== undefined) throw new UsageError('eval --merge takes no --noise-scale: the shards\' protocol holds the one they sampled with');
    if (positionals.length === 0) throw new UsageError('eval --merge needs the shards\' state files');
    const ref = await readReference(resolve(values.ref));
    const state = await mergeEvalStates(positionals.map((p) => resolve(p)));
    await report(state.protocol, await scoreEval(state, ref), ref.path);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('eval takes one MODEL');
  const noiseScale = noiseScaleOption(values['noise-scale']);
  const shard = parseShard(values.shard);
  if (shard.of === 1 && !values.ref) throw new UsageError('eval needs --ref (reference statistics .npz; make one with pmf eval-ref)');
  const { path, info } = loadInfo(positionals[0]);
  const d = info.defaultSampling;
  const n = num(values.n, 'n', 10000, true);
  if (n < 2) throw new UsageError(`--n must be at least 2, got ${n}`);
  const req = {
    modelPath: path, netPath: netPath(values.net), provider: provider(values.provider),
    threads: values.threads === undefined ? undefined : num(values.threads, 'threads', 0, true),
    n, seed: num(values.seed, 'seed', 0, true), steps: num(values.steps, 'steps', d.steps, true), omega: num(values.omega, 'omega', d.omega),
    tMin: num(values['t-min'], 't-min', d.tMin), tMax: num(values['t-max'], 't-max', d.tMax),
    batchSize: num(values['batch-size'], 'batch-size', 64, true), keep: num(values.keep, 'keep', DEFAULT_KEEP, true), splits: DEFAULT_SPLITS, shard,
    solver: solverOption(values.solver, info, path), ...(noiseScale !== undefined ? { noiseScale } : {}),
  };
  // unsharded: the state beside the results, named after them (run.json -> run.state.npz), so two runs in one folder keep apart
  const statePath = resolve(values.state ?? (shard.of > 1 ? `pmf-eval-shard-${shard.k + 1}-of-${shard.of}.npz`
    : join(dirname(out), `${basename(out).replace(/\.json$/i, '')}.state.npz`)));
  const ref = values.ref ? await readReference(resolve(values.ref)) : undefined; // a bad reference fails before any work
  for (const dir of new Set([dirname(statePath), dirname(out)])) mkdirSync(dir, { recursive: true });
  const client = engine();
  try {
    const t0 = performance.now();
    let midLine = false; // the progress line is open: an error goes below it, not after it
    const r = await withSigint((signal) => runEvalShard(client, req, statePath, signal, (p) => {
      log(`\rsamples ${p.done}/${p.total}${p.resumed ? ` (${p.resumed} resumed)` : ''}`);
      midLine = true;
    }, (line) => {
      log(`${midLine ? '\n' : ''}${line}\n`);
      midLine = false;
    }, ref)).catch((e: unknown) => {
      if (midLine) log('\n');
      throw e;
    });
    log('\n');
    const s = r.state;
    const secs = (performance.now() - t0) / 1000;
    // shards are whole blocks: with fewer blocks than shards some hold none (their files still merge)
    const range = s.end > s.start ? `samples ${s.start}..${s.end - 1}`
      : `no samples (${n} samples are ${Math.ceil(n / EVAL_BLOCK)} block(s) of ${EVAL_BLOCK}, shards hold whole blocks)`;
    log(`shard ${shard.k + 1}/${shard.of}: ${range} on ${r.provider} in ${secs.toFixed(1)} s (generation ${(r.generateMs / 1000).toFixed(1)} s, ` +
      `features ${(r.featuresMs / 1000).toFixed(1)} s); state: ${statePath}\n`);
    if (shard.of > 1) {
      const others = values.state === undefined ? `pmf-eval-shard-*-of-${shard.of}.npz` : `the ${shard.of} shards' state files (this one: ${statePath})`;
      process.stdout.write(`shard ${shard.k + 1}/${shard.of} done: ${statePath}\nmerge with: pmf eval --merge ${others} --ref REF\n`);
      return EXIT.ok;
    }
    await report(s.protocol, await scoreEval(s, ref!), ref!.path);
    return EXIT.ok;
  } finally {
    await client.dispose();
  }
}

export async function cmdEvalRef(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true, options: {
      net: { type: 'string' }, images: { type: 'string' }, 'fashion-mnist': { type: 'string' }, out: { type: 'string' },
      keep: { type: 'string' }, provider: { type: 'string' }, threads: { type: 'string' },
    },
  });
  if (!values.out) throw new UsageError('eval-ref needs --out (the .npz to write)');
  if (!values.images === !values['fashion-mnist']) throw new UsageError('eval-ref takes one of --images DIR or --fashion-mnist train|test');
  const net = netPath(values.net);
  let data: { images: ImageSource; source: string };
  if (values['fashion-mnist']) {
    const split = values['fashion-mnist'];
    if (split !== 'train' && split !== 'test') throw new UsageError(`--fashion-mnist takes train or test, got '${split}'`);
    const f = await readFashionMnist(split);
    data = { images: levelsSource(f.levels, f.n, [28, 28]), source: `Fashion-MNIST ${split} (${f.path})` };
  } else {
    const dir = resolve(values.images!);
    const client0 = engine();
    let channels: number;
    try {
      channels = (await client0.loadFeatureNet(net, 'cpu')).info.channels;
    } finally {
      await client0.dispose();
    }
    data = { images: await imageFolderSource(dir, channels === 3 ? 3 : 1), source: `folder ${dir}` };
  }
  const client = engine();
  try {
    const r = await withSigint((signal) => makeReference(client, { netPath: net, provider: provider(values.provider),
      threads: values.threads === undefined ? undefined : num(values.threads, 'threads', 0, true), source: data.source,
      images: data.images, keep: num(values.keep, 'keep', 10000, true), out: resolve(values.out!) }, signal));
    process.stdout.write(`reference statistics of ${data.images.n} images (${data.source}) in ${r.info.net.name}'s ${r.dim}-d features: ${resolve(values.out)}\n`);
    return EXIT.ok;
  } finally {
    await client.dispose();
  }
}
