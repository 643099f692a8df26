import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fillGaussian, gaussian, initialNoise, Xoshiro128 } from '../../src/core/noise';

test('the generator is pinned: seed 0 and seed 42 give these exact values on every platform', () => {
  // Regression pins for cross-platform reproducibility: a change here changes every image a
  // user ever generated from a seed. The integer stream is checked independently below.
  const a = Array.from(gaussian(0, 4));
  const b = Array.from(gaussian(42, 4));
  assert.deepEqual(a, PIN_SEED_0);
  assert.deepEqual(b, PIN_SEED_42);
});

test('same seed, same noise; different seeds, different noise; batch does not matter', () => {
  assert.deepEqual(gaussian(7, 100), gaussian(7, 100));
  assert.notDeepEqual(gaussian(7, 100), gaussian(8, 100));
  const batch = initialNoise([5, 6, 7], 10, 1);
  assert.deepEqual(batch.subarray(10, 20), gaussian(6, 10));
  const scaled = initialNoise([5], 10, 2);
  assert.deepEqual(Array.from(scaled), Array.from(gaussian(5, 10), (v) => Math.fround(v * 2)));
});

test('the noise is standard normal (moments and tails over 200k draws)', () => {
  const x = gaussian(123, 200_000);
  let m = 0;
  for (const v of x) m += v;
  m /= x.length;
  let v2 = 0;
  let v4 = 0;
  let beyond2 = 0;
  for (const v of x) {
    v2 += (v - m) ** 2;
    v4 += (v - m) ** 4;
    if (Math.abs(v) > 2) beyond2++;
  }
  v2 /= x.length;
  v4 /= x.length;
  assert.ok(Math.abs(m) < 0.01, `mean ${m}`);
  assert.ok(Math.abs(v2 - 1) < 0.01, `variance ${v2}`);
  assert.ok(Math.abs(v4 / (v2 * v2) - 3) < 0.05, `kurtosis ${v4 / (v2 * v2)}`);
  assert.ok(Math.abs(beyond2 / x.length - 0.0455) < 0.002, `P(|x| > 2) = ${beyond2 / x.length}`);
});

test('xoshiro128** seeded by splitmix32 matches an independent re-statement (Python, reference algorithm)', () => {
  const r = new Xoshiro128(0);
  assert.deepEqual([r.nextUint32(), r.nextUint32(), r.nextUint32()], [3809008728, 1133695204, 53579671]);
});

/** The Box-Muller loop over the Xoshiro128 class: what fillGaussian inlines. */
function viaClass(seed: number, n: number, scale: number): Float32Array {
  const rng = new Xoshiro128(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = rng.nextOpenUnit();
    const u2 = rng.nextOpenUnit();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    out[i] = Math.fround(Math.fround(radius * Math.cos(angle)) * scale);
    if (i + 1 < n) out[i + 1] = Math.fround(Math.fround(radius * Math.sin(angle)) * scale);
  }
  return out;
}

test('the inlined generator gives the class\'s values bit for bit (seeds across the uint32 range, odd n, scales)', () => {
  const seeds = [0, 1, 42, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
  for (let i = 0; i < 200; i++) seeds.push((Math.imul(i + 1, 0x9e3779b1) >>> 0));
  for (const seed of seeds) {
    for (const [n, scale] of [[1, 1], [7, 1], [784, 1], [785, 0.5], [64, 1.7]] as const) {
      const want = viaClass(seed, n, scale);
      const got = new Float32Array(n + 3);
      fillGaussian(seed, got, 2, n, scale);
      assert.deepEqual(got.subarray(2, 2 + n), want, `seed ${seed}, n ${n}, scale ${scale}`);
      assert.equal(got[0], 0);
      assert.equal(got[n + 2], 0, 'writes nothing past offset + n');
    }
  }
  assert.throws(() => fillGaussian(-1, new Float32Array(2), 0, 2), /seed/);
});

test('uniforms are open-interval and seeds are validated', () => {
  const r = new Xoshiro128(0);
  for (let i = 0; i < 10000; i++) {
    const u = r.nextOpenUnit();
    assert.ok(u > 0 && u < 1);
  }
  assert.throws(() => new Xoshiro128(-1), /seed/);
  assert.throws(() => new Xoshiro128(2 ** 32), /seed/);
  assert.throws(() => new Xoshiro128(1.5), /seed/);
});

const PIN_SEED_0 = [0.48854631185531616, 0.03837218135595322, 2.5868475437164307, 0.39985963702201843];
const PIN_SEED_42 = [0.6953712105751038, 0.5878986120223999, 2.2422637939453125, 0.21493089199066162];
