// A column of "pMF: Compare Models" (src/extension/compareModels/compareColumn.ts) in the real
// engine on the bundled Table 2 models (28 x 28 with 4 x 4 patches, 112 x 112 with 16 x 16): its
// first frame's x is exactly the one-step sample Generate Samples makes for the same seed and
// class, x and u come for every frame of the v-ODE from t = 1 to 0, and the effective dimension
// of x's and u's tokens (the model's own patches: dimension 16 and 256) is measured in a worker
// thread, frame by frame.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { compareTimes, comparisonLabels } from '../../src/core/modelComparison';
import { EngineClient } from '../../src/engine/client';
import type { LoadResult } from '../../src/engine/protocol';
import { columnView, computeColumn, measureColumn } from '../../src/extension/compareModels/compareColumn';
import type { CompareConfig, Quantised } from '../../src/shared/protocol/compareModels';
import { ENGINE, REPO, requireBuilt, TOY } from '../helpers/paths';

const TABLE2 = (name: string) => join(REPO, 'models', 'table2', `${name}.onnx`);
let client: EngineClient;
const loads = new Map<string, LoadResult>();
const cfg: CompareConfig = { models: ['table2/x-p4', 'table2/u-p16'], seed: 11, samples: 3, classChoice: 'mixed', frame: 4 };

before(async () => {
  requireBuilt();
  client = new EngineClient({ enginePath: ENGINE });
  for (const name of ['x-p4', 'u-p16']) loads.set(name, await client.load(TABLE2(name), 'cpu'));
});
after(async () => {
  await client.dispose();
});

/** Value i of a quantised array (block `per` values long). */
const decode = (q: Quantised, per: number, i: number) => {
  const b = Math.floor(i / per);
  return q.lo[b] + (q.data[i] * (q.hi[b] - q.lo[b])) / 255;
};

for (const [name, size, patchDim] of [['x-p4', 28, 16], ['u-p16', 112, 256]] as const) {
  test(`${name}: one-step samples, x and u along t, effective dimension of ${patchDim}-dimensional patches`, { timeout: 120_000 }, async () => {
    const load = loads.get(name)!;
    const view = columnView(`table2/${name}`, TABLE2(name), load, cfg);
    assert.equal(view.patchDim, patchDim);
    assert.deepEqual(view.sampleShape, [1, size, size]);
    assert.deepEqual(view.labels, comparisonLabels(10, 3, 'mixed'));
    assert.match(view.label, new RegExp(`^${name[0]}-pred, patch`));
    const ac = new AbortController();
    const c = await computeColumn(client, load, view, cfg, ac.signal);
    const per = size * size;
    const frames = compareTimes().length;
    assert.deepEqual(c.column.times.map((t) => +t.toFixed(6)), compareTimes().map((t) => +t.toFixed(6)));
    assert.equal(c.column.n, 3);
    assert.equal(c.column.x.data.length, frames * 3 * per);
    assert.equal(c.column.u.data.length, frames * 3 * per);
    assert.equal(c.column.x.lo.length, frames * 3, 'one range per sample and frame');

    // frame 0's x is the one-step sample of the same seed and class, as Generate Samples makes it
    const s = view.sampling;
    const g = await client.generate({ modelId: load.modelId, seeds: [11, 12, 13], labels: view.labels, steps: 1,
      omega: s.omega, tMin: s.tMin, tMax: s.tMax, batchSize: 3 });
    let worst = 0;
    for (let i = 0; i < 3 * per; i++) {
      const b = Math.floor(i / per);
      const tol = (c.column.x.hi[b] - c.column.x.lo[b]) / 510 + 1e-4;
      worst = Math.max(worst, Math.abs(decode(c.column.x, per, i) - g.samples[i]) / tol);
    }
    assert.ok(worst <= 1, `one-step samples within half a quantisation step (worst ${worst.toFixed(3)} of it)`);
    // u = (z_t - x) / t at t = 1 is z_1 - x: not the sample
    assert.notEqual(decode(c.column.u, per, 0), decode(c.column.x, per, 0));

    const seen: number[] = [];
    const m = await measureColumn(join(REPO, 'dist', 'tokenDimensionsWorker.js'), c, view.patchSize, ac.signal, (p) => seen.push(p.done));
    assert.equal(m.patchDim, patchDim);
    assert.equal(m.dimX.length, frames);
    assert.equal(m.dimU.length, frames);
    assert.deepEqual(seen, Array.from({ length: frames }, (_, i) => i + 1), 'every frame reported as it is done, in order');
    for (const d of [...m.dimX, ...m.dimU]) assert.ok(d >= 1 && d <= patchDim, `participation ratio ${d} in [1, ${patchDim}]`);
    console.log(`${name}: ${c.column.ms.toFixed(0)} ms trajectory, ${m.ms.toFixed(0)} ms measurements; ` +
      `PR x ${m.dimX.map((d) => d.toFixed(1)).join(' ')} | PR u ${m.dimU.map((d) => d.toFixed(1)).join(' ')}`);
  });
}

test('a toy model is refused with a reason', async () => {
  const toy = await client.load(TOY('x', 2), 'cpu');
  assert.throws(() => columnView('swiss-roll/x-D2', TOY('x', 2), toy, cfg), /is a toy model: Compare Models shows image models/);
});
