import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFeeds, CancelledError, type Feeds, sample, validateSampling } from '../../src/core/sampler';
import { planSamples, parseClasses } from '../../src/core/generationPlan';
import { exactEvaluator, gaussianInfo as info, MU, S } from '../helpers/gaussian';

for (const prediction of ['x', 'u'] as const) {
  for (const steps of [1, 2, 5]) {
    test(`${prediction}-prediction, ${steps} step(s): the exact field reaches mu + s z_1`, async () => {
      const z1 = Float32Array.from([1.2, -0.7, 0.1, 2.0, -1.5, 0.0]);
      const z0 = await sample(exactEvaluator(prediction), info(prediction, ['z', 't', 'h']), z1, 2,
        { omega: 1, tMin: 0, tMax: 1 }, steps);
      z1.forEach((v, j) => assert.ok(Math.abs(z0[j] - (MU + S * v)) < 1e-5, `${z0[j]} vs ${MU + S * v}`));
    });
  }
}

test('the sampler feeds exactly the declared inputs, with h = t - r on the linspace grid', async () => {
  const calls: Feeds[] = [];
  await sample(exactEvaluator('x', calls), info('x', ['z', 't', 'h']), new Float32Array(3), 1,
    { omega: 1, tMin: 0, tMax: 1 }, 4);
  assert.equal(calls.length, 4);
  assert.deepEqual(calls.map((c) => c.t!.data[0]), [1, 0.75, 0.5, 0.25]);
  assert.deepEqual(calls.map((c) => c.h!.data[0]), [0.25, 0.25, 0.25, 0.25]);
  assert.deepEqual(Object.keys(calls[0]).sort(), ['h', 't', 'z']);
});

test('CFG and class inputs are built with their types; unconditional labels use num_classes', () => {
  const m = info('x', ['z', 'h', 'y', 'omega', 't_min', 't_max'], { numClasses: 10, hasCfg: true, kind: 'image', sampleShape: [1, 2, 2] });
  const f = buildFeeds(m, new Float32Array(8), 2, [1, 1], [0, 0], { labels: [3, 10], omega: 2.5, tMin: 0.1, tMax: 0.7 });
  assert.deepEqual(Object.keys(f), ['z', 'h', 'y', 'omega', 't_min', 't_max']);
  assert.deepEqual(f.z!.dims, [2, 1, 2, 2]);
  assert.deepEqual(Array.from(f.y!.data as BigInt64Array), [3n, 10n]);
  assert.deepEqual(Array.from(f.omega!.data as Float32Array), [2.5, 2.5]);
  assert.deepEqual(Array.from(f.t_min!.data as Float32Array), [Math.fround(0.1), Math.fround(0.1)]);
  const g = buildFeeds(m, new Float32Array(8), 2, [1, 1], [0, 0], { omega: 1, tMin: 0, tMax: 1 });
  assert.deepEqual(Array.from(g.y!.data as BigInt64Array), [10n, 10n]);
});

test('cancellation stops between steps', async () => {
  const ac = new AbortController();
  let calls = 0;
  const evaluate = async (feeds: Feeds) => {
    if (++calls === 2) ac.abort();
    return new Float32Array(feeds.z!.data.length);
  };
  await assert.rejects(sample(evaluate, info('x', ['z', 't', 'h']), new Float32Array(3), 1,
    { omega: 1, tMin: 0, tMax: 1 }, 10, { signal: ac.signal }), CancelledError);
  assert.equal(calls, 2);
});

test('sampling settings and labels are validated with plain messages', () => {
  const m = info('x', ['z', 'h', 'y', 'omega', 't_min', 't_max'], { numClasses: 10, hasCfg: true });
  const ok = { steps: 1, omega: 2, tMin: 0, tMax: 1 };
  validateSampling(m, ok, [0, 9, 10]);
  assert.throws(() => validateSampling(m, { ...ok, steps: 0 }), /steps must be/);
  assert.throws(() => validateSampling(m, { ...ok, omega: 0.5 }), /omega must be >= 1/);
  assert.throws(() => validateSampling(m, { ...ok, tMin: 0.8, tMax: 0.2 }), /interval/);
  assert.throws(() => validateSampling(m, ok, [11]), /class 11 is out of range/);
});

test('class specs and sample plans', () => {
  const m = info('x', ['z', 'h', 'y'], { numClasses: 3, classNames: ['Cat', 'Dog', 'Bird'] });
  assert.deepEqual(parseClasses(undefined, m), [0, 1, 2]);
  assert.deepEqual(parseClasses('dog, 2,none', m), [1, 2, 3]);
  assert.throws(() => parseClasses('Horse', m), /Unknown class 'Horse'.*0 Cat/);
  assert.deepEqual(parseClasses(undefined, info('x', ['z', 'h'])), []);
  assert.throws(() => parseClasses('Cat', info('x', ['z', 'h'])), /unconditional/);
  assert.deepEqual(planSamples(5, 10, [0, 2]), { seeds: [10, 11, 12, 13, 14], labels: [0, 2, 0, 2, 0] });
  assert.throws(() => planSamples(2, 2 ** 32 - 1, []), /seeds must be/);
});
