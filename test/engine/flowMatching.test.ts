// Flow-matching models on the real engine (onnxruntime-node): the fixtures of
// trainer/tools/make_fm_fixtures.py sampled by Euler and Heun, against the trainer's own sampler
// (pmf_trainer.sample.flow_sample in PyTorch) from the same noise; seeded noise as for pMF models.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { computeMeasurements } from '../../src/core/analysis';
import { EngineClient, EngineError } from '../../src/engine/client';
import type { LoadResult } from '../../src/engine/protocol';
import { ENGINE, FM_EXPECTED, FM_FIXTURE, requireBuilt } from '../helpers/paths';

interface Expected {
  steps: number;
  labels: number[];
  omega: number;
  t_min: number;
  t_max: number;
  z1: number[];
  z0: { euler: number[]; heun: number[] };
}
const EXPECTED = JSON.parse(readFileSync(FM_EXPECTED, 'utf8')) as Record<'fm-x-two-pass' | 'fm-v-cfg', Expected>;

let client: EngineClient;
const models: Partial<Record<keyof typeof EXPECTED, LoadResult>> = {};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

before(async () => {
  requireBuilt();
  client = new EngineClient({ enginePath: ENGINE });
  for (const name of ['fm-x-two-pass', 'fm-v-cfg'] as const) models[name] = await client.load(FM_FIXTURE(name), 'cpu');
});
after(async () => {
  await client.dispose();
});

describe('flow-matching models in the engine', () => {
  test('the contract as loaded: t and no h, the output, the guidance, the default solver', () => {
    const x = models['fm-x-two-pass']!.info;
    assert.equal(x.modelType, 'flow-matching');
    assert.deepEqual(x.inputs, ['z', 't', 'y']);
    assert.equal(x.declaredPrediction, 'x');
    assert.equal(x.guidance, 'two-pass');
    assert.equal(x.defaultSolver, 'heun');
    const v = models['fm-v-cfg']!.info;
    assert.deepEqual(v.inputs, ['z', 't', 'y', 'omega', 't_min', 't_max']);
    assert.equal(v.declaredPrediction, 'v');
    assert.equal(v.guidance, 'inputs');
    assert.equal(v.defaultSolver, 'euler');
  });

  for (const name of ['fm-x-two-pass', 'fm-v-cfg'] as const) {
    for (const solver of ['euler', 'heun'] as const) {
      test(`${name}, ${solver}: the engine's samples from given noise are PyTorch's within 1e-5`, async () => {
        const e = EXPECTED[name];
        const r = await client.generate({
          modelId: models[name]!.modelId, seeds: e.labels.map((_, i) => i), labels: e.labels, batchSize: 2,
          steps: e.steps, omega: e.omega, tMin: e.t_min, tMax: e.t_max, noise: Float32Array.from(e.z1), solver,
        });
        assert.deepEqual(r.sampleShape, [1, 8, 8]);
        const d = maxAbsDiff(r.samples, e.z0[solver]);
        assert.ok(d < 1e-5, `max |engine - PyTorch| = ${d}`);
        const other = solver === 'euler' ? 'heun' : 'euler';
        assert.ok(maxAbsDiff(r.samples, e.z0[other]) > 1e-3, 'Euler and Heun give different samples');
      });
    }
  }

  test('without a solver the model\'s default applies; omega 1 turns two-pass guidance off', async () => {
    const e = EXPECTED['fm-x-two-pass'];
    const p = { modelId: models['fm-x-two-pass']!.modelId, seeds: [0, 1, 2], labels: e.labels, batchSize: 3, steps: e.steps,
      omega: e.omega, tMin: e.t_min, tMax: e.t_max, noise: Float32Array.from(e.z1) };
    assert.ok(maxAbsDiff((await client.generate(p)).samples, e.z0.heun) < 1e-5);
    const unguided = await client.generate({ ...p, omega: 1 });
    assert.ok(maxAbsDiff(unguided.samples, e.z0.heun) > 1e-3);
  });

  test('seeded noise: sample i depends on its seed only, whatever the batch', async () => {
    const p = { modelId: models['fm-x-two-pass']!.modelId, steps: 3, omega: 2, tMin: 0, tMax: 1, solver: 'heun' as const };
    const all = await client.generate({ ...p, seeds: [5, 6, 7], labels: [0, 1, 2], batchSize: 3 });
    const one = await client.generate({ ...p, seeds: [6], labels: [1], batchSize: 1 });
    const split = await client.generate({ ...p, seeds: [5, 6, 7], labels: [0, 1, 2], batchSize: 2 });
    assert.deepEqual(Array.from(one.samples), Array.from(all.samples.subarray(64, 128)));
    assert.ok(maxAbsDiff(split.samples, all.samples) < 1e-6);
  });

  test('the Field Visualizer: the ODE path is the sampler\'s, u and x come from the ODE solution (Fig. 1)', async () => {
    const e = EXPECTED['fm-x-two-pass'];
    const m = models['fm-x-two-pass']!;
    const base = { modelId: m.modelId, seeds: [0, 1, 2], labels: e.labels, omega: e.omega, tMin: e.t_min, tMax: e.t_max };
    // one solver step between frames: the frames are the 4-step sampler's states
    const tr = await client.trajectory({ ...base, mode: 'ode', steps: e.steps, odeSteps: e.steps, rFraction: 0, solver: 'euler' });
    assert.deepEqual(tr.times, [1, 0.75, 0.5, 0.25, 0]);
    const per = 64;
    const block = 3 * per;
    const field = (frame: number, k: number) => tr.fields!.subarray((frame * 4 + k) * block, (frame * 4 + k + 1) * block);
    const generated = await client.generate({ ...base, batchSize: 3, steps: e.steps, solver: 'euler' });
    assert.ok(maxAbsDiff(field(4, 0), generated.samples) < 1e-5, 'the last frame is the sample');
    // r = 0: u = (z_t - z_0) / t, so x = z_0 at every frame
    for (const f of [0, 1, 2]) assert.ok(maxAbsDiff(field(f, 1), generated.samples) < 1e-5, `x at frame ${f} is z_0`);
    // at r = t: u = v
    const inst = await client.fieldsAt({ trajectoryId: tr.trajectoryId, frame: 1, rFraction: 1 });
    assert.ok(maxAbsDiff(inst.fields!.subarray(block), field(1, 3)) < 1e-6, 'u = v at r = t');
    await assert.rejects(client.trajectory({ ...base, mode: 'pmf', steps: 2, odeSteps: 8, rFraction: 0 }), /flow-matching model: it has no r/);
    await assert.rejects(client.consistency(tr.trajectoryId, 4), /no MeanFlow consistency/);
    // the measurements apply unchanged: the same as computed on the frames here
    const { measurements } = await client.measure(tr.trajectoryId, 2);
    assert.deepEqual(measurements, computeMeasurements(tr.fields!, 5, 3, [1, 8, 8], { patchSize: 2, kind: 'image' }));
    assert.ok(measurements.highFrequencyShare.x.every(Number.isFinite) && measurements.participationRatio.u.every(Number.isFinite));
  });

  test('an unknown solver is a bad request', async () => {
    await assert.rejects(client.generate({ modelId: models['fm-v-cfg']!.modelId, seeds: [0], labels: [0], batchSize: 1,
      steps: 2, omega: 1, tMin: 0, tMax: 1, solver: 'rk4' as never }), (err: unknown) => {
      assert.ok(err instanceof EngineError);
      assert.equal(err.code, 'bad-request');
      assert.match(err.message, /Unknown solver 'rk4': use euler or heun/);
      return true;
    });
  });
});
