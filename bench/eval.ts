// pmf eval's speed (issue 12), each figure against a baseline measured in the same run:
//   1. Fashion-MNIST, 10,000 samples: generation, features and FD on 2 CPU threads (target < 30 s),
//      through the engine as `pmf eval` runs it; precision/recall and density/coverage timed apart.
//   2. The 2048-dimensional Frechet distance against scipy's sqrtm route (pytorch-fid's
//      calculate_frechet_distance) on the same covariances: ratio scipy time / ours, WebAssembly SIMD
//      kernels on 2 threads (pmf eval: node/parallelFrechet.ts) and on one (the same bits), and the
//      JavaScript kernels on one.
//   3. The feature network (the bundled classifier) in the engine against PyTorch eager running
//      the same network on the same images, 2 threads.
// Usage: node out/bench/eval.js (after npm run build and compile); stop other jobs first.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { featureMoments, frechetDistance, frechetResult, frechetTerms, manifoldMetrics } from '../src/core/eval';
import { gaussian } from '../src/core/noise';
import { EngineClient } from '../src/engine/client';
import { levelsSource, makeReference, readFashionMnist, readReference } from '../src/node/evalReference';
import { runEvalShard, scoreEval } from '../src/node/evaluation';
import { traceSqrtProductParallel } from '../src/node/parallelFrechet';
import { encodeNpy } from '../src/node/npy';
import { ENGINE, REPO } from '../test/helpers/paths';

const PYTHON = process.env.PMF_PYTHON ?? '/usr/bin/python3';
const NET = join(REPO, 'models', 'eval', 'fashion-mnist-classifier.onnx');
const MODEL = join(REPO, 'models', 'fashion-mnist', 'model.onnx');
const tmp = mkdtempSync(join(tmpdir(), 'pmf-bench-eval-'));
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

function python(code: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '2', OMP_NUM_THREADS: '2', ...env } });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').at(-1)!;
}

async function tenThousand(client: EngineClient): Promise<string[]> {
  const ref = join(tmp, 'ref.npz');
  const test = await readFashionMnist('test');
  let t0 = performance.now();
  await makeReference(client, { netPath: NET, provider: 'cpu', threads: 2, source: 'Fashion-MNIST test',
    images: levelsSource(test.levels, test.n, [28, 28]), keep: 10000, out: ref });
  const refMs = performance.now() - t0;
  const reference = await readReference(ref);
  const d = (await client.load(MODEL, 'cpu', undefined, 2)).info.defaultSampling;
  const req = { modelPath: MODEL, netPath: NET, provider: 'cpu' as const, threads: 2, n: 10000, seed: 0, steps: d.steps, omega: d.omega,
    tMin: d.tMin, tMax: d.tMax, batchSize: 64, keep: 5000, splits: 10, shard: { k: 0, of: 1 } };
  await runEvalShard(client, { ...req, n: 256 }, join(tmp, 'warm.npz'), new AbortController().signal); // loads both sessions
  t0 = performance.now();
  const r = await runEvalShard(client, req, join(tmp, 'state.npz'), new AbortController().signal);
  const runMs = performance.now() - t0;
  t0 = performance.now();
  const m = r.state.accumulator.statistics.finish();
  const fd = frechetDistance(m.mean, m.covariance, reference.mu, reference.sigma);
  const fdMs = performance.now() - t0;
  t0 = performance.now();
  const kept = r.state.accumulator.keptFeatures().features;
  manifoldMetrics(reference.features!.subarray(0, kept.length), kept, 128, 3, 5);
  const prMs = performance.now() - t0;
  const scores = await scoreEval(r.state, reference);
  return [
    `| Fashion-MNIST, 10,000 samples: generation + features (engine, 2 threads) + FD | ${s(runMs + fdMs)} | target < 30 s | ` +
      `generation ${s(r.generateMs)}, features ${s(r.featuresMs)}, statistics and state files ${s(runMs - r.generateMs - r.featuresMs)}, FD ${s(fdMs)} |`,
    `| precision/recall + density/coverage, 5,000 vs 5,000 (128-d; pmf eval's default --keep) | ${s(prMs)} | (--keep 0 skips them) | |`,
    `| reference statistics of the 10,000 test images | ${s(refMs)} | | |`,
    `| scores | FD ${fd.distance.toFixed(4)}, class-consistency ${scores.classConsistency!.overall.toFixed(4)} | trainer: 1.9111, 0.9583 | |`,
  ];
}

