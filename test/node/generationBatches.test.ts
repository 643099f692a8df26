// A generation in batches on the real engine (the bundled Fashion-MNIST model): the per-batch
// callback delivers every sample exactly once, in order, with the same pixels as one unbatched
// run; a stop ends the run after the batch in flight with the samples made.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EngineClient } from '../../src/engine/client';
import { type GeneratedSample, type GenerationRequest, networkEvaluations, runGeneration } from '../../src/node/generation';
import { gaussianInfo } from '../helpers/gaussian';
import { ENGINE, FASHION, requireBuilt } from '../helpers/paths';

let client: EngineClient;

before(() => {
  requireBuilt();
  client = new EngineClient({ enginePath: ENGINE });
});
after(() => client.dispose());

const request = (n: number, batchSize: number): GenerationRequest => ({
  modelPath: FASHION, modelSpec: 'fashion-mnist', provider: 'cpu', classes: [9, 0, 3], n, seed: 40, steps: 2, omega: 2,
  tMin: 0, tMax: 1, batchSize,
});

test('per-batch callback: every sample once, in order, the same pixels as one unbatched run', async () => {
  const n = 11;
  const whole = await runGeneration(client, request(n, 64));
  assert.equal(whole.samples.length, n);
  assert.equal(whole.stopped, undefined);

  const batches: Array<{ samples: GeneratedSample[]; done: number; total: number }> = [];
  const progress: Array<[number, number]> = [];
  const split = await runGeneration(client, request(n, 4), undefined, (d, t) => progress.push([d, t]), {
    firstBatch: 1,
    onBatch: (samples, done, total) => batches.push({ samples, done, total }),
  });
  // a first batch of 1, then the normal size (4)
  assert.deepEqual(batches.map((b) => b.samples.length), [1, 4, 4, 2]);
  assert.deepEqual(batches.map((b) => b.done), [1, 5, 9, 11]);
  assert.ok(batches.every((b) => b.total === n));
  const delivered = batches.flatMap((b) => b.samples);
  assert.deepEqual(delivered.map((s) => s.index), Array.from({ length: n }, (_, i) => i));
  assert.deepEqual(delivered.map((s) => s.seed), Array.from({ length: n }, (_, i) => 40 + i));
  // class classes[i mod k]
  assert.deepEqual(delivered.map((s) => s.label), Array.from({ length: n }, (_, i) => [9, 0, 3][i % 3]));
  assert.deepEqual(split.samples.map((s) => s.index), delivered.map((s) => s.index));
  for (const [i, s] of delivered.entries()) {
    const w = whole.samples[i];
    assert.equal(s.className, w.className);
    assert.deepEqual(s.image!.pixels, w.image!.pixels, `sample ${i}: the same pixels batched or not`);
    let maxDiff = 0;
    for (let j = 0; j < s.values.length; j++) maxDiff = Math.max(maxDiff, Math.abs(s.values[j] - w.values[j]));
    assert.ok(maxDiff < 1e-4, `sample ${i}: values within float tolerance (${maxDiff})`);
    assert.strictEqual(split.samples[i], s, 'the result holds the delivered samples');
  }
  // progress counts steps across batches, up to the total
  assert.ok(progress.every(([, t]) => t === 4 * 2));
  assert.deepEqual(progress.at(-1), [8, 8]);
  assert.ok(progress.every(([d], k) => k === 0 || d >= progress[k - 1][0]));
});

test('the default plan: the cheap bundled model runs in full batches (one request for n <= batch size)', async () => {
  const sizes: number[] = [];
  await runGeneration(client, request(10, 16), undefined, undefined, { onBatch: (s) => sizes.push(s.length) });
  assert.deepEqual(sizes, [10]);
  sizes.length = 0;
  await runGeneration(client, request(10, 3), undefined, undefined, { onBatch: (s) => sizes.push(s.length) });
  assert.deepEqual(sizes, [3, 3, 3, 1]);
});

test('stop ends the run after the batch in flight; the samples made are the result, a prefix', async () => {
  const stop = new AbortController();
  const seen: number[] = [];
  const result = await runGeneration(client, request(12, 4), undefined, undefined, {
    stop: stop.signal,
    onBatch: (samples) => {
      seen.push(...samples.map((s) => s.index));
      if (seen.length >= 4) stop.abort();
    },
  });
  assert.equal(result.stopped, true);
  assert.deepEqual(seen, [0, 1, 2, 3]);
  assert.deepEqual(result.samples.map((s) => s.seed), [40, 41, 42, 43]);
  // stopped before it starts: nothing generated, no error
  const none = await runGeneration(client, request(3, 4), undefined, undefined, { stop: AbortSignal.abort() });
  assert.equal(none.stopped, true);
  assert.equal(none.samples.length, 0);
});

test('the cost plan counts network evaluations: a MeanFlow step is one, Heun 2N - 1, two-pass guidance twice', () => {
  const mf = gaussianInfo('x', ['z', 't', 'h']);
  const fm = gaussianInfo('x', ['z', 't', 'y'], { modelType: 'flow-matching', numClasses: 2, guidance: 'two-pass', defaultSolver: 'heun' });
  assert.equal(networkEvaluations(mf, { steps: 4, omega: 2 }), 4);
  assert.equal(networkEvaluations(fm, { steps: 4, omega: 1 }), 7);
  assert.equal(networkEvaluations(fm, { steps: 4, omega: 2 }), 14);
  assert.equal(networkEvaluations(fm, { steps: 4, omega: 1, solver: 'euler' }), 4);
});
