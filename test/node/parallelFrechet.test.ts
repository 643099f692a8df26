// The Frechet distance as pmf eval computes it (src/node/parallelFrechet.ts): the WebAssembly SIMD
// kernels (dist/frechetKernels.wasm) agree with the JavaScript ones (core/eval/frechet.ts) to
// rounding, and for either kernels 1, 2, 3 and 4 threads give the same bits, on full-rank and
// rank-deficient covariances (fewer samples than dimensions: the pivoted Cholesky stops early).
// The agreement with scipy's route is in test/node/evalReference.test.ts. Real threads, real
// shared memory, the built .wasm; timings are bench/eval.ts's.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { featureMoments, frechetDistance, traceSqrtProduct } from '../../src/core/eval';
import { gaussian } from '../../src/core/noise';
import { frechetDistanceParallel, MIN_PARALLEL_D, traceSqrtProductParallel } from '../../src/node/parallelFrechet';
import { frechetKernelsModule } from '../../src/node/wasmKernels';
import { REPO, requireBuilt } from '../helpers/paths';

function moments(seed: number, n: number, d: number) {
  const g = gaussian(seed, n * d);
  for (let s = 0; s < n; s++) for (let i = 0; i < d; i++) g[s * d + i] = g[s * d + i] * (0.4 + (i % 7) * 0.25) + (i % 3 === 0 ? 0.6 * g[s * d] : 0);
  return featureMoments(g, d);
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));

before(() => requireBuilt());

describe('traceSqrtProductParallel', () => {
  const d = MIN_PARALLEL_D + 37; // odd, and not a multiple of the row blocks or the parts
  const a = moments(1, 2 * d, d);
  const b = moments(2, 2 * d, d);

  test('the WebAssembly kernels are built and used; they agree with the JavaScript kernels to 1e-12', async () => {
    assert.ok(frechetKernelsModule(), 'dist/frechetKernels.wasm is built');
    const wasm = await traceSqrtProductParallel(a.covariance, b.covariance, d, 1);
    assert.equal(wasm.kernels, 'webassembly-simd');
    const js = traceSqrtProduct(a.covariance, b.covariance, d);
    assert.equal(wasm.rank, js.rank);
    assert.ok(rel(wasm.value, js.value) < 1e-12, `${wasm.value} vs ${js.value}`);
    const jsHere = await traceSqrtProductParallel(a.covariance, b.covariance, d, 1, undefined, true);
    assert.equal(jsHere.kernels, 'javascript');
    assert.equal(jsHere.value, js.value, 'the JavaScript kernels here are core\'s, bit for bit');
  });

  for (const js of [false, true]) {
    const kind = js ? 'JavaScript' : 'WebAssembly';
    test(`${kind} kernels, full rank: 2, 3 and 4 threads give the bits of one`, async () => {
      const one = await traceSqrtProductParallel(a.covariance, b.covariance, d, 1, undefined, js);
      assert.equal(one.rank, d);
      for (const threads of [2, 3, 4]) assert.deepEqual(await traceSqrtProductParallel(a.covariance, b.covariance, d, threads, undefined, js), one);
    });

    test(`${kind} kernels, rank-deficient (fewer samples than dimensions): the same rank and bits`, async () => {
      const thin = moments(3, 100, d);
      const one = await traceSqrtProductParallel(thin.covariance, b.covariance, d, 1, undefined, js);
      assert.ok(one.rank < 100, `rank ${one.rank}`);
      assert.deepEqual(await traceSqrtProductParallel(thin.covariance, b.covariance, d, 2, undefined, js), one);
    });
  }

  test('frechetDistanceParallel agrees with frechetDistance; its inputs are left as they were', async () => {
    const s1 = Float64Array.from(a.covariance);
    const s2 = Float64Array.from(b.covariance);
    const serial = frechetDistance(a.mean, a.covariance, b.mean, b.covariance);
    const par = await frechetDistanceParallel(a.mean, a.covariance, b.mean, b.covariance, 2);
    assert.ok(rel(par.distance, serial.distance) < 1e-10, `${par.distance} vs ${serial.distance}`);
    assert.equal(par.meanTerm, serial.meanTerm);
    assert.deepEqual(a.covariance, s1);
    assert.deepEqual(b.covariance, s2);
    assert.ok(serial.distance > 0);
  });

  test('the bundled worker (dist/frechetWorker.js, which pmf eval in dist/cli.js starts) gives the same bits', async () => {
    const one = await traceSqrtProductParallel(a.covariance, b.covariance, d, 1);
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
