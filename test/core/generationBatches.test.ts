import assert from 'node:assert/strict';
import { test } from 'node:test';
import { costDefaults } from '../../src/core/costDefaults';
import { FIRST_BATCH_BUDGET_FLOP, firstBatchSize, planBatches, splitBatches } from '../../src/core/generationBatches';
import { B16, FASHION } from './costFixtures';


const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

test('pMF-B/16: the first batch is one image, the rest the normal batch size (its suggested 2, or a set 16)', () => {
  const cost = { flopsPerImage: costDefaults(B16).flopsPerImage, steps: 1 };
  const suggested = costDefaults(B16).generateBatch;
  assert.equal(suggested, 2);
  assert.equal(firstBatchSize(suggested, cost), 1);
  assert.deepEqual(planBatches(30, suggested, cost), [1, ...Array<number>(14).fill(2), 1]);
  assert.deepEqual(planBatches(40, 16, cost), [1, 16, 16, 7]);
  assert.deepEqual(planBatches(1, 16, cost), [1]);
  // more steps make one image costlier still: still at least one
  assert.equal(firstBatchSize(16, { ...cost, steps: 8 }), 1);
});

test('a cheap model (the bundled Fashion-MNIST, 137 MFLOP) keeps full batches from the start', () => {
  const cost = { flopsPerImage: costDefaults(FASHION).flopsPerImage, steps: 1 };
  assert.equal(firstBatchSize(16, cost), 16);
  assert.deepEqual(planBatches(40, 16, cost), [16, 16, 8]);
  assert.deepEqual(planBatches(10, 16, cost), [10]);
  assert.deepEqual(planBatches(10, 3, cost), [3, 3, 3, 1]);
});

test('in between: as many images as fit the ~1 s budget', () => {
  const cost = { flopsPerImage: FIRST_BATCH_BUDGET_FLOP / 4.5, steps: 1 };
  assert.equal(firstBatchSize(16, cost), 4);
  assert.deepEqual(planBatches(20, 16, cost), [4, 16]);
  assert.equal(firstBatchSize(4, cost), 4, 'a batch that fits is kept');
  assert.equal(firstBatchSize(16, { ...cost, steps: 2 }), 2, 'steps multiply the cost');
});

test('a fixed-batch model runs its batch whatever the request: no smaller first batch', () => {
  const cost = { flopsPerImage: 66.7e9, steps: 1, fixedBatch: 4 };
  assert.equal(firstBatchSize(2, cost), 4);
  assert.deepEqual(planBatches(10, 2, cost), [4, 4, 2]);
});

test('the batches always sum to n, none empty; bad input is refused', () => {
  for (const flops of [1e6, 1e9, 3e10, 66.7e9, 1e12]) {
    for (const batch of [1, 2, 3, 7, 16]) {
      for (const n of [1, 2, 5, 16, 17, 100]) {
        const plan = planBatches(n, batch, { flopsPerImage: flops, steps: 1 });
        assert.equal(sum(plan), n);
        assert.ok(plan.every((k) => k >= 1 && k <= batch));
        assert.ok(plan.slice(1, -1).every((k) => k === batch), `middle batches are full: ${plan.join(', ')}`);
      }
    }
  }
  assert.throws(() => planBatches(0, 4, { flopsPerImage: 1, steps: 1 }), RangeError);
  assert.throws(() => planBatches(4, 0, { flopsPerImage: 1, steps: 1 }), RangeError);
});

test('splitBatches: a given first batch, then full ones', () => {
  assert.deepEqual(splitBatches(10, 1, 4), [1, 4, 4, 1]);
  assert.deepEqual(splitBatches(3, 5, 4), [3]);
  assert.deepEqual(splitBatches(8, 4, 4), [4, 4]);
});
