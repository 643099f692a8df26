// The seed walk (src/core/noiseWalk.ts): a norm-preserving slerp between two seeds' noise.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialNoise } from '../../src/core/noise';
import { seedWalk, slerpNoise, walkFractions } from '../../src/core/noiseWalk';

const PER = 784;
const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
const bits = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

test('the endpoints are the seeds\' noise, bit for bit', () => {
  const za = initialNoise([3], PER, 1);
  const zb = initialNoise([4], PER, 1);
  assert.ok(bits(slerpNoise(za, zb, 0)).equals(bits(za)));
  assert.ok(bits(slerpNoise(za, zb, 1)).equals(bits(zb)));
  assert.notEqual(slerpNoise(za, zb, 0), za, 'a copy, not the input');
  const walk = seedWalk(3, 4, 5, PER, 1);
  assert.equal(walk.length, 5 * PER);
  assert.ok(bits(walk.subarray(0, PER)).equals(bits(za)));
  assert.ok(bits(walk.subarray(4 * PER)).equals(bits(zb)));
  // the noise scale is the model's: z_1 = noise_scale * e
  const w2 = seedWalk(3, 4, 3, PER, 2);
  assert.ok(bits(w2.subarray(2 * PER)).equals(bits(initialNoise([4], PER, 2))));
});

test('the midpoint keeps the endpoints\' norm (within 1% of their mean, between the two); the linear midpoint does not', () => {
  for (const [a, b] of [[0, 1], [7, 1000], [123456, 42]]) {
    const za = initialNoise([a], PER, 1);
    const zb = initialNoise([b], PER, 1);
    const na = norm(za);
    const nb = norm(zb);
    assert.ok(Math.abs(na - nb) / na > 1e-4, 'two seeds\' norms differ a little');
    const mid = slerpNoise(za, zb, 0.5);
    const nm = norm(mid);
    // two seeds' norms differ by a few percent (relative spread 1/sqrt(2 * 784) = 2.5% each)
    const mean = (na + nb) / 2;
    assert.ok(Math.abs(nm - mean) / mean < 0.01, `norm ${nm} vs ${na}, ${nb}`);
    assert.ok(nm >= Math.min(na, nb) && nm <= Math.max(na, nb), `norm ${nm} between ${na} and ${nb}`);
    // exactly the interpolated norm, up to float32 rounding
    assert.ok(Math.abs(nm - (na + nb) / 2) < 1e-3, `${nm} vs ${(na + nb) / 2}`);
    const lin = za.map((x, i) => 0.5 * x + 0.5 * zb[i]);
    const ratio = norm(lin) / na;
    assert.ok(ratio > 0.65 && ratio < 0.76, `the linear midpoint has norm ${ratio.toFixed(3)}x (about 0.707x)`);
    let far = 0;
    for (let i = 0; i < PER; i++) far = Math.max(far, Math.abs(mid[i] - lin[i]));
    assert.ok(far > 0.1, 'the slerp midpoint is not the linear midpoint');
    // and it lies halfway in angle: equal angles to both endpoints
    const ca = dot(mid, za) / (nm * na);
    const cb = dot(mid, zb) / (nm * nb);
    assert.ok(Math.abs(ca - cb) < 1e-5, `${ca} vs ${cb}`);
  }
});

test('every point of a walk has a norm between the endpoints\', and the angle grows evenly', () => {
  const steps = 9;
  const walk = seedWalk(10, 20, steps, PER, 1);
  const rows = Array.from({ length: steps }, (_, i) => walk.subarray(i * PER, (i + 1) * PER));
  const na = norm(rows[0]);
  const nb = norm(rows[steps - 1]);
  const theta = Math.acos(dot(rows[0], rows[steps - 1]) / (na * nb));
  rows.forEach((r, i) => {
    const s = i / (steps - 1);
    assert.ok(Math.abs(norm(r) - ((1 - s) * na + s * nb)) < 1e-3, `row ${i}`);
    const angle = Math.acos(Math.min(1, dot(rows[0], r) / (na * norm(r))));
    assert.ok(Math.abs(angle - s * theta) < 1e-3, `row ${i}: angle ${angle} vs ${s * theta}`);
  });
});

test('nearly parallel vectors fall back to linear interpolation; bad input is refused', () => {
  const za = initialNoise([5], PER, 1);
  assert.deepEqual(slerpNoise(za, za, 0.3), za.map((x) => 0.7 * x + 0.3 * x), 'the same seed twice: a constant walk');
  const zb = za.map((x, i) => x * (1 + 1e-9 * i));
  const m = slerpNoise(za, zb, 0.5);
  assert.ok(m.every((x) => Number.isFinite(x)));
  assert.throws(() => slerpNoise(za, new Float32Array(3), 0.5), /784 and 3 values/);
  assert.throws(() => slerpNoise(za, zb, 1.5), /s must be in \[0, 1\]/);
  assert.throws(() => slerpNoise(za, zb, NaN), /s must be in \[0, 1\]/);
  assert.throws(() => slerpNoise(new Float32Array(PER), zb, 0.5), /non-zero norms/);
  assert.throws(() => slerpNoise(za, za.map((x) => -x), 0.5), /opposite directions/);
  assert.throws(() => seedWalk(1, 2, 1, PER, 1), /steps >= 2/);
  assert.throws(() => seedWalk(1, 2, 4, 0, 1), /per must be a positive integer/);
  assert.deepEqual(walkFractions(3), [0, 0.5, 1]);
});
