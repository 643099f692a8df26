// Loading a pMF-B/16-sized model (118M parameters, 473 MB of float32 weights, random values
// under the official names through convert-official) in the engine, three ways in each round:
//   first:  an empty optimised model cache: onnxruntime optimises the model, saves the result
//           (graph + packed weights) into the cache, frees that session and loads the entry;
//   cached: a new engine, the same cache: the entry is loaded;
//   plain:  a new engine without a cache (PMF_CACHE_DIR=off): the model optimised in memory.
// For each: the load's wall time (the engine already started), the engine's RSS after the load and
// after one sample (VmRSS, of it anonymous and file-backed, and the peak VmHWM), and whether the
// three give the same sample. The same for the model with its weights in an external data file.
// Page cache warm (every file was just written or read). Usage (after npm run build && npm run compile):
//   node out/bench/load.js [ROUNDS]        PMF_BENCH_MODEL=x.onnx uses another inline model
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineClient } from '../src/engine/client';
import type { LoadResult } from '../src/engine/protocol';
import { writeExternalDataModel } from '../test/engine/externalData';
import { ENGINE, REPO } from '../test/helpers/paths';

const PYTHON = process.env.PMF_PYTHON ?? '/usr/bin/python3';
const WORK = join(REPO, 'tmp', 'bench-load');
const MB = 2 ** 20;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
}

/** The B/16-sized model (built once into tmp/bench-load) and its external-data twin. */
function models(): { inline: string; external: string } {
  mkdirSync(join(WORK, 'ext'), { recursive: true });
  const inline = process.env.PMF_BENCH_MODEL ?? join(WORK, 'pMF-B-16.onnx');
  if (!existsSync(inline)) {
    const pt = join(WORK, 'pMF-B-16.pt');
    process.stderr.write('building the B/16-sized model (torch_inspect.py make, convert-official) ...\n');
    run(PYTHON, [join(REPO, 'bench', 'torch_inspect.py'), 'make', pt]);
    run(join(REPO, 'scripts', 'pmf-trainer'), ['convert-official', '--ckpt', pt, '--out', inline, '--no-verify']);
    rmSync(pt);
  }
  const external = join(WORK, 'ext', 'pMF-B-16-x.onnx');
  if (!existsSync(external)) writeExternalDataModel(readFileSync(inline), join(WORK, 'ext'), 'pMF-B-16-x.onnx');
  return { inline, external };
}

interface Memory {
  rss: number;
  anon: number;
  file: number;
  hwm: number;
}

function memory(pid: number): Memory {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), hwm: kb('VmHWM') };
}

interface Measure {
  ms: number;
  load: LoadResult;
  afterLoad: Memory;
  afterRun: Memory;
  sample: Float32Array;
}

async function measure(model: string, cacheDir: string): Promise<Measure> {
  const client = new EngineClient({ enginePath: ENGINE, env: { PMF_CACHE_DIR: cacheDir } });
  try {
    await client.hello(); // the engine's own start is not part of the load
    const t0 = performance.now();
    const load = await client.load(model, 'cpu');
    const ms = performance.now() - t0;
    const afterLoad = memory(client.pid!);
    const g = await client.generate({ modelId: load.modelId, seeds: [7], labels: [207], steps: 1, omega: 1, tMin: 0, tMax: 1,
      batchSize: 1 });
    return { ms, load, afterLoad, afterRun: memory(client.pid!), sample: g.samples };
  } finally {
    await client.dispose();
  }
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const { inline, external } = models();
  for (const [label, model] of [['inline', inline], ['external data', external]] as const) {
    const all: Record<'first' | 'cached' | 'plain', Measure[]> = { first: [], cached: [], plain: [] };
    let diff = 0;
    let weights = 0;
    for (let r = 0; r < rounds; r++) {
      const cache = mkdtempSync(join(tmpdir(), 'pmf-bench-load-'));
      try {
        const first = await measure(model, cache);
        const cached = await measure(model, cache);
        const plain = await measure(model, 'off');
        if (first.load.modelCache?.state !== 'written' || cached.load.modelCache?.state !== 'hit') {
          throw new Error(`the cache was not used as expected: ${JSON.stringify([first.load.modelCache, cached.load.modelCache])}`);
        }
        all.first.push(first);
        all.cached.push(cached);
        all.plain.push(plain);
        weights = first.load.weightBytes ?? 0;
        diff = Math.max(diff, maxDiff(first.sample, cached.sample), maxDiff(first.sample, plain.sample));
        process.stderr.write(`${label} round ${r + 1}: first ${(first.ms / 1000).toFixed(2)} s, cached ${(cached.ms / 1000).toFixed(2)} s, ` +
          `plain ${(plain.ms / 1000).toFixed(2)} s\n`);
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    }
    const w = weights / MB;
    const mem = (m: Memory) => `${(m.rss / MB).toFixed(0)} MB (${(m.rss / weights).toFixed(2)}x; anon ${(m.anon / MB).toFixed(0)}, file ${(m.file / MB).toFixed(0)})`;
    console.log(`\n${label}: ${model}, ${w.toFixed(0)} MB of weights, ${rounds} rounds (median time; memory of the median round)`);
    const firstMs = median(all.first.map((m) => m.ms));
    for (const k of ['first', 'cached', 'plain'] as const) {
      const ms = median(all[k].map((m) => m.ms));
      const mid = all[k].find((m) => m.ms === ms)!;
      console.log(`  ${k.padEnd(6)} load ${(ms / 1000).toFixed(2)} s (${all[k].map((m) => (m.ms / 1000).toFixed(2)).join(', ')})` +
        (k === 'first' ? '' : `, first / ${k} ${(firstMs / ms).toFixed(1)}x`) +
        `\n         RSS after load ${mem(mid.afterLoad)}; after one sample ${mem(mid.afterRun)}; peak ${(mid.afterRun.hwm / MB).toFixed(0)} MB ` +
        `(${(mid.afterRun.hwm / weights).toFixed(2)}x)`);
    }
    console.log(`  samples: max |difference| between first, cached and plain ${diff}`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
