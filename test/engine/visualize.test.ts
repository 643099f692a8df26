// Field Visualizer requests in the engine, with the real onnxruntime and the bundled models.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { computeMeasurements } from '../../src/core/analysis';
import { gaussian } from '../../src/core/noise';
import { EngineClient, EngineError } from '../../src/engine/client';
import type { LoadResult, TrajectoryParams } from '../../src/engine/protocol';
import { ENGINE, FASHION, FIXTURE, requireBuilt, TOY } from '../helpers/paths';

let client: EngineClient;
let fm: LoadResult;
const PER = 784;

function base(modelId: string): TrajectoryParams {
  return { modelId, mode: 'pmf', seeds: [0, 1, 2, 3], labels: [0, 1, 7, 9], omega: 3, tMin: 0, tMax: 1, steps: 16,
    odeSteps: 64, rFraction: 0 };
}

function block(fields: Float32Array, frame: number, field: number, n: number, per: number): Float32Array {
  return fields.subarray((frame * 4 + field) * n * per, (frame * 4 + field + 1) * n * per);
}

before(async () => {
  requireBuilt();
  client = new EngineClient({ enginePath: ENGINE });
  fm = await client.load(FASHION, 'cpu');
});
after(async () => {
  await client.dispose();
});

test('a 16-step pMF trajectory has 17 frames of z, x, u, v; its first x is the one-step sample', async () => {
  const tr = await client.trajectory(base(fm.modelId));
  assert.equal(tr.times.length, 17);
  assert.equal(tr.times[0], 1);
  assert.equal(tr.times[16], 0);
  assert.ok(tr.fields instanceof Float32Array);
  assert.equal(tr.fields.length, 17 * 4 * 4 * PER);
  const g = await client.generate({ modelId: fm.modelId, seeds: [0, 1, 2, 3], labels: [0, 1, 7, 9], steps: 1, omega: 3,
    tMin: 0, tMax: 1, batchSize: 4 });
  const x0 = block(tr.fields, 0, 1, 4, PER);
  let d = 0;
  for (let i = 0; i < x0.length; i++) d = Math.max(d, Math.abs(x0[i] - g.samples[i]));
  assert.ok(d < 1e-4, `x(z_1, 0, 1) vs the one-step sample: ${d}`);
  const z1 = block(tr.fields, 0, 0, 4, PER);
  const e = gaussian(2, PER);
  assert.ok(Math.abs(z1[2 * PER + 5] - e[5]) < 1e-6, 'z_1 is the seeded noise of sample 2');
});

test('the paper\'s claim, measured on the bundled model: x has low patch dimension, u and v do not', async () => {
  const tr = await client.trajectory(base(fm.modelId));
  const seen: number[] = [];
  const { measurements: m, ms } = await client.measure(tr.trajectoryId, 4, undefined, (p) => {
    seen.push(p.frame);
    assert.equal(p.frames, 17);
    assert.equal(p.patchDim, 16);
  });
  assert.deepEqual(seen, Array.from({ length: 17 }, (_, i) => i), 'every frame is reported, in order');
  assert.equal(m.patchDim, 16);
  for (const f of [0, 4, 8]) { // t = 1, 0.75, 0.5
    assert.ok(m.participationRatio.x[f] < 0.6 * m.participationRatio.u[f],
      `t=${tr.times[f]}: PR(x) ${m.participationRatio.x[f]} vs PR(u) ${m.participationRatio.u[f]}`);
    assert.ok(m.participationRatio.x[f] < 0.6 * m.participationRatio.v[f]);
    assert.ok(m.highFrequencyShare.x[f] < m.highFrequencyShare.u[f]);
  }
  assert.ok(m.components95.u[0] >= 0.8 * m.patchDim, 'u at t = 1 is close to full dimension');
  assert.ok(tr.ms > 0 && ms > 0);
  // the worker thread computes what core computes in-process
  const local = computeMeasurements(tr.fields!, 17, 4, [1, 28, 28], { patchSize: 4, kind: 'image' });
  assert.deepEqual(m, local);
});