async function frechet2048(): Promise<string[]> {
  const d = 2048;
  const n = 4096;
  const mk = (seed: number) => {
    const f = gaussian(seed, n * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) f[i * d + j] = f[i * d + j] * (0.3 + (j % 7) * 0.2) + (j % 3 === 0 ? f[i * d] * 0.5 : 0);
    return featureMoments(f, d);
  };
  const a = mk(1);
  const b = mk(2);
  for (const [name, m] of [['a', a], ['b', b]] as const) {
    writeFileSync(join(tmp, `mu_${name}.npy`), encodeNpy(Float32Array.from(m.mean), [d]));
    writeFileSync(join(tmp, `sigma_${name}.npy`), encodeNpy(Float32Array.from(m.covariance), [d, d]));
  }
  // ours on the same float32-rounded covariances scipy reads
  const r32 = (x: Float64Array) => Float64Array.from(Float32Array.from(x));
  const args = [r32(a.mean), r32(a.covariance), r32(b.mean), r32(b.covariance)] as const;
  const time = async (fn: () => number | Promise<number>) => {
    await fn(); // warm-up
    let best = Infinity;
    let value = 0;
    for (let k = 0; k < 3; k++) {
      const t0 = performance.now();
      value = await fn();
      best = Math.min(best, performance.now() - t0);
    }
    return { ms: best, value };
  };
  const js = await time(() => frechetDistance(...args).distance);
  const trace = (threads: number) => async () => {
    const r = await traceSqrtProductParallel(args[1], args[3], d, threads);
    if (r.kernels !== 'webassembly-simd') throw new Error(`the ${r.kernels} kernels ran: build dist/frechetKernels.wasm (npm run build)`);
    return frechetResult(frechetTerms(...args), r).distance;
  };
  const one = await time(trace(1));
  const threads = 2;
  const par = await time(trace(threads));
  if (par.value !== one.value) throw new Error(`the threaded Frechet distance ${par.value} is not one thread's ${one.value}`);
  const out = JSON.parse(python(`
import json, time, numpy as np, scipy.linalg
d = '${tmp}'
mu1, s1, mu2, s2 = (np.load(f'{d}/{n}.npy').astype(np.float64) for n in ('mu_a', 'sigma_a', 'mu_b', 'sigma_b'))
best = 1e9
for _ in range(2):
    t0 = time.perf_counter()
    covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
    fd = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"fd": fd, "s": best}))
`)) as { fd: number; s: number };
  const scipyMs = out.s * 1000;
  return [
    `| Frechet distance, d = 2048, WebAssembly SIMD, ${threads} threads (pmf eval) | ours ${s(par.ms)} (FD ${par.value.toFixed(6)}) | ` +
      `scipy sqrtm route ${s(scipyMs)} (FD ${out.fd.toFixed(6)}) | **${(scipyMs / par.ms).toFixed(2)}x** scipy's speed |`,
    `| Frechet distance, d = 2048, WebAssembly SIMD, 1 thread | ours ${s(one.ms)} (the same bits) | | ${(scipyMs / one.ms).toFixed(2)}x scipy's speed; ` +
      `threads ${(one.ms / par.ms).toFixed(2)}x |`,
    `| Frechet distance, d = 2048, JavaScript kernels, 1 thread | ours ${s(js.ms)} (FD ${js.value.toFixed(6)}) | | ` +
      `${(scipyMs / js.ms).toFixed(2)}x scipy's speed; WebAssembly ${(js.ms / one.ms).toFixed(2)}x |`,
  ];
}

async function featureNet(client: EngineClient): Promise<string[]> {
  const test = await readFashionMnist('test');
  const net = await client.loadFeatureNet(NET, 'cpu', undefined, 2);
  const n = 10000;
  await client.netFeatures({ netId: net.netId, images: test.levels.subarray(0, 512 * 784), dims: [512, 1, 28, 28], batchSize: 256 });
  const runs: number[] = [];
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    await client.netFeatures({ netId: net.netId, images: test.levels, dims: [n, 1, 28, 28], batchSize: 256 });
    runs.push(performance.now() - t0);
  }
  const ours = n / (Math.min(...runs) / 1000);
  const torch = JSON.parse(python(`
import json, sys, time, torch
sys.path.insert(0, '${join(REPO, 'trainer')}')
from pmf_trainer.evaluate import load_classifier
from pmf_trainer.data import load_fashion_mnist
torch.set_num_threads(2)
net = load_classifier('${join(REPO, 'models', 'eval', 'fashion-mnist-classifier.pt')}')
x = load_fashion_mnist('test').x
with torch.no_grad():
    net.features(x[:512])
    best = 1e9
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(0, x.shape[0], 256):
            net.head(net.features(x[i:i + 256]))
        best = min(best, time.perf_counter() - t0)
print(json.dumps({"ips": x.shape[0] / best}))
`, { OPENBLAS_NUM_THREADS: '1' })) as { ips: number };
  return [`| feature network (bundled classifier), batch 256, 2 threads | engine ${ours.toFixed(0)} img/s (features + logits) | ` +
    `PyTorch eager ${torch.ips.toFixed(0)} img/s (features + logits) | **${(ours / torch.ips).toFixed(2)}x** |`];
}

async function main(): Promise<void> {
  const client = new EngineClient({ enginePath: ENGINE });
  const rows: string[] = [];
  try {
    rows.push(...await tenThousand(client));
    rows.push(...await featureNet(client));
  } finally {
    await client.dispose();
  }
  rows.push(...await frechet2048());
  rmSync(tmp, { recursive: true, force: true });
  process.stdout.write('pmf eval benchmark (2 CPU threads):\n\n| what | measured | baseline / target | ratio or split |\n|---|---|---|---|\n' + rows.join('\n') + '\n');
}

void main();
