// The worker thread of Compare Models' measurements (src/node/tokenDimensions.ts, bundled as
// dist/tokenDimensionsWorker.js): the same numbers as core/comparisonDimensions in the host,
// every frame reported in order, an abort ends the worker and rejects as a cancellation, and a
// bad job is an error with the reason.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { isCancelled } from '../../src/core/cancel';
import { tokenDimensions } from '../../src/core/comparisonDimensions';
import { tokenDimensionsInWorker } from '../../src/node/tokenDimensions';
import { REPO, requireBuilt } from '../helpers/paths';

const WORKER = join(REPO, 'dist', 'tokenDimensionsWorker.js');
const frames = 3;
const n = 2;
const shape = [1, 32, 32];
const values = (seed: number) => Float32Array.from({ length: frames * n * 1024 }, (_, i) => Math.sin(i * 0.37 + seed) * Math.cos(i / 50));

test('the worker gives the host\'s numbers, frame by frame', async () => {
  requireBuilt();
  const expected = tokenDimensions(values(1), values(2), frames, n, shape, 8);
  const seen: number[] = [];
  const r = await tokenDimensionsInWorker(WORKER, { x: values(1), u: values(2), frames, n, sampleShape: shape, patchSize: 8 },
    new AbortController().signal, (f) => seen.push(f));
  assert.deepEqual(r, expected);
  assert.deepEqual(seen, [0, 1, 2]);
  assert.equal(r.patchDim, 64);
});

test('an abort rejects as a cancellation; a bad job names its reason', async () => {
  requireBuilt();
  const ac = new AbortController();
  // a large job (112 x 112, 16 x 16 patches, many frames), aborted as it starts
  const big = { x: new Float32Array(20 * 8 * 12544).map((_, i) => Math.sin(i)), u: new Float32Array(20 * 8 * 12544), frames: 20, n: 8,
    sampleShape: [1, 112, 112], patchSize: 16 };
  const t0 = performance.now();
  const p = tokenDimensionsInWorker(WORKER, big, ac.signal);
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(p, (e) => isCancelled(e));
  assert.ok(performance.now() - t0 < 2000, 'the abort does not wait for the job');
  await assert.rejects(tokenDimensionsInWorker(WORKER, { ...big, x: new Float32Array(10), u: new Float32Array(10) }, new AbortController().signal),
    /Measuring the patches failed: x and u hold 10 and 10 values/);
  await assert.rejects(tokenDimensionsInWorker(WORKER, { x: values(1), u: values(2), frames, n, sampleShape: shape, patchSize: 8 }, ac.signal),
    (e) => isCancelled(e), 'an aborted signal starts nothing');
});
