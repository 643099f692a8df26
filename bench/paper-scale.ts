// The six official pMF sizes on this machine's CPU, in one run: B/16, B/32, L/16, L/32, H/16, H/32
// (random weights in the official pMF-NAME.pt layout, made by bench/paper_scale.py and cached in
// tmp/bench-paper). For each:
//   convert-official: time, peak RSS, files (fused float32: the default), and the same weights as
//                     a plain export (--plain: standard ONNX ops, what torch.onnx.export writes);
//   quantize:         the int8 variant (time, size, relative L2 against float32);
//   the engine:       first load (empty optimised-model cache) and cached load, RSS after load,
//                     seconds per image at batch 1 and 4 (one-step generation: noise, forward, step)
//                     for float32 fused, float32 plain and int8;
//   PyTorch eager:    the same one-step generation with pmf_trainer's reference model, batch 1 and 4;
//   VS Code (B/16):   Generate Samples and the Field Visualizer in code-server, the first image
//                     after the model is loaded (bench/firstImageInVSCode.ts; skipped where
//                     code-server cannot run).
//   the ceiling:      this CPU's float32 MatMul rate in onnxruntime at the model's own MLP
//                     product at batch 4 ([4 x 276 tokens, d] x [d, MLP width]: most of its FLOPs),
//                     and the model's float32 rate (FLOP per image x img/s) as a share of it.
//                     A single product's rate depends on its shape (measured here: 270 to 380
//                     GFLOP/s), so the share is a guide, not a bound: attention's products differ.
//                     PMF_BENCH_CEILING_ONLY=1 prints only these rates.
// All with 2 threads. Prints a Markdown table (README.md holds the last run's) and writes
// tmp/bench-paper/results.json. Usage (after npm run build && npm run compile; about 40 minutes):
//   node out/bench/paper-scale.js [B/16,L/32,...]      PMF_BENCH_KEEP=1 keeps the ONNX files
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { costPerImage } from '../src/core/costDefaults';
import { EngineClient } from '../src/engine/client';
import { e2eAvailable } from '../test/e2e/harness';
import { galleryFirstImage, visualizerFirstPanel, type GalleryFirstImage, type VisualizerFirstPanel } from './firstImageInVSCode';
import { ENGINE, REPO } from '../test/helpers/paths';

const PYTHON = process.env.PMF_PYTHON ?? '/usr/bin/python3';
const TRAINER = join(REPO, 'scripts', 'pmf-trainer');
const WORK = join(REPO, 'tmp', 'bench-paper');
const SIZES = ['B/16', 'B/32', 'L/16', 'L/32', 'H/16', 'H/32'];
/** Width d and MLP width of each size (trainer/pmf_trainer/config.py: OFFICIAL_SIZES, mlp_hidden). */
const MLP: Record<string, [number, number]> = { B: [768, 2048], L: [1024, 2730], H: [1280, 3416] };
/** Tokens of one image: 256 patches (16 x 16 at 256 px, 32 x 32 at 512 px) and 20 prefix tokens. */
const TOKENS = 276;

/** GFLOP/s of `name`'s MLP product at batch 4. */
const mlpRate = (name: string) => matmulRate(4 * TOKENS, ...MLP[name[0]]);
const THREADS = 2;
const MB = 2 ** 20;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * MB, env: { ...process.env, OPENBLAS_NUM_THREADS: String(THREADS) } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

const lastJson = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;

function fileBytes(onnx: string): number {
  return statSync(onnx).size + (existsSync(`${onnx}.data`) ? statSync(`${onnx}.data`).size : 0);
}

function rssOf(pid: number): number {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(s)?.[1] ?? 0) * 1024;
}

interface EngineFigures {
  /** Floating-point operations of one image (the model's architecture: costPerImage). */
  flopsPerImage: number;
  firstLoadS: number;
  cachedLoadS: number;
  rssAfterLoadMb: number;
  sPerImage: Record<number, number>;
}

