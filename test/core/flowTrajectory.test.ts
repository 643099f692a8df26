// The flow-matching trajectory of the Field Visualizer (Fig. 1's construction) against Gaussian
// data's closed forms: the ODE path z_t = (1 - t) mu + sig(t) z_1, u(z_t, r, t) = (z_t - z_r) / (t - r)
// with the exact z_r, x = z_t - t u, and v at r = t.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { averageFromOde, flowTrajectory } from '../../src/core/flowTrajectory';
import type { Velocity } from '../../src/core/flowSampler';
import { MU, S, sig } from '../helpers/gaussian';

/** The exact v(z_t, t) = (z_t - E[x | z_t]) / t of x ~ N(mu, s^2), noise N(0, 1). */
const exactV: Velocity = async (z, t) => Float32Array.from(z, (zj) => {
  const post = MU + ((1 - t) * S * S / sig(t) ** 2) * (zj - (1 - t) * MU);
  return (zj - post) / t;
});
const zOf = (z1: number, t: number) => (1 - t) * MU + sig(t) * z1;
const Z1 = Float32Array.from([1.2, -0.7, 0.1]);

describe('flowTrajectory', () => {
  test('frames follow the exact ODE path; u and x at r = t/2 are the ODE average and its x', async () => {
    const frames = await flowTrajectory(exactV, Z1, { steps: 4, odeSteps: 200, rFraction: 0.5, solver: 'heun' });
    assert.deepEqual(frames.map((f) => f.t), [1, 0.75, 0.5, 0.25, 0]);
    assert.deepEqual(frames.map((f) => f.r), [0.5, 0.375, 0.25, 0.125, 0]);
    for (const f of frames) {
      Z1.forEach((z1, j) => {
        assert.ok(Math.abs(f.z[j] - zOf(z1, f.t)) < 1e-4, `z at t = ${f.t}: ${f.z[j]} vs ${zOf(z1, f.t)}`);
        if (f.t === 0) return;
        const u = (zOf(z1, f.t) - zOf(z1, f.r)) / (f.t - f.r);
        assert.ok(Math.abs(f.fields.u[j] - u) < 1e-3, `u at t = ${f.t}: ${f.fields.u[j]} vs ${u}`);
        assert.ok(Math.abs(f.fields.x[j] - (f.z[j] - f.t * f.fields.u[j])) < 1e-6);
      });
    }
  });

  test('r = 0: x is the end point z_0 = mu + s z_1 at every frame; r = t: u = v and x = z_t - t v', async () => {
    const toEnd = await flowTrajectory(exactV, Z1, { steps: 2, odeSteps: 200, rFraction: 0, solver: 'heun' });
    for (const f of toEnd.slice(0, -1)) Z1.forEach((z1, j) => assert.ok(Math.abs(f.fields.x[j] - (MU + S * z1)) < 1e-3));
    const inst = await flowTrajectory(exactV, Z1, { steps: 2, odeSteps: 50, rFraction: 1, solver: 'euler' });
    for (const f of inst.slice(0, -1)) {
      assert.deepEqual(f.fields.u, f.fields.v);
      f.z.forEach((z, j) => assert.ok(Math.abs(f.fields.x[j] - (z - f.t * f.fields.v[j])) < 1e-6));
    }
  });

  test('averageFromOde needs r < t', () => {
    assert.deepEqual(Array.from(averageFromOde(Float32Array.of(2), Float32Array.of(1), 1, 0.5).u), [2]);
    assert.throws(() => averageFromOde(Float32Array.of(1), Float32Array.of(1), 0.5, 0.5), /needs r < t/);
  });
});
