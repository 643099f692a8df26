import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepFromU, timeSteps, uFromRaw, xFromRaw } from '../../src/core/fields';

test('x-prediction: u = (z - x) / max(t, t_eps), and x back from u', () => {
  const z = Float32Array.from([1, 2, 3, 4]);
  const x = Float32Array.from([0.5, 0.5, -1, 1]);
  const t = [0.5, 0.01]; // second sample is below t_eps = 0.05
  const u = uFromRaw(x, z, t, 'x');
  assert.deepEqual(Array.from(u), [1, 3, (3 + 1) / 0.05, (4 - 1) / 0.05].map(Math.fround));
  assert.equal(xFromRaw(x, z, t, 'x'), x); // the raw output is the x field
});

test('u-prediction: x = z - t u and u passes through', () => {
  const z = Float32Array.from([1, 2]);
  const u = Float32Array.from([4, -2]);
  assert.equal(uFromRaw(u, z, [0.25], 'u'), u);
  assert.deepEqual(Array.from(xFromRaw(u, z, [0.25], 'u')), [0, 2.5]);
});

test('a sampler step moves z by (t - r) u per sample', () => {
  const z = Float32Array.from([1, 1, 1, 1]);
  const u = Float32Array.from([1, 2, 3, 4]);
  assert.deepEqual(Array.from(stepFromU(z, u, [1, 0.5], [0, 0.25])), [0, -1, 0.25, 0]);
});

test('time grid is linspace(1, 0, N + 1)', () => {
  assert.deepEqual(timeSteps(1), [1, 0]);
  assert.deepEqual(timeSteps(4), [1, 0.75, 0.5, 0.25, 0]);
  assert.throws(() => timeSteps(0), /positive integer/);
  assert.throws(() => timeSteps(1.5), /positive integer/);
});

test('mismatched sizes are rejected', () => {
  assert.throws(() => uFromRaw(new Float32Array(4), new Float32Array(3), [1], 'x'), /differ/);
  assert.throws(() => uFromRaw(new Float32Array(5), new Float32Array(5), [1, 1], 'x'), /split/);
});
