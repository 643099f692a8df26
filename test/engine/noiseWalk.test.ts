// Generating from given noise (GenerateParams.noise) in the real engine on the bundled model:
// the seeds' own noise given explicitly gives their images bit for bit, and a seed walk's end
// images are the seeds' images.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { initialNoise } from '../../src/core/noise';
import { seedWalk } from '../../src/core/noiseWalk';
import { EngineClient, EngineError } from '../../src/engine/client';
import type { LoadResult } from '../../src/engine/protocol';
import { ENGINE, FASHION, requireBuilt } from '../helpers/paths';

let client: EngineClient;
let fashion: LoadResult;
const PER = 784;
const bits = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

before(async () => {
  requireBuilt();
  client = new EngineClient({ enginePath: ENGINE });
  fashion = await client.load(FASHION, 'cpu');
});
after(async () => {
  await client.dispose();
});

test('the seeds\' noise given explicitly generates the seeds\' images bit for bit (1 and 2 steps, several batches)', async () => {
  const seeds = [0, 1, 2, 3, 4, 9];
  const labels = [0, 1, 2, 3, 4, 9];
  const noise = initialNoise(seeds, PER, fashion.info.noiseScale);
  for (const steps of [1, 2]) {
    const p = { modelId: fashion.modelId, seeds, labels, steps, omega: 2, tMin: 0, tMax: 1, batchSize: 4 };
    const fromSeeds = await client.generate(p);
    const fromNoise = await client.generate({ ...p, noise });
    assert.ok(bits(fromNoise.samples).equals(bits(fromSeeds.samples)), `${steps} step(s)`);
  }
  // the seeds only label the samples: other seeds with the same noise give the same images
  const relabelled = await client.generate({ modelId: fashion.modelId, seeds: seeds.map((s) => s + 500), labels, steps: 1, omega: 2,
    tMin: 0, tMax: 1, batchSize: 6, noise });
  const fromSeeds = await client.generate({ modelId: fashion.modelId, seeds, labels, steps: 1, omega: 2, tMin: 0, tMax: 1, batchSize: 6 });
  assert.ok(bits(relabelled.samples).equals(bits(fromSeeds.samples)));
});

test('a seed walk\'s end images are the seeds\' images; its middle is another image', async () => {
  const steps = 5;
  const noise = seedWalk(17, 42, steps, PER, fashion.info.noiseScale);
  const labels = new Array<number>(steps).fill(7); // Sneaker
  const base = { modelId: fashion.modelId, steps: 1, omega: 2, tMin: 0, tMax: 1, batchSize: steps };
  const walk = await client.generate({ ...base, seeds: [17, 17, 17, 17, 42], labels, noise });
  const ends = await client.generate({ ...base, seeds: [17, 42], labels: [7, 7], batchSize: 2 });
  assert.ok(bits(walk.samples.subarray(0, PER)).equals(bits(ends.samples.subarray(0, PER))), 'first image = seed 17\'s');
  assert.ok(bits(walk.samples.subarray(4 * PER)).equals(bits(ends.samples.subarray(PER))), 'last image = seed 42\'s');
  const mid = walk.samples.subarray(2 * PER, 3 * PER);
  let d = 0;
  for (let i = 0; i < PER; i++) d = Math.max(d, Math.abs(mid[i] - ends.samples[i]), 0);
  assert.ok(d > 0.05, 'the middle of the walk is not an endpoint');
  assert.ok(mid.every((x) => Number.isFinite(x)));
});

test('noise of the wrong length or with non-finite values is a bad request', async () => {
  const base = { modelId: fashion.modelId, seeds: [0, 1], labels: [0, 1], steps: 1, omega: 2, tMin: 0, tMax: 1, batchSize: 2 };
  const check = async (noise: Float32Array, message: RegExp) => {
    await assert.rejects(client.generate({ ...base, noise }), (e: unknown) => {
      assert.ok(e instanceof EngineError, String(e));
      assert.equal(e.code, 'bad-request', e.message);
      assert.match(e.message, message);
      return true;
    });
  };
  await check(new Float32Array(PER), /noise has 784 values; 2 sample\(s\) of shape \[1, 28, 28\] need 1568/);
  const nan = initialNoise([0, 1], PER, 1);
  nan[900] = NaN;
  await check(nan, /non-finite value \(NaN\) at index 900/);
});