test('three measurement workers share the frames and report them in order, with the numbers of one', async () => {
  const multi = new EngineClient({ enginePath: ENGINE, env: { PMF_MEASURE_WORKERS: '3' } });
  try {
    const m = await multi.load(FASHION, 'cpu');
    const tr = await multi.trajectory({ ...base(m.modelId), steps: 7 });
    const order: number[] = [];
    const got = await multi.measure(tr.trajectoryId, 4, undefined, (p) => order.push(p.frame));
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(got.measurements, computeMeasurements(tr.fields!, 8, 4, [1, 28, 28], { patchSize: 4, kind: 'image' }));
    const again = await multi.measure(tr.trajectoryId, 5); // the kept workers take the next job
    assert.equal(again.measurements.patchDim, 25);
    assert.equal(again.measurements.rms.x.length, 8);
    // a cancel ends all three; the next job starts new ones
    const ac = new AbortController();
    const slow = multi.measure(tr.trajectoryId, 28, ac.signal, () => ac.abort());
    await assert.rejects(slow, (e: unknown) => e instanceof EngineError && e.code === 'cancelled');
    assert.equal((await multi.measure(tr.trajectoryId, 2)).measurements.patchDim, 4);
  } finally {
    await multi.dispose();
  }
});

test('measuring runs beside the engine\'s other work: the r slider answers meanwhile, and a cancel stops it', async () => {
  // 28 x 28 patches (d = 784): a few hundred ms per field, seconds for the trajectory
  const tr = await client.trajectory({ ...base(fm.modelId), steps: 8 });
  const ac = new AbortController();
  let frames = 0;
  let measureDone = false;
  const measuring = client.measure(tr.trajectoryId, 28, ac.signal, () => { frames++; }).finally(() => { measureDone = true; });
  const at = await client.fieldsAt({ trajectoryId: tr.trajectoryId, frame: 4, rFraction: 0.5 });
  assert.equal(at.t, 0.5);
  assert.equal(measureDone, false, 'the r slider was answered before the measurement finished');
  ac.abort();
  await assert.rejects(measuring, (e: unknown) => e instanceof EngineError && e.code === 'cancelled');
  assert.ok(frames < 9, `cancelled after ${frames} of 9 frames`);
  const again = await client.measure(tr.trajectoryId, 7);
  assert.equal(again.measurements.rms.x.length, 9, 'the engine measures again after a cancel');
});

test('the r slider: x and u of a frame at another r (z and v stay the frame\'s); r = t gives u = v', async () => {
  const tr = await client.trajectory(base(fm.modelId));
  const at = await client.fieldsAt({ trajectoryId: tr.trajectoryId, frame: 8, rFraction: 1 });
  assert.equal(at.t, 0.5);
  assert.equal(at.r, 0.5);
  assert.equal(at.fields!.length, 2 * 4 * PER, 'x and u only');
  const xAndU = (f: Float32Array, k: 0 | 1) => f.subarray(k * 4 * PER, (k + 1) * 4 * PER);
  assert.deepEqual(xAndU(at.fields!, 1), block(tr.fields!, 8, 3, 4, PER), 'u at r = t is v');
  const at0 = await client.fieldsAt({ trajectoryId: tr.trajectoryId, frame: 8, rFraction: 0 });
  assert.deepEqual(xAndU(at0.fields!, 0), block(tr.fields!, 8, 1, 4, PER), 'x as in the trajectory at r = 0');
  assert.deepEqual(xAndU(at0.fields!, 1), block(tr.fields!, 8, 2, 4, PER), 'u as in the trajectory at r = 0');
});

test('trajectories and the consistency check report their progress: network calls done of all', async () => {
  const seen: string[] = [];
  await client.trajectory({ ...base(fm.modelId), steps: 4 }, undefined, (done, total) => seen.push(`${done}/${total}`));
  assert.deepEqual(seen, ['1/5', '2/5', '3/5', '4/5', '5/5']);
  const ode: number[] = [];
  const tr = await client.trajectory({ ...base(fm.modelId), mode: 'ode', steps: 2, odeSteps: 6 }, undefined, (done, total) => {
    assert.equal(total, 7);
    ode.push(done);
  });
  assert.deepEqual(ode, [1, 2, 3, 4, 5, 6, 7]);
  const fine: number[] = [];
  await client.consistency(tr.trajectoryId, 3, undefined, (done) => fine.push(done));
  assert.deepEqual(fine, [1, 2, 3]);
});

test('MeanFlow consistency of the bundled model is a finite number per frame; 0 at t = 0', async () => {
  const tr = await client.trajectory({ ...base(fm.modelId), steps: 4 });
  const c = await client.consistency(tr.trajectoryId, 8);
  assert.equal(c.relativeError.length, 5);
  assert.equal(c.relativeError[4], 0);
  for (const e of c.relativeError.slice(0, 4)) assert.ok(Number.isFinite(e) && e > 0 && e < 5, String(e));
});