/** Loads (empty cache, then cached) and times one-step generation in the engine. */
async function engineFigures(model: string, batches: number[], runs: Record<number, number>): Promise<EngineFigures> {
  const cache = mkdtempSync(join(WORK, 'cache-'));
  try {
    const loadOnce = async () => {
      const client = new EngineClient({ enginePath: ENGINE, env: { PMF_CACHE_DIR: cache } });
      await client.hello();
      const t0 = performance.now();
      const load = await client.load(model, 'cpu', undefined, THREADS);
      return { s: (performance.now() - t0) / 1000, client, modelId: load.modelId, info: load.info };
    };
    const first = await loadOnce();
    await first.client.dispose();
    const cached = await loadOnce();
    const { client, modelId } = cached;
    const flopsPerImage = costPerImage(cached.info).flops;
    try {
      const rssAfterLoadMb = rssOf(client.pid!) / MB;
      const sPerImage: Record<number, number> = {};
      for (const b of batches) {
        const seeds = Array.from({ length: b }, (_, i) => i);
        const req = { modelId, seeds, labels: seeds.map((s) => (s * 37) % 1000), steps: 1, omega: 1, tMin: 0, tMax: 1, batchSize: b };
        await client.generate(req); // warm-up
        const times: number[] = [];
        for (let r = 0; r < runs[b]; r++) {
          const t0 = performance.now();
          await client.generate(req);
          times.push((performance.now() - t0) / 1000 / b);
        }
        sPerImage[b] = median(times);
      }
      return { flopsPerImage, firstLoadS: first.s, cachedLoadS: cached.s, rssAfterLoadMb, sPerImage };
    } finally {
      await client.dispose();
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

/** /proc/cpuinfo's model name with its family and model (which generation: os.cpus() says "AMD EPYC"). */
function cpuName(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (k: string) => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim();
    return `${field('model name') ?? cpus()[0]?.model ?? '?'} (family ${field('cpu family') ?? '?'}, model ${field('model') ?? '?'})`;
  } catch {
    return cpus()[0]?.model ?? '?';
  }
}

/**
 * GFLOP/s of one float32 MatMul in onnxruntime-node with THREADS threads: the ceiling a model's
 * float32 rate is compared with. The benchmark runs onnxruntime itself here (not through the
 * engine) because the engine runs pMF models only; this is the engine's own onnxruntime build.
 */
async function matmulRate(M: number, K: number, N: number): Promise<number> {
  const file = join(WORK, 'matmul.onnx');
  run(PYTHON, [join(REPO, 'bench', 'paper_scale.py'), 'matmul', file, String(M), String(K), String(N)]);
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionProviders: ['cpu'] });
  const a = new ort.Tensor('float32', Float32Array.from({ length: M * K }, (_, i) => Math.sin(i)), [M, K]);
  for (let i = 0; i < 3; i++) await session.run({ a });
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await session.run({ a });
    times.push((performance.now() - t0) / 1000);
  }
  await session.release();
  rmSync(file, { force: true });
  return (2 * M * K * N) / median(times) / 1e9;
}

function eager(pt: string, batch: number, runs: number): number {
  const r = lastJson(run(PYTHON, [join(REPO, 'bench', 'paper_scale.py'), 'eager', pt, String(batch), String(runs), String(THREADS)]));
  return median(r.s_per_batch as number[]) / batch;
}

interface Row {
  name: string;
  params: number;
  convertS: number;
  convertPeakRssMb: number;
  fusedBytes: number;
  external: boolean;
  plainConvertS: number;
  int8S: number;
  int8Bytes: number;
  int8RelL2: number;
  fused: EngineFigures;
  plain: EngineFigures;
  int8: EngineFigures;
  eager: Record<number, number>;
  /** pmf fields (1 step, 1 seed), pmf inspect --json: wall seconds; pmf generate --n 8 --batch-size 4: s/img. */
  fieldsS: number;
  inspectS: number;
  generateSPerImage: number;
  /** GFLOP/s of this size's MLP MatMul alone at batch 4 (matmulRate). */
  mlpMatmulGflops: number;
  /** B/16 only: Generate Samples and the Field Visualizer in VS Code. */
  gallery?: GalleryFirstImage;
  visualizer?: VisualizerFirstPanel;
}

