// One-step generation throughput of the bundled Fashion-MNIST model: the engine (onnxruntime-node,
// CPU provider, through the engine process) against PyTorch eager on the same weights, measured
// in the same run, each figure the median of REPEATS measurements taken in turn (engine, PyTorch,
// engine, ...: a busy or throttled spell of the machine falls on both). Usage: npm run bench
// (prints a table with the ratio ORT / PyTorch).
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { EngineClient } from '../src/engine/client';
import { fashionMnistPt } from '../test/helpers/bundledPyTorch';
import { ENGINE, REPO } from '../test/helpers/paths';

const MODEL_ONNX = join(REPO, 'models', 'fashion-mnist', 'model.onnx');
const MODEL_PT = fashionMnistPt();
const PYTHON = process.env.PMF_PYTHON ?? '/usr/bin/python3';
const REPEATS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function torchEager(batch: number, threads: number, n: number): number {
  const r = spawnSync(PYTHON, [join(REPO, 'bench', 'torch_eager.py'), '--model', MODEL_PT, '--batch', String(batch),
    '--threads', String(threads), '--n', String(n)], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`PyTorch baseline failed: ${r.stderr}`);
  return (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { images_per_s: number }).images_per_s;
}

async function engineThroughput(client: EngineClient, modelId: string, batch: number, n: number): Promise<number> {
  const seeds = Array.from({ length: n }, (_, i) => i);
  const p = { modelId, seeds, labels: seeds.map((s) => s % 10), steps: 1, omega: 2, tMin: 0, tMax: 1, batchSize: batch };
  await client.generate({ ...p, seeds: seeds.slice(0, batch), labels: p.labels.slice(0, batch) }); // warm-up
  const t0 = performance.now();
  await client.generate(p);
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const all = cpus().length;
  const rows: string[] = [];
  const client = new EngineClient({ enginePath: ENGINE });
  try {
    for (const threads of [...new Set([1, all])]) {
      const load = await client.load(MODEL_ONNX, 'cpu', undefined, threads);
      for (const batch of [1, 16, 64]) {
        const n = batch === 1 ? 64 : 512;
        const ortRuns: number[] = [];
        const torchRuns: number[] = [];
        for (let r = 0; r < REPEATS; r++) {
          ortRuns.push(await engineThroughput(client, load.modelId, batch, n));
          torchRuns.push(torchEager(batch, threads, n));
        }
        const ort = median(ortRuns);
        const torch = median(torchRuns);
        rows.push(`| ${threads} | ${batch} | ${ort.toFixed(0)} | ${torch.toFixed(0)} | ${(ort / torch).toFixed(2)}x |`);
        process.stderr.write(`threads ${threads} batch ${batch}: engine ${ort.toFixed(0)} img/s, PyTorch ${torch.toFixed(0)} img/s\n`);
      }
    }
  } finally {
    await client.dispose();
  }
  process.stdout.write(`One-step generation, Fashion-MNIST pMF (bundled), CPU (${cpus()[0]?.model ?? 'unknown'}):\n\n` +
    '| threads | batch | engine (onnxruntime-node CPU) img/s | PyTorch eager img/s | ratio |\n|---|---|---|---|---|\n' +
    rows.join('\n') + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? String(e.stack) : String(e)}\n`);
  process.exitCode = 1;
});