test('v-ODE and real-image trajectories', async () => {
  const ode = await client.trajectory({ ...base(fm.modelId), mode: 'ode', steps: 4, odeSteps: 32 });
  assert.deepEqual(ode.times, [1, 0.75, 0.5, 0.25, 0]);
  const x = new Float32Array(PER).map((_, i) => ((i % 28) / 27) * 2 - 1); // a horizontal ramp
  const img = await client.trajectory({ ...base(fm.modelId), mode: 'image', steps: 2, seeds: [5, 6],
    labels: [0, 0], image: { x, tStart: 0.6, path: 'straight' } });
  assert.deepEqual(img.times, [0.6, 0.3, 0]);
  const z = block(img.fields!, 1, 0, 2, PER);
  const e = gaussian(6, PER);
  assert.ok(Math.abs(z[PER + 10] - (0.7 * x[10] + 0.3 * e[10])) < 1e-5, 'z_t = (1 - t) x + t e');
  await assert.rejects(client.trajectory({ ...base(fm.modelId), mode: 'image' }),
    (err: unknown) => err instanceof EngineError && err.code === 'bad-request');
});

test('toy models: the data-plane view shows u-prediction leaving the plane at D = 512', async () => {
  const off = async (pred: 'x' | 'u') => {
    const toy = await client.load(TOY(pred, 512), 'cpu');
    const seeds = Array.from({ length: 64 }, (_, i) => i);
    const tr = await client.trajectory({ modelId: toy.modelId, mode: 'pmf', seeds, omega: 1, tMin: 0, tMax: 1, steps: 1,
      odeSteps: 1, rFraction: 0 });
    assert.equal(tr.fields, undefined);
    assert.equal(tr.toy!.plane.length, 2 * 4 * 64 * 2);
    return (await client.measure(tr.trajectoryId, 4)).measurements.offPlaneNorm!.x[0];
  };
  const x = await off('x');
  const u = await off('u');
  assert.ok(x < 0.5 && u > 5, `off-plane norm of x(z_1, 0, 1): x-pred ${x}, u-pred ${u}`);
});

test('follow-up requests for a trajectory the engine no longer holds say so', async () => {
  await assert.rejects(client.fieldsAt({ trajectoryId: 'gone', frame: 0, rFraction: 0 }),
    (e: unknown) => e instanceof EngineError && e.code === 'unknown-trajectory' && /run it again/.test(e.message));
});

for (const variant of ['image-u-prediction', 'image-unconditional', 'image-no-cfg'] as const) {
  test(`model variant ${variant}: generation and every trajectory mode work`, async () => {
    const m = await client.load(FIXTURE(variant), 'cpu');
    const info = m.info;
    assert.equal(info.prediction, variant === 'image-u-prediction' ? 'u' : 'x');
    assert.equal(info.hasCfg, variant === 'image-u-prediction');
    assert.equal(info.numClasses, variant === 'image-unconditional' ? 0 : 3);
    const labels = info.numClasses ? [0, 3] : undefined; // 3 = unconditional
    const g = await client.generate({ modelId: m.modelId, seeds: [1, 2], labels, steps: 2, omega: info.hasCfg ? 2 : 1,
      tMin: 0, tMax: 1, batchSize: 2 });
    assert.equal(g.samples.length, 2 * 256);
    assert.ok(g.samples.every(Number.isFinite));
    const x = new Float32Array(256).fill(0.5);
    for (const mode of ['pmf', 'ode', 'image'] as const) {
      const tr = await client.trajectory({ modelId: m.modelId, mode, seeds: [1, 2], labels, omega: 1, tMin: 0, tMax: 1,
        steps: 3, odeSteps: 6, rFraction: 'step',
        image: mode === 'image' ? { x, tStart: 0.8, path: 'model' } : undefined });
      assert.equal(tr.times.length, 4);
      assert.equal(tr.fields!.length, 4 * 4 * 2 * 256);
      assert.ok(tr.fields!.every(Number.isFinite), `${mode}: finite fields`);
      assert.ok(Number.isFinite((await client.measure(tr.trajectoryId, 4)).measurements.participationRatio.u[0]));
    }
  });
}

test('a patch size that does not fit the image is refused with the range that does', async () => {
  const m = await client.load(FASHION, 'cpu'); // the variants above may have released it (4 sessions at most)
  const tr = await client.trajectory({ ...base(m.modelId), steps: 1 });
  await assert.rejects(client.measure(tr.trajectoryId, 32),
    (e: unknown) => e instanceof EngineError && e.code === 'bad-request' && /Patch size 32 does not fit the 28x28 images of this model: choose 2 to 28/.test(e.message));
});
