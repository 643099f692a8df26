// Trajectories and MeanFlow consistency on Gaussian data, where every field is known in closed form.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consistency, evaluateAt, packFrames, straight, trajectory } from '../../src/core/trajectory';
import { exactEvaluator, gaussianInfo, MU, S, sig } from '../helpers/gaussian';

const info = gaussianInfo('x', ['z', 't', 'h']);
const cond = { omega: 1, tMin: 0, tMax: 1 };
const z1 = Float32Array.from([1.2, -0.7, 0.1, 2.0, -1.5, 0.0]); // 2 samples of D = 3

function close(a: number, b: number, tol: number, what: string) {
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
}

test('pmf trajectory follows the exact ODE path, and x(z_t, 0, t) stays at the end point', async () => {
  const calls: unknown[] = [];
  const frames = await trajectory(exactEvaluator('x', calls as never), info, z1, 2, cond,
    { mode: 'pmf', steps: 4, odeSteps: 1, rFraction: 0 });
  assert.deepEqual(frames.map((f) => f.t), [1, 0.75, 0.5, 0.25, 0]);
  assert.equal(calls.length, 5, 'one network call per frame (x, u at r, u at the step r, and v batched)');
  for (const f of frames) {
    assert.equal(f.r, 0);
    z1.forEach((e, j) => {
      close(f.z[j], (1 - f.t) * MU + sig(f.t) * e, 1e-5, `z at t=${f.t}`);
      if (f.t >= 0.05) close(f.fields.x[j], MU + S * e, 1e-4, `x(z_t, 0, t) at t=${f.t}`);
    });
  }
});

test('rFraction = 1 shows the denoiser: x = E[x | z_t] and u = v', async () => {
  const frames = await trajectory(exactEvaluator('u'), gaussianInfo('u', ['z', 't', 'h']), z1, 2, cond,
    { mode: 'pmf', steps: 2, odeSteps: 1, rFraction: 1 });
  const f = frames[1]; // t = 0.5
  assert.deepEqual(Array.from(f.fields.u), Array.from(f.fields.v));
  f.z.forEach((zj, j) => {
    const post = MU + ((1 - f.t) * S * S / sig(f.t) ** 2) * (zj - (1 - f.t) * MU);
    close(f.fields.x[j], post, 1e-5, 'denoiser');
  });
});

test('v-ODE trajectory converges to the exact path as the Euler steps shrink', async () => {
  const errAt = async (K: number) => {
    const frames = await trajectory(exactEvaluator('x'), info, z1, 2, cond, { mode: 'ode', steps: 4, odeSteps: K, rFraction: 0 });
    assert.equal(frames.length, 5);
    const last = frames[4];
    assert.equal(last.t, 0);
    return Math.max(...Array.from(z1, (e, j) => Math.abs(last.z[j] - (MU + S * e))));
  };
  const coarse = await errAt(8);
  const fine = await errAt(256);
  assert.ok(fine < 0.01, `fine Euler error ${fine}`);
  assert.ok(fine < coarse / 5, `error should shrink with the step: ${coarse} -> ${fine}`);
});

test('image mode: the straight path is (1 - t) x + t e; the model path starts there', async () => {
  const x = Float32Array.from([0.5, -0.5, 0.25, 0.1, 0.2, 0.3]);
  const e = Float32Array.from([1, 2, 3, -1, -2, -3]);
  const s = await trajectory(exactEvaluator('x'), info, new Float32Array(6), 2, cond,
    { mode: 'image', steps: 2, odeSteps: 1, rFraction: 0, image: { x, e, tStart: 0.6, path: 'straight' } });
  assert.deepEqual(s.map((f) => f.t), [0.6, 0.3, 0]);
  s.forEach((f) => f.z.forEach((zj, j) => close(zj, (1 - f.t) * x[j] + f.t * e[j], 1e-6, 'straight')));
  const m = await trajectory(exactEvaluator('x'), info, new Float32Array(6), 2, cond,
    { mode: 'image', steps: 3, odeSteps: 1, rFraction: 0, image: { x, e, tStart: 0.6, path: 'model' } });
  assert.deepEqual(Array.from(m[0].z), Array.from(straight(x, e, 0.6)));
  assert.equal(m.length, 4);
});

test('MeanFlow consistency is ~0 for the exact field and large for a biased one', async () => {
  const opts = { mode: 'pmf' as const, steps: 4, odeSteps: 1, rFraction: 0 };
  const exact = await trajectory(exactEvaluator('x'), info, z1, 2, cond, opts);
  const errs = await consistency(exactEvaluator('x'), info, exact, 2, cond, 256);
  assert.equal(errs.at(-1), 0, 'no interval at t = 0');
  for (const e of errs.slice(0, -1)) assert.ok(e < 0.01, `exact field: ${e}`);
  // what remains is the Euler error of the fine integration: it shrinks with the step
  const coarse = await consistency(exactEvaluator('x'), info, exact, 2, cond, 16);
  assert.ok(coarse[0] > 4 * errs[0], `${coarse[0]} vs ${errs[0]}`);
  const biased = await trajectory(exactEvaluator('x', [], 0.3), info, z1, 2, cond, opts);
  const berrs = await consistency(exactEvaluator('x'), info, biased, 2, cond, 64);
  assert.ok(berrs[0] > 0.1, `biased u should disagree with the average of v: ${berrs[0]}`);
});

test('evaluateAt batches several r values and v in one call; packFrames lays out [F, 4, n, per]', async () => {
  const calls: unknown[] = [];
  const { atR, v } = await evaluateAt(exactEvaluator('x', calls as never), info, z1, 2, 0.8, [0, 0.4], cond);
  assert.equal(calls.length, 1);
  assert.equal(atR.length, 2);
  assert.notDeepEqual(Array.from(atR[0].u), Array.from(atR[1].u));
  assert.equal(v?.length, 6);
  const noV = await evaluateAt(exactEvaluator('x'), info, z1, 2, 0.8, [0.4], cond, false);
  assert.equal(noV.v, undefined);
  assert.deepEqual(Array.from(noV.atR[0].u), Array.from(atR[1].u));
  const frames = await trajectory(exactEvaluator('x'), info, z1, 2, cond, { mode: 'pmf', steps: 1, odeSteps: 1, rFraction: 0 });
  const packed = packFrames(frames, 2, 3);
  assert.equal(packed.length, 2 * 4 * 6);
  assert.deepEqual(Array.from(packed.subarray(6, 12)), Array.from(frames[0].fields.x));
  assert.deepEqual(Array.from(packed.subarray(24 + 18, 24 + 24)), Array.from(frames[1].fields.v));
});

test("rFraction 'step' shows each step's own r with one row set less", async () => {
  const calls: Array<{ z?: { data: unknown } }> = [];
  const frames = await trajectory(exactEvaluator('x', calls as never), info, z1, 2, cond,
    { mode: 'pmf', steps: 4, odeSteps: 1, rFraction: 'step' });
  assert.deepEqual(frames.map((f) => f.r), [0.75, 0.5, 0.25, 0, 0]);
  // 2 samples x (step r, v) = 4 rows of D = 3 per call
  assert.ok(calls.every((c) => (c.z!.data as Float32Array).length === 4 * 3));
  const f = frames[1]; // t = 0.75, r = 0.5: u is the exact average velocity over [0.5, 0.75]
  f.z.forEach((zj, j) => {
    const zr = (1 - 0.5) * MU + (sig(0.5) / sig(0.75)) * (zj - 0.25 * MU);
    close(f.fields.u[j], (zj - zr) / 0.25, 1e-4, 'u over [r, t]');
  });
});
