import assert from 'node:assert/strict';
import { test } from 'node:test';
import { costDefaults, costPerImage, formatFlops, trajectoryFlops, VIZ_BUDGET_FLOP } from '../../src/core/costDefaults';
import { dequantise8, quantisationError, quantise8 } from '../../src/core/frameEncoding';
import type { Evaluate } from '../../src/core/sampler';
import { evaluateDistinctRows } from '../../src/engine/visualize';
import { B16, FASHION } from './costFixtures';


test('pMF-B/16: 66.7 GFLOP per image from its architecture; 1 step, 1 sample, 16 x 16 patches, said why', () => {
  const d = costDefaults(B16);
  assert.equal(d.costSource, 'architecture');
  assert.equal((d.flopsPerImage / 1e9).toFixed(1), '66.7');
  assert.equal(d.vizSteps, 1);
  assert.equal(d.vizSamples, 1);
  assert.equal(d.vizPatchSize, 16);
  assert.equal(d.reason, '1 step, 1 sample: this model costs 66.7 GFLOP per image; more steps on request');
  assert.ok(d.generateCount >= 1 && d.generateCount <= 32, `count ${d.generateCount}`);
  assert.ok(d.generateBatch >= 1 && d.generateBatch <= 2, `batch ${d.generateBatch}`);
});

test('the bundled fashion-mnist model is cheap: the 16-step trajectory of 4 samples, its 7 x 7 patches', () => {
  const d = costDefaults(FASHION);
  assert.ok(d.flopsPerImage > 1e6 && d.flopsPerImage < 1e9, formatFlops(d.flopsPerImage));
  assert.equal(d.vizSteps, 16);
  assert.equal(d.vizSamples, 4);
  assert.equal(d.vizPatchSize, 7);
  assert.ok(trajectoryFlops(d.flopsPerImage, 16, 4) <= VIZ_BUDGET_FLOP);
  assert.equal(d.generateCount, 64);
  assert.equal(d.generateBatch, 16);
  assert.match(d.reason, /^16 steps, 4 samples: this model costs [\d.]+ MFLOP per image/);
});

test('without architecture metadata the cost follows the image size; a 512 x 512 model gets 1 sample', () => {
  const d = costDefaults({ kind: 'image', sampleShape: [3, 512, 512], defaultSampling: { steps: 2 }, architecture: {} });
  assert.equal(d.costSource, 'image size');
  assert.equal((d.flopsPerImage / 1e9).toFixed(0), '267');
  assert.equal(d.vizSteps, 2, 'the model\'s own default steps');
  assert.equal(d.vizSamples, 1);
  assert.equal(d.vizPatchSize, 4, 'no patch size known: 4');
  assert.match(d.reason, /\(estimated from its image size\); more steps on request$/);
  // a mid-sized model: more samples when they fit
  const mid = costDefaults({ kind: 'image', sampleShape: [3, 64, 64], defaultSampling: { steps: 1 }, architecture: {} });
  assert.ok(mid.vizSamples > 1 && mid.vizSteps === 1, JSON.stringify(mid));
  assert.equal(costPerImage({ kind: 'toy', sampleShape: [8], defaultSampling: { steps: 1 }, architecture: {} }).source, 'toy');
  assert.equal(costDefaults({ kind: 'toy', sampleShape: [8], defaultSampling: { steps: 1 }, architecture: {} }).vizSteps, 16);
});

test('formatFlops', () => {
  assert.equal(formatFlops(66.7e9), '66.7 GFLOP');
  assert.equal(formatFlops(1.5e12), '1.5 TFLOP');
  assert.equal(formatFlops(3e6), '3 MFLOP');
});

test('8-bit frames round-trip within half a quantisation step of each block\'s range', () => {
  const block = 1000;
  const src = new Float32Array(4 * block);
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < src.length; i++) src[i] = (i < block ? 0.01 : i < 2 * block ? 5 : 1) * (rnd() * 2 - 1) + (i >= 3 * block ? 100 : 0);
  const q = quantise8(src, block);
  assert.equal(q.data.byteLength, src.byteLength / 4);
  const back = dequantise8(q, block);
  for (let b = 0; b < 4; b++) {
    const tol = quantisationError(q.lo[b], q.hi[b]) * (1 + 1e-4) + 1e-5 * Math.abs(q.hi[b]);
    let worst = 0;
    for (let i = b * block; i < (b + 1) * block; i++) worst = Math.max(worst, Math.abs(back[i] - src[i]));
    assert.ok(worst <= tol, `block ${b}: error ${worst} > ${tol}`);
    assert.ok(worst > 0, 'the values are quantised, not sent as they are');
    // each block keeps its own range: the small block is not flattened by the large one
    assert.ok(q.hi[b] - q.lo[b] < (b === 0 ? 0.021 : 10.1));
  }
  // the extremes decode exactly
  assert.equal(back[src.indexOf(Math.max(...src.subarray(0, block)))], q.hi[0]);
});

test('8-bit frames: constant blocks, non-finite values, decoding at an offset', () => {
  const src = Float32Array.from([2, 2, 2, 2, NaN, -Infinity, Infinity, 1, 0, 3]);
  assert.throws(() => quantise8(src, 3));
  const q = quantise8(src.subarray(0, 8), 4);
  assert.deepEqual([...q.lo], [2, 1]);
  assert.deepEqual([...q.hi], [2, 1]);
  const out = new Float32Array(10).fill(-7);
  dequantise8(q, 4, out, 2);
  assert.deepEqual([...out], [-7, -7, 2, 2, 2, 2, 1, 1, 1, 1]);
  const q2 = quantise8(Float32Array.from([NaN, 0, 1, Infinity]), 4);
  assert.deepEqual([...q2.data], [0, 0, 255, 255]);
});

test('the visualizer runs each distinct row of a batch once (v rows that repeat the rows at r = t)', async () => {
  const z = Float32Array.from([1, 2, 1, 2, 1, 2, 5, 6]); // 4 rows of 2
  const feeds = {
    z: { type: 'float32' as const, dims: [4, 2], data: z },
    t: { type: 'float32' as const, dims: [4], data: Float32Array.from([0, 0, 0, 0]) },
    h: { type: 'float32' as const, dims: [4], data: Float32Array.from([0, 0, 0.5, 0]) },
    y: { type: 'int64' as const, dims: [4], data: BigInt64Array.from([3n, 3n, 3n, 3n]) },
  };
  const seen: number[] = [];
  const net: Evaluate = async (f) => {
    const rows = f.z!.dims[0];
    seen.push(rows);
    return Float32Array.from({ length: rows * 2 }, (_, k) => Number(f.z!.data[k]) * 10 + Number(f.h!.data[Math.floor(k / 2)]));
  };
  const out = await evaluateDistinctRows(net, feeds);
  assert.deepEqual(seen, [3], 'rows 0 and 1 are the same: 3 rows run');
  assert.deepEqual([...out], [10, 20, 10, 20, 10.5, 20.5, 50, 60]);
  const full = await net(feeds);
  assert.deepEqual([...out], [...full], 'the same answer as running every row');
  seen.length = 0;
  const distinct = { ...feeds, h: { ...feeds.h, data: Float32Array.from([0, 0.1, 0.5, 0]) } };
  await evaluateDistinctRows(net, distinct);
  assert.deepEqual(seen, [4], 'all distinct: the batch as it is');
});
