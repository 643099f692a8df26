// The Explore Guidance panel's images (src/extension/guidance/guidanceImages.ts) in the real
// engine on the bundled model: grid cells of several guidance settings come back in the order
// asked, each the image of its seed, class and guidance alone (8-bit, as a saved PNG's pixels);
// the noise scale multiplies z_1; a seed walk's ends are the seeds' images and its middle is
// neither; a class switch is one noise in every class.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { toUint8HWC } from '../../src/core/image';
import { initialNoise } from '../../src/core/noise';
import { EngineClient } from '../../src/engine/client';
import type { LoadResult } from '../../src/engine/protocol';
import { groupByGuidance, makeCells, makeStrip } from '../../src/extension/guidance/guidanceImages';
import type { Cell } from '../../src/shared/protocol/guidance';
import { ENGINE, FASHION, requireBuilt } from '../helpers/paths';

let client: EngineClient;
let fashion: LoadResult;
const PER = 784;

before(async () => {
  requireBuilt();
  client = new EngineClient({ enginePath: ENGINE });
  fashion = await client.load(FASHION, 'cpu');
});
after(async () => {
  await client.dispose();
});

/** The 8-bit image of one cell generated on its own, straight from the engine. */
async function alone(c: Cell, noise?: Float32Array): Promise<Buffer> {
  const r = await client.generate({ modelId: fashion.modelId, seeds: [c.seed], labels: [c.label ?? 10], steps: 1, omega: c.omega,
    tMin: c.tMin, tMax: c.tMax, batchSize: 1, noise });
  return Buffer.from(toUint8HWC(r.samples, 1, 28, 28, fashion.info.dataRange));
}

const image = (pixels: Uint8Array, k: number) => Buffer.from(pixels.subarray(k * PER, (k + 1) * PER));

test('cells group by guidance (one engine request each, for a two-pass model)', () => {
  const c = (omega: number, tMin = 0, tMax = 1): Cell => ({ omega, tMin, tMax, seed: 0, label: 0 });
  const g = groupByGuidance([c(1), c(2), c(1), c(2, 0.2), c(1)]);
  assert.deepEqual(g.map((x) => [x.omega, x.tMin, x.at]), [[1, 0, [0, 2, 4]], [2, 0, [1]], [2, 0.2, [3]]]);
});

test('cells of mixed guidance come back in the order asked, each the image of its own settings', async () => {
  const cells: Cell[] = [
    { omega: 1, tMin: 0, tMax: 1, seed: 3, label: 7 },
    { omega: 4, tMin: 0, tMax: 1, seed: 3, label: 7 },
    { omega: 1, tMin: 0, tMax: 1, seed: 11, label: 2 },
    { omega: 4, tMin: 0.5, tMax: 1, seed: 3, label: 7 },
    { omega: 2, tMin: 0, tMax: 1, seed: 5 }, // no label: unconditional (the null class)
  ];
  const r = await makeCells(client, fashion, { cells, steps: 1, noiseScale: 1 });
  assert.deepEqual([r.n, r.width, r.height, r.channels], [5, 28, 28, 1]);
  assert.equal(r.pixels.length, 5 * PER);
  for (const [k, c] of cells.entries()) assert.ok(image(r.pixels, k).equals(await alone(c)), `cell ${k}`);
  // guidance matters: omega 1 and 4, and the interval, give other images of the same noise and class
  assert.ok(!image(r.pixels, 0).equals(image(r.pixels, 1)));
  assert.ok(!image(r.pixels, 1).equals(image(r.pixels, 3)));
});

test('a model with CFG inputs gets all cells of mixed guidance as one engine request, per-sample guidance', async () => {
  const calls: Array<Parameters<EngineClient['generate']>[0]> = [];
  const counting = { generate: (p: Parameters<EngineClient['generate']>[0], s?: AbortSignal) => { calls.push(p); return client.generate(p, s); } };
  const cells: Cell[] = [1, 1.5, 2, 3, 4].flatMap((omega) => [0, 1].map((seed) => ({ omega, tMin: 0, tMax: 0.3 + 0.1 * seed, seed, label: 3 })));
  const r = await makeCells(counting as unknown as EngineClient, fashion, { cells, steps: 1, noiseScale: 1 });
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0].guidance?.omega, cells.map((c) => c.omega));
  assert.deepEqual(calls[0].guidance?.tMax, cells.map((c) => c.tMax));
  for (const k of [0, 3, 9]) assert.ok(image(r.pixels, k).equals(await alone(cells[k])), `cell ${k}`);
});

test('per-sample guidance is checked: one value per sample, each setting valid', async () => {
  const base = { modelId: fashion.modelId, seeds: [0, 1], labels: [1, 2], steps: 1, omega: 2, tMin: 0, tMax: 1, batchSize: 2 };
  await assert.rejects(client.generate({ ...base, guidance: { omega: [2], tMin: [0, 0], tMax: [1, 1] } }), /1 omega values for 2 samples/);
  await assert.rejects(client.generate({ ...base, guidance: { omega: [2, 0.5], tMin: [0, 0], tMax: [1, 1] } }), /omega must be >= 1/);
  await assert.rejects(client.generate({ ...base, guidance: { omega: [2, 2], tMin: [0, 0.8], tMax: [1, 0.5] } }), /0 <= t_min <= t_max <= 1/);
});