async function measureSize(name: string): Promise<Row> {
  const tag = name.replace('/', '-');
  const pt = join(WORK, `pMF-${tag}.pt`);
  if (!existsSync(pt)) {
    process.stderr.write(`${name}: making the official-layout checkpoint\n`);
    run(PYTHON, [join(REPO, 'bench', 'paper_scale.py'), 'make', name, pt]);
  }
  const fused = join(WORK, `pMF-${tag}.onnx`);
  const plain = join(WORK, 'plain', `pMF-${tag}.onnx`);
  const int8 = join(WORK, `pMF-${tag}-int8.onnx`);
  process.stderr.write(`${name}: convert-official (fused)\n`);
  const conv = lastJson(run(TRAINER, ['convert-official', '--ckpt', pt, '--out', fused]));
  process.stderr.write(`${name}: convert-official --plain\n`);
  const convPlain = lastJson(run(TRAINER, ['convert-official', '--ckpt', pt, '--out', plain, '--plain', '--no-verify']));
  process.stderr.write(`${name}: quantize\n`);
  const q = lastJson(run(TRAINER, ['quantize', '--model', fused, '--out', int8]));
  const big = name.startsWith('H');
  const mlpMatmulGflops = await mlpRate(name);
  process.stderr.write(`${name}: its MLP MatMul alone, batch 4: ${mlpMatmulGflops.toFixed(0)} GFLOP/s\n`);
  const runs = { 1: big ? 2 : 4, 4: big ? 2 : 3 };
  const figures: Record<string, EngineFigures> = {};
  for (const [k, m] of [['fused', fused], ['plain', plain], ['int8', int8]] as const) {
    process.stderr.write(`${name}: engine, ${k}\n`);
    figures[k] = await engineFigures(m, [1, 4], runs);
    process.stderr.write(`  ${JSON.stringify(figures[k])}\n`);
  }
  // what the Field Visualizer and the inspector run, through the CLI: the fields of one 1-step
  // trajectory (its default for these models), and the lazy ONNX inspection
  process.stderr.write(`${name}: pmf fields, pmf inspect, pmf generate\n`);
  const timed = (args: string[]) => {
    const t0 = performance.now();
    run(process.execPath, [join(REPO, 'dist', 'cli.js'), ...args]);
    return (performance.now() - t0) / 1000;
  };
  const fieldsS = timed(['fields', fused, '--steps', '1', '--seeds', '0', '--json', '--quiet']);
  const inspectS = timed(['inspect', fused, '--json']);
  const gen = mkdtempSync(join(WORK, 'gen-'));
  const genOut = run(process.execPath, [join(REPO, 'dist', 'cli.js'), 'generate', '--model', fused, '--n', '8', '--batch-size', '4', '--out', gen]);
  rmSync(gen, { recursive: true, force: true });
  const genS = Number(/ in ([\d.]+) s\n/.exec(genOut)?.[1] ?? NaN) / 8;
  let gallery: GalleryFirstImage | undefined;
  let visualizer: VisualizerFirstPanel | undefined;
  if (name === 'B/16' && e2eAvailable().ok) {
    process.stderr.write(`${name}: Generate Samples in VS Code\n`);
    try {
      gallery = await galleryFirstImage(fused);
      process.stderr.write(`  ${JSON.stringify(gallery)}\n`);
      visualizer = await visualizerFirstPanel(fused);
      process.stderr.write(`  ${JSON.stringify(visualizer)}\n`);
    } catch (e) {
      process.stderr.write(`  failed (the other figures stand): ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
  process.stderr.write(`${name}: PyTorch eager\n`);
  const eagerS = { 1: eager(pt, 1, runs[1]), 4: eager(pt, 4, runs[4]) };
  const row: Row = {
    name, params: conv.params as number, convertS: conv.seconds as number, convertPeakRssMb: conv.peak_rss_mb as number,
    fusedBytes: fileBytes(fused), external: Boolean(conv.external_data), plainConvertS: convPlain.seconds as number,
    int8S: q.seconds as number, int8Bytes: fileBytes(int8),
    int8RelL2: (q.precision as { rel_l2_vs_float32: number }).rel_l2_vs_float32,
    fused: figures.fused, plain: figures.plain, int8: figures.int8, eager: eagerS, fieldsS, inspectS, generateSPerImage: genS, gallery, visualizer, mlpMatmulGflops,
  };
  if (!process.env.PMF_BENCH_KEEP) {
    for (const f of [fused, plain, int8]) for (const g of [f, `${f}.data`]) rmSync(g, { force: true });
  }
  return row;
}

function table(rows: Row[]): string {
  const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
  const ips = (s: number) => (1 / s).toFixed(2);
  const lines = [
    '| model | params | convert (fused fp32): time, peak RSS, files | first / cached load, RSS after load | img/s fp32 fused, batch 1 / 4 (pmf generate) | img/s fp32 plain export, batch 1 / 4 | img/s int8, batch 1 / 4 (size, rel L2 vs fp32) | img/s PyTorch eager, batch 1 / 4 | fused / eager, batch 4 | fp32 fused GFLOP/s, batch 4 (its MLP MatMul alone; share) | pmf fields (1 step), pmf inspect |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.name} | ${(r.params / 1e6).toFixed(0)}M | ${r.convertS.toFixed(0)} s, ${(r.convertPeakRssMb / 1024).toFixed(2)} GB, ` +
      `${gb(r.fusedBytes)}${r.external ? ' (external data)' : ''} | ${r.fused.firstLoadS.toFixed(1)} / ${r.fused.cachedLoadS.toFixed(1)} s, ` +
      `${(r.fused.rssAfterLoadMb / 1024).toFixed(2)} GB | ${ips(r.fused.sPerImage[1])} / **${ips(r.fused.sPerImage[4])}** (${ips(r.generateSPerImage)}) | ` +
      `${ips(r.plain.sPerImage[1])} / ${ips(r.plain.sPerImage[4])} | ${ips(r.int8.sPerImage[1])} / **${ips(r.int8.sPerImage[4])}** ` +
      `(${gb(r.int8Bytes)}, ${r.int8RelL2.toPrecision(2)}) | ${ips(r.eager[1])} / ${ips(r.eager[4])} | ` +
      `${(r.eager[4] / r.fused.sPerImage[4]).toFixed(2)}x | ` +
      `${(r.fused.flopsPerImage / r.fused.sPerImage[4] / 1e9).toFixed(0)} (${r.mlpMatmulGflops.toFixed(0)}; ` +
      `${((100 * r.fused.flopsPerImage) / r.fused.sPerImage[4] / 1e9 / r.mlpMatmulGflops).toFixed(0)} %) | ${r.fieldsS.toFixed(1)} s, ${r.inspectS.toFixed(1)} s |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const sizes = process.argv[2] ? process.argv[2].split(',') : SIZES;
  for (const s of sizes) if (!SIZES.includes(s)) throw new Error(`unknown size ${s}: use ${SIZES.join(', ')}`);
  mkdirSync(join(WORK, 'plain'), { recursive: true });
  if (process.env.PMF_BENCH_CEILING_ONLY) {
    console.log(`float32 MatMul in onnxruntime-node, ${THREADS} threads, ${cpuName()}, each size's MLP product at batch 4:`);
    for (const s of sizes) console.log(`  ${s}: [${4 * TOKENS}, ${MLP[s[0]][0]}] x [${MLP[s[0]].join(', ')}]: ${(await mlpRate(s)).toFixed(0)} GFLOP/s`);
    return;
  }
  const rows: Row[] = [];
  const t0 = performance.now();
  for (const s of sizes) {
    rows.push(await measureSize(s));
    writeFileSync(join(WORK, 'results.json'), JSON.stringify({ cpu: cpuName(), rows }, null, 2));
  }
  console.log(`Official pMF sizes (random weights in the official layout), CPU: ${cpuName()}, ${THREADS} threads, ` +
    `onnxruntime-node; one run, ${((performance.now() - t0) / 60000).toFixed(0)} minutes:\n`);
  console.log(table(rows));
  for (const r of rows.filter((x) => x.gallery)) {
    const g = r.gallery!;
    const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' / ');
    console.log(`\npMF: Generate Samples on ${r.name} in VS Code (code-server, CPU, ${g.samples} samples): the first image ` +
      `${list(g.firstImageS)} s after the model was loaded (the last prompt answered), all ${g.samples} ${list(g.allImagesS)} s; ` +
      'three runs, the first in a fresh VS Code.');
  }
  for (const r of rows.filter((x) => x.visualizer)) {
    const v = r.visualizer!;
    console.log(`pMF: Open Field Visualizer on ${r.name} in VS Code (its defaults): the first panels ` +
      `${v.afterLoadMs.map((x) => (x / 1000).toFixed(2)).join(' / ')} s after the model was loaded, ` +
      `${v.afterPickS.map((x) => x.toFixed(2)).join(' / ')} s after it was picked; three openings, the first in a fresh engine.`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
