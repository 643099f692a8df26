// The Field Visualizer's config for a flow-matching model (src/shared/protocol/visualizer.ts):
// its ODE with the model's solver and steps, u and x at r = rFraction t (no step r); a MeanFlow
// model's config unchanged; a config saved before solvers existed still restores.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConfig, flowConfig, VizConfig } from '../../src/shared/protocol/visualizer';

const guidance = { omega: 2, tMin: 0, tMax: 1 };

test('a flow-matching model starts on its ODE with its default_sampling solver and steps, u and x down to r = 0', () => {
  const c = defaultConfig('/m.onnx', 10, guidance, { steps: 16, samples: 4, patchSize: 7 }, { solver: 'heun', steps: 16 });
  assert.equal(c.mode, 'ode');
  assert.equal(c.rMode, 'fraction');
  assert.equal(c.rFraction, 0);
  assert.equal(c.solver, 'heun');
  assert.equal(c.odeSteps, 16, 'the model\'s steps per unit of t, not the v-ODE\'s 128 Euler steps');
  assert.equal(c.steps, 16);
  assert.ok(VizConfig.safeParse(c).success);
});

test('a MeanFlow model\'s config has no solver and keeps its step r', () => {
  const c = defaultConfig('/m.onnx', 10, guidance, { steps: 16, samples: 4, patchSize: 7 });
  assert.equal(c.mode, 'pmf');
  assert.equal(c.rMode, 'step');
  assert.equal(c.odeSteps, 128);
  assert.equal('solver' in c, false);
});

test('flowConfig: the ODE and a fraction r whatever was asked; a chosen solver stays', () => {
  const mf = defaultConfig('/m.onnx', 0, guidance);
  const asked = { ...mf, mode: 'image' as const, rMode: 'step' as const };
  assert.deepEqual(flowConfig(asked, { solver: 'heun' }), { ...asked, mode: 'ode', rMode: 'fraction', solver: 'heun' });
  assert.equal(flowConfig({ ...mf, solver: 'euler' }, { solver: 'heun' }).solver, 'euler');
});

test('a saved config without a solver restores; an unknown solver does not', () => {
  const c = defaultConfig('/m.onnx', 0, guidance);
  assert.ok(VizConfig.safeParse(c).success);
  assert.equal(VizConfig.safeParse({ ...c, solver: 'rk4' }).success, false);
});