test('the noise scale multiplies z_1 (1 is the model\'s own noise)', async () => {
  const c: Cell = { omega: 2, tMin: 0, tMax: 1, seed: 4, label: 1 };
  const scaled = await makeCells(client, fashion, { cells: [c], steps: 1, noiseScale: 0.7 });
  const z = initialNoise([4], PER, fashion.info.noiseScale * 0.7);
  assert.ok(image(scaled.pixels, 0).equals(await alone(c, z)));
  assert.ok(!image(scaled.pixels, 0).equals(await alone(c)));
});

test('a seed walk ends at the seeds\' images; a class switch is one noise in each class', async () => {
  const cell: Cell = { omega: 2, tMin: 0, tMax: 1, seed: 0, label: 5 };
  const walk = await makeStrip(client, fashion, { kind: 'walk', cell, seedB: 8, count: 6, labels: [], steps: 1, noiseScale: 1 });
  assert.equal(walk.n, 6);
  assert.ok(image(walk.pixels, 0).equals(await alone(cell)), 'the walk starts at seed A');
  assert.ok(image(walk.pixels, 5).equals(await alone({ ...cell, seed: 8 })), 'and ends at seed B');
  for (const k of [2, 3]) {
    assert.ok(!image(walk.pixels, k).equals(image(walk.pixels, 0)) && !image(walk.pixels, k).equals(image(walk.pixels, 5)));
  }
  const classes = await makeStrip(client, fashion, { kind: 'classes', cell, seedB: 0, count: 2, labels: [0, 9, 10], steps: 1, noiseScale: 1 });
  assert.equal(classes.n, 3);
  for (const [k, label] of [0, 9, 10].entries()) assert.ok(image(classes.pixels, k).equals(await alone({ ...cell, label })), `class ${label}`);
});

/** The bytes of a Float32Array (a view, maybe, of a larger buffer). */
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('a cell at noise scale 0.7 is `generate` with noiseScale 0.7, bit for bit (Generate Samples and pmf generate --noise-scale)', async () => {
  const cells: Cell[] = [{ omega: 2, tMin: 0, tMax: 1, seed: 4, label: 1 }, { omega: 3, tMin: 0.2, tMax: 0.8, seed: 9, label: 6 }];
  const grid = await makeCells(client, fashion, { cells, steps: 1, noiseScale: 0.7 });
  for (const [k, c] of cells.entries()) {
    const p = { modelId: fashion.modelId, seeds: [c.seed], labels: [c.label!], steps: 1, omega: c.omega, tMin: c.tMin, tMax: c.tMax, batchSize: 1 };
    const scaled = await client.generate({ ...p, noiseScale: 0.7 });
    const given = await client.generate({ ...p, noise: initialNoise([c.seed], PER, fashion.info.noiseScale * 0.7) });
    assert.ok(bytes(scaled.samples).equals(bytes(given.samples)), `cell ${k}: the same z_0, bit for bit`);
    assert.ok(image(grid.pixels, k).equals(Buffer.from(toUint8HWC(scaled.samples, 1, 28, 28, fashion.info.dataRange))), `cell ${k}`);
    const own = await client.generate({ ...p, noiseScale: 1 });
    assert.ok(!bytes(own.samples).equals(bytes(scaled.samples)), 'the scale changes the sample');
  }
  // batched, sample i's noise is its seed's times the scale: two seeds in one batch are the two alone
  const both = await client.generate({ modelId: fashion.modelId, seeds: [4, 9], labels: [1, 1], steps: 1, omega: 2, tMin: 0, tMax: 1,
    batchSize: 2, noiseScale: 0.7 });
  const second = await client.generate({ modelId: fashion.modelId, seeds: [9], labels: [1], steps: 1, omega: 2, tMin: 0, tMax: 1,
    batchSize: 1, noiseScale: 0.7 });
  assert.ok(bytes(both.samples.subarray(PER)).equals(bytes(second.samples)));
});

test('the noise scale is checked: in [0.5, 1.5], and not with given noise', async () => {
  const base = { modelId: fashion.modelId, seeds: [0], labels: [1], steps: 1, omega: 2, tMin: 0, tMax: 1, batchSize: 1 };
  await assert.rejects(client.generate({ ...base, noiseScale: 2 }), /noise scale must be a number from 0\.5 to 1\.5.*got 2/);
  await assert.rejects(client.generate({ ...base, noiseScale: Number.NaN }), /noise scale must be a number/);
  await assert.rejects(client.generate({ ...base, noiseScale: 0.7, noise: initialNoise([0], PER, 1) }), /give the noise already scaled/);
});
