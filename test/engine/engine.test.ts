// The engine process with the real onnxruntime-node and the real bundled models.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildFeeds } from '../../src/core/sampler';
import { initialNoise } from '../../src/core/noise';
import { uFromRaw } from '../../src/core/fields';
import { EngineClient, EngineError, type EngineExit } from '../../src/engine/client';
import type { LoadResult } from '../../src/engine/protocol';
import { imageSpec, makeModel } from '../core/onnxFixtures';
import { ENGINE, FASHION, hasLavapipe, requireBuilt, TOY } from '../helpers/paths';

const tmp = mkdtempSync(join(tmpdir(), 'pmf-engine-'));
const crashes: EngineExit[] = [];
let client: EngineClient;
let fashion: LoadResult;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof EngineError, `expected an EngineError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

before(async () => {
  requireBuilt();
  client = new EngineClient({ enginePath: ENGINE, env: { PMF_ENGINE_TEST: '1' }, onCrash: (e) => crashes.push(e) });
  fashion = await client.load(FASHION, 'cpu');
});
after(async () => {
  await client.dispose();
});

describe('engine', () => {
  test('hello reports the runtime and a provider policy ending in cpu', async () => {
    const h = await client.hello();
    assert.match(h.onnxruntimeVersion, /^1\.\d+/);
    assert.equal(h.providers.available.cpu.usable, true);
    assert.equal(h.providers.autoOrder.at(-1), 'cpu');
    assert.ok(h.pid > 0 && h.pid !== process.pid, 'the engine runs in its own process');
  });

  test('load validates the contract and caches sessions', async () => {
    assert.equal(fashion.provider, 'cpu');
    assert.equal(fashion.info.numClasses, 10);
    assert.deepEqual(fashion.info.inputs, ['z', 'h', 'y', 'omega', 't_min', 't_max']);
    const again = await client.load(FASHION, 'cpu');
    assert.equal(again.modelId, fashion.modelId);
    assert.equal(again.cached, true);
  });

  test('auto never picks a software GPU: without a GPU device it runs on cpu and says why', async () => {
    const h = await client.hello();
    const r = await client.load(TOY('x', 2), 'auto');
    assert.equal(r.provider, h.providers.autoOrder[0]);
    if (!h.providers.autoOrder.includes('webgpu')) {
      assert.ok(r.skipped.some((s) => s.provider === 'webgpu'), 'the reason webgpu was passed over is reported');
    }
  });

  test('generation is reproducible and independent of batching', async () => {
    const seeds = [0, 1, 2, 3, 4, 5, 6];
    const labels = [0, 1, 2, 3, 4, 5, 10];
    const p = { modelId: fashion.modelId, seeds, labels, steps: 2, omega: 2, tMin: 0, tMax: 1 };
    const a = await client.generate({ ...p, batchSize: 7 });
    const b = await client.generate({ ...p, batchSize: 2 });
    const c = await client.generate({ ...p, batchSize: 7 });
    assert.deepEqual(a.sampleShape, [1, 28, 28]);
    assert.equal(a.samples.length, 7 * 784);
    assert.ok(a.samples instanceof Float32Array, 'samples cross the process boundary as binary');
    assert.deepEqual(a.samples, c.samples);
    assert.ok(maxAbsDiff(a.samples, b.samples) < 1e-5);
    const other = await client.generate({ ...p, seeds: seeds.map((s) => s + 100), batchSize: 7 });
    assert.ok(maxAbsDiff(a.samples, other.samples) > 0.1, 'other seeds give other images');
  });

  test('one-step generation equals running the network directly on the seeded noise', async () => {
    const info = fashion.info;
    const seeds = [11, 12];
    const z1 = initialNoise(seeds, 784, info.noiseScale);
    const feeds = buildFeeds(info, z1, 2, [1, 1], [0, 0], { labels: [7, 8], omega: 1.5, tMin: 0, tMax: 1 });
    const raw = await client.run({ modelId: fashion.modelId, feeds });
    assert.deepEqual(raw.dims, [2, 1, 28, 28]);
    const expected = z1.map((z, j) => z - uFromRaw(raw.output, z1, [1, 1], 'x')[j]);
    const g = await client.generate({ modelId: fashion.modelId, seeds, labels: [7, 8], steps: 1, omega: 1.5, tMin: 0,
      tMax: 1, batchSize: 2 });
    assert.ok(maxAbsDiff(g.samples, expected) < 1e-6);
    assert.ok(maxAbsDiff(g.samples, raw.output) < 1e-5, 'one step of an x-prediction model is its x output');
  });

  test('progress is reported per step and batch', async () => {
    const seen: Array<[number, number]> = [];
    await client.generate({ modelId: fashion.modelId, seeds: [1, 2, 3], labels: [0, 0, 0], steps: 3, omega: 1, tMin: 0,
      tMax: 1, batchSize: 2 }, undefined, (d, t) => seen.push([d, t]));
    assert.deepEqual(seen, [[1, 6], [2, 6], [3, 6], [4, 6], [5, 6], [6, 6]]);
  });

  test('bad requests and bad files get clear, coded errors', async () => {
    const base = { modelId: fashion.modelId, seeds: [0], labels: [0], steps: 1, omega: 1, tMin: 0, tMax: 1, batchSize: 1 };
    await rejectsWith(client.generate({ ...base, labels: [11] }), 'bad-request', /class 11 is out of range/);
    await rejectsWith(client.generate({ ...base, omega: 0.5 }), 'bad-request', /omega must be >= 1/);
    await rejectsWith(client.generate({ ...base, seeds: [-1] }), 'bad-request', /Seed -1/);
    await rejectsWith(client.generate({ ...base, modelId: 'nope' }), 'unknown-model', /not loaded/);
    await rejectsWith(client.load(join(tmp, 'missing.onnx'), 'cpu'), 'not-found', /Cannot read/);
    const png = join(tmp, 'picture.onnx');
    writeFileSync(png, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
    await rejectsWith(client.load(png, 'cpu'), 'checkpoint', /is not an ONNX model/);
    const foreign = join(tmp, 'foreign.onnx');
    writeFileSync(foreign, makeModel({ ...imageSpec(), metadata: {} }));
    await rejectsWith(client.load(foreign, 'cpu'), 'checkpoint', /not a pMF checkpoint/);
    await rejectsWith(client.load(FASHION, 'cuda'), 'provider', /cuda execution provider cannot run here/i);
  });

  test('a model whose output does not match z is caught at run time, not drawn', async () => {
    // Contract-valid signature, but the graph returns h ([N]) as x (the fixture's Identity node
    // echoes the first declared input).
    const spec = imageSpec();
    const h = spec.inputs.find((i) => i.name === 'h')!;
    const bad = join(tmp, 'wrong-shape.onnx');
    const bytes = makeModel({ ...spec, inputs: [h, ...spec.inputs.filter((i) => i !== h)] });
    writeFileSync(bad, bytes);
    const r = await client.load(bad, 'cpu').catch((e: unknown) => {
      if (e instanceof EngineError) return e;
      throw e;
    });
    if (r instanceof EngineError) {
      assert.equal(r.code, 'checkpoint'); // the reader may already refuse it
      return;
    }
    await rejectsWith(client.generate({ modelId: r.modelId, seeds: [0], labels: [0], steps: 1, omega: 1, tMin: 0, tMax: 1,
      batchSize: 1 }), 'runtime', /returned \d+ values for 784 inputs|failed/);
  });

  test('cancellation stops a long generation and the engine stays usable', async () => {
    const ac = new AbortController();
    const seeds = Array.from({ length: 64 }, (_, i) => i);
    const p = client.generate({ modelId: fashion.modelId, seeds, labels: seeds.map((s) => s % 10), steps: 200, omega: 1,
      tMin: 0, tMax: 1, batchSize: 64 }, ac.signal, (done) => {
      if (done === 2) ac.abort();
    });
    await rejectsWith(p, 'cancelled', /Cancelled/);
    const h = await client.hello();
    assert.ok(h.pid > 0);
  });

  test('a native crash takes down the engine only; the client restarts it and reports it', async () => {
    const pid = client.pid;
    await rejectsWith(client.crashForTest(), 'crashed', /engine stopped/);
    assert.equal(crashes.length, 1);
    assert.equal(crashes[0].signal, 'SIGABRT');
    await rejectsWith(client.generate({ modelId: fashion.modelId, seeds: [0], labels: [0], steps: 1, omega: 1, tMin: 0,
      tMax: 1, batchSize: 1 }), 'unknown-model', /load it again/);
    const reloaded = await client.load(FASHION, 'cpu');
    assert.notEqual(client.pid, pid);
    const g = await client.generate({ modelId: reloaded.modelId, seeds: [0], labels: [0], steps: 1, omega: 1, tMin: 0,
      tMax: 1, batchSize: 1 });
    assert.equal(g.samples.length, 784);
  });
});

describe('WebGPU provider', { skip: hasLavapipe() ? false : 'no Vulkan driver (scripts/setup-system.sh installs Mesa lavapipe)' }, () => {
  test('gives the same images as the CPU provider within float tolerance', async () => {
    const gpu = new EngineClient({ enginePath: ENGINE, env: { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmp } });
    try {
      const w = await gpu.load(FASHION, 'webgpu');
      assert.equal(w.provider, 'webgpu');
      const seeds = [3, 4, 5, 6];
      const p = { seeds, labels: [0, 5, 7, 10], steps: 2, omega: 2, tMin: 0, tMax: 1, batchSize: 4 };
      const onGpu = await gpu.generate({ ...p, modelId: w.modelId });
      const cpu = await client.load(FASHION, 'cpu');
      const onCpu = await client.generate({ ...p, modelId: cpu.modelId });
      const d = maxAbsDiff(onGpu.samples, onCpu.samples);
      assert.ok(d < 2e-3, `max |webgpu - cpu| = ${d}`);
      const toyGpu = await gpu.load(TOY('u', 512), 'webgpu');
      const toyCpu = await client.load(TOY('u', 512), 'cpu');
      const t = { seeds: [1, 2], steps: 1, omega: 1, tMin: 0, tMax: 1, batchSize: 2 };
      const a = await gpu.generate({ ...t, modelId: toyGpu.modelId });
      const b = await client.generate({ ...t, modelId: toyCpu.modelId });
      assert.ok(maxAbsDiff(a.samples, b.samples) < 1e-3);
    } finally {
      await gpu.dispose();
    }
  });
});

describe('session cache', () => {
  test('keeps at most four sessions, releasing the least recently used; a released model says so', async () => {
    const c = new EngineClient({ enginePath: ENGINE });
    try {
      const ids: string[] = [];
      for (const [p, d] of [['x', 2], ['x', 16], ['u', 2], ['u', 16]] as const) ids.push((await c.load(TOY(p, d), 'cpu')).modelId);
      await c.generate({ modelId: ids[0], seeds: [1], steps: 1, omega: 1, tMin: 0, tMax: 1, batchSize: 1 }); // ids[0] now recent
      await c.load(TOY('x', 512), 'cpu'); // releases ids[1], the least recently used
      await rejectsWith(c.generate({ modelId: ids[1], seeds: [1], steps: 1, omega: 1, tMin: 0, tMax: 1, batchSize: 1 }),
        'unknown-model', /released it to load others/);
      const again = await c.generate({ modelId: ids[0], seeds: [1], steps: 1, omega: 1, tMin: 0, tMax: 1, batchSize: 1 });
      assert.equal(again.samples.length, 2);
    } finally {
      await c.dispose();
    }
  });
});
