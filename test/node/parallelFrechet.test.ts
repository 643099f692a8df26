// The Frechet distance on worker threads (src/node/parallelFrechet.ts): the same bits as one
// thread (core/eval/frechet.ts, SOLO) for 2, 3 and 4 threads, on full-rank and rank-deficient
// covariances (fewer samples than dimensions: the pivoted Cholesky stops early), and the same
// value as scipy's route to 1e-9 relative is in test/node/evalReference.test.ts. Real threads,
// real shared memory; timings are bench/eval.ts's.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { featureMoments, frechetDistance, traceSqrtProduct } from '../../src/core/eval';
import { gaussian } from '../../src/core/noise';
import { frechetDistanceParallel, MIN_PARALLEL_D, traceSqrtProductParallel } from '../../src/node/parallelFrechet';
import { REPO, requireBuilt } from '../helpers/paths';

function moments(seed: number, n: number, d: number) {
  const g = gaussian(seed, n * d);
  for (let s = 0; s < n; s++) for (let i = 0; i < d; i++) g[s * d + i] = g[s * d + i] * (0.4 + (i % 7) * 0.25) + (i % 3 === 0 ? 0.6 * g[s * d] : 0);
  return featureMoments(g, d);
}

describe('traceSqrtProductParallel', () => {
  const d = MIN_PARALLEL_D + 37; // not a multiple of the row blocks or the parts
  const a = moments(1, 2 * d, d);
  const b = moments(2, 2 * d, d);

  test('full rank: 2, 3 and 4 threads give the bits of one', async () => {
    const one = traceSqrtProduct(a.covariance, b.covariance, d);
    assert.equal(one.rank, d);
    for (const threads of [2, 3, 4]) {
      const many = await traceSqrtProductParallel(a.covariance, b.covariance, d, threads);
      assert.equal(many.value, one.value, `${threads} threads`);
      assert.equal(many.rank, one.rank);
    }
  });

  test('rank-deficient (fewer samples than dimensions): the same rank and bits', async () => {
    const thin = moments(3, 100, d);
    const one = traceSqrtProduct(thin.covariance, b.covariance, d);
    assert.ok(one.rank < 100, `rank ${one.rank}`);
    const two = await traceSqrtProductParallel(thin.covariance, b.covariance, d, 2);
    assert.deepEqual(two, one);
  });

  test('frechetDistanceParallel equals frechetDistance; its inputs are left as they were', async () => {
    const s1 = Float64Array.from(a.covariance);
    const s2 = Float64Array.from(b.covariance);
    const serial = frechetDistance(a.mean, a.covariance, b.mean, b.covariance);
    assert.deepEqual(await frechetDistanceParallel(a.mean, a.covariance, b.mean, b.covariance, 2), serial);
    assert.deepEqual(a.covariance, s1);
    assert.deepEqual(b.covariance, s2);
    assert.ok(serial.distance > 0);
  });

  test('the bundled worker (dist/frechetWorker.js, which pmf eval in dist/cli.js starts) gives the same bits', async () => {
    requireBuilt();
    const one = traceSqrtProduct(a.covariance, b.covariance, d);
    assert.deepEqual(await traceSqrtProductParallel(a.covariance, b.covariance, d, 2, join(REPO, 'dist', 'frechetWorker.js')), one);
  });

  test('a worker script that cannot start is an error naming it, not a hang', async () => {
    await assert.rejects(traceSqrtProductParallel(a.covariance, b.covariance, d, 2, join(REPO, 'no-such-worker.js')),
      /threads did not start \(.*no-such-worker\.js\)/);
  });

  test('a covariance that is not finite is refused before any thread starts', async () => {
    const bad = Float64Array.from(a.covariance);
    bad[5] = NaN;
    await assert.rejects(traceSqrtProductParallel(bad, b.covariance, d, 2), /not finite/);
  });
});
