// The engine keeps its last few trajectories (4) for the Field Visualizer's follow-up requests;
// a trajectory asked for with keep: false (Compare Models takes every frame at once) is answered
// without being kept, so runs of it do not push the Visualizer's trajectory out, and follow-ups
// on it are refused plainly. Real onnxruntime, the bundled Fashion-MNIST and Table 2 models.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EngineClient, EngineError } from '../../src/engine/client';
import type { LoadResult, TrajectoryParams } from '../../src/engine/protocol';
import { columnView, computeColumn } from '../../src/extension/compareModels/compareColumn';
import type { CompareConfig } from '../../src/shared/protocol/compareModels';
import { ENGINE, FASHION, REPO, requireBuilt } from '../helpers/paths';

const PER = 784;
const N = 2;
let client: EngineClient;
let fm: LoadResult;

/** A Field Visualizer request: pMF steps, fields at r = 0 (kept: the default). */
function visualizer(modelId: string): TrajectoryParams {
  return { modelId, mode: 'pmf', seeds: [3, 4], labels: [1, 7], omega: 3, tMin: 0, tMax: 1, steps: 4, odeSteps: 8, rFraction: 0 };
}

/** x (k = 1) or u (k = 2) of a frame in a trajectory's [frames, 4, n, per] fields. */
const field = (fields: Float32Array, frame: number, k: number) => fields.subarray((frame * 4 + k) * N * PER, (frame * 4 + k + 1) * N * PER);

before(async () => {
  requireBuilt();
  client = new EngineClient({ enginePath: ENGINE });
  fm = await client.load(FASHION, 'cpu');
});
after(async () => {
  await client.dispose();
});

const notKept = (e: unknown) => e instanceof EngineError && e.code === 'bad-request' &&
  /That trajectory was run with keep: false, so the engine did not keep it for follow-up requests/.test(e.message);

test('five keep: false trajectories leave the Visualizer\'s kept one in place; follow-ups on them are refused plainly', async () => {
  const kept = await client.trajectory(visualizer(fm.modelId));
  const unkept: string[] = [];
  for (let i = 0; i < 5; i++) { // more than the engine keeps
    const r = await client.trajectory({ ...visualizer(fm.modelId), mode: 'ode', seeds: [20 + i, 30 + i], keep: false });
    assert.equal(r.times.length, 5);
    assert.equal(r.fields!.length, 5 * 4 * N * PER, 'every frame comes with the reply');
    unkept.push(r.trajectoryId);
  }
  // the kept trajectory answers a new r from its own frames (no new trajectory run)
  const at = await client.fieldsAt({ trajectoryId: kept.trajectoryId, frame: 2, rFraction: 0.5 });
  assert.equal(at.t, 0.5);
  assert.equal(at.r, 0.25);
  assert.equal(at.fields!.length, 2 * N * PER);
  const at0 = await client.fieldsAt({ trajectoryId: kept.trajectoryId, frame: 2, rFraction: 0 });
  assert.deepEqual(at0.fields!.subarray(0, N * PER), field(kept.fields!, 2, 1), 'x at r = 0 as in the kept frames');
  assert.deepEqual(at0.fields!.subarray(N * PER), field(kept.fields!, 2, 2), 'u at r = 0 as in the kept frames');
  assert.equal((await client.measure(kept.trajectoryId, 4)).measurements.rms.x.length, 5);
  assert.equal((await client.frameData(kept.trajectoryId, 4)).t, 0);

  assert.equal(new Set(unkept).size, 5, 'each run has its own id');
  for (const id of unkept) assert.notEqual(id, kept.trajectoryId);
  await assert.rejects(client.fieldsAt({ trajectoryId: unkept[4], frame: 1, rFraction: 0.5 }), notKept);
  await assert.rejects(client.measure(unkept[0], 4), notKept);
  await assert.rejects(client.consistency(unkept[1], 2), notKept);
  await assert.rejects(client.frameData(unkept[2], 0), notKept);
});

test('keep: false returns the same frames as a kept run of the same request', async () => {
  const p: TrajectoryParams = { ...visualizer(fm.modelId), steps: 2 };
  const a = await client.trajectory(p);
  const b = await client.trajectory({ ...p, keep: false });
  assert.deepEqual(b.times, a.times);
  assert.deepEqual(b.rs, a.rs);
  assert.deepEqual(b.fields, a.fields);
});

test('without keep: false, five more trajectories push the first out (what keep: false prevents)', async () => {
  const first = await client.trajectory(visualizer(fm.modelId));
  for (let i = 0; i < 5; i++) await client.trajectory({ ...visualizer(fm.modelId), steps: 1, seeds: [40 + i, 50 + i] });
  await assert.rejects(client.fieldsAt({ trajectoryId: first.trajectoryId, frame: 1, rFraction: 0.5 }),
    (e: unknown) => e instanceof EngineError && e.code === 'unknown-trajectory');
});

test('four Compare Models columns leave the Visualizer\'s trajectory in the engine', { timeout: 120_000 }, async () => {
  const path = join(REPO, 'models', 'table2', 'x-p4.onnx');
  const load = await client.load(path, 'cpu');
  const kept = await client.trajectory(visualizer(fm.modelId));
  for (let seed = 0; seed < 4; seed++) { // the panel's four columns at most (one model here, four seeds)
    const cfg: CompareConfig = { models: ['table2/x-p4'], seed, samples: 2, classChoice: 'mixed', frame: 4 };
    const c = await computeColumn(client, load, columnView('table2/x-p4', path, load, cfg), cfg, new AbortController().signal);
    assert.equal(c.column.n, 2);
  }
  const at = await client.fieldsAt({ trajectoryId: kept.trajectoryId, frame: 1, rFraction: 0.5 });
  assert.equal(at.t, 0.75);
  assert.equal(at.fields!.length, 2 * N * PER);
});
