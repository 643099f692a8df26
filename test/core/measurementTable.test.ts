// The table of measurements (src/core/analysis/measurementTable.ts) against what is made from it
// and what is not: the protocol's zod schema (src/shared/protocol/visualizer.ts) and the keys the
// measurer (FrameMeasurer, computeMeasurements) actually fills in, for image and toy models.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  alwaysMeasured, computeMeasurements, FrameMeasurer, MEASUREMENT_KEYS, measuredFor, measurement, MEASUREMENTS, type MeasurementKind,
  scalar, SCALARS, title,
} from '../../src/core/analysis';
import { FIELD_NAMES } from '../../src/core/fieldLayout';
import { gaussian } from '../../src/core/noise';
import { Measurements } from '../../src/shared/protocol/visualizer';

/** A measurer and a trajectory of 2 frames for each kind of model. */
const MODELS: Record<MeasurementKind, { n: number; shape: number[]; opts: ConstructorParameters<typeof FrameMeasurer>[2] }> = {
  image: { n: 2, shape: [1, 8, 8], opts: { patchSize: 4, kind: 'image' } },
  toy: { n: 8, shape: [4], opts: { patchSize: 4, kind: 'toy', embedding: [[1, 0], [0, 1], [0, 0], [0, 0]] } },
};
const FRAMES = 2;
const KINDS = Object.keys(MODELS) as MeasurementKind[];

function fields(kind: MeasurementKind): Float32Array {
  const { n, shape } = MODELS[kind];
  return gaussian(kind === 'image' ? 1 : 2, FRAMES * 4 * n * shape.reduce((a, b) => a * b, 1));
}

/** The table's keys measured for a kind, sorted. */
function tableKeys(kind: MeasurementKind): string[] {
  return MEASUREMENTS.filter((m) => measuredFor(m, kind)).map((m) => m.key).sort();
}

describe('the table of measurements', () => {
  test('keys and short names are unique, digits whole, every entry measured for some kind', () => {
    const keys = MEASUREMENTS.map((m) => m.key);
    assert.deepEqual(MEASUREMENT_KEYS, keys);
    assert.equal(new Set([...keys, ...SCALARS.map((s) => s.key)]).size, keys.length + SCALARS.length, 'a key appears twice');
    assert.equal(new Set(MEASUREMENTS.map((m) => m.short)).size, MEASUREMENTS.length, 'a short name appears twice');
    for (const m of MEASUREMENTS) {
      assert.ok(Number.isInteger(m.digits) && m.digits >= 0, `${m.key}: digits ${m.digits}`);
      assert.ok(m.kinds.length > 0 && m.label && m.short && m.unit && m.description, m.key);
      assert.equal(measurement(m.key), m);
    }
    assert.equal(scalar('patchDim').key, 'patchDim');
    assert.equal(title('high-frequency share'), 'High-frequency share');
    assert.equal(title('RMS'), 'RMS');
  });

  test('the zod schema has a key for each measurement and scalar, optional exactly where some kind lacks it', () => {
    assert.deepEqual(Object.keys(Measurements.shape).sort(), [...MEASUREMENT_KEYS, ...SCALARS.map((s) => s.key)].sort());
    const series = { ...computeMeasurements(fields('toy'), FRAMES, MODELS.toy.n, MODELS.toy.shape, MODELS.toy.opts), ms: 1 };
    for (const m of MEASUREMENTS) {
      const { [m.key]: _dropped, ...without } = series;
      assert.equal(Measurements.safeParse(without).success, !alwaysMeasured(m), `${m.key} without it`);
      assert.equal(Measurements.safeParse({ ...series, [m.key]: { z: [1], x: [1], u: [1] } }).success, false, `${m.key} without v`);
    }
  });

  for (const kind of KINDS) {
    test(`the measurer of ${kind} models fills in the table's ${kind} measurements, and the schema takes them as they are`, () => {
      const { n, shape, opts } = MODELS[kind];
      const measurer = new FrameMeasurer(n, shape, opts);
      const all = fields(kind);
      const frame = measurer.measure(all.subarray(0, all.length / FRAMES));
      assert.deepEqual(Object.keys(frame).sort(), tableKeys(kind));
      for (const key of tableKeys(kind)) {
        const perField = frame[key as keyof typeof frame]!;
        assert.deepEqual(Object.keys(perField).sort(), [...FIELD_NAMES].sort(), key);
        for (const f of FIELD_NAMES) assert.ok(Number.isFinite(perField[f]), `${key}.${f}: ${perField[f]}`);
      }
      const { patchDim, ...series } = computeMeasurements(all, FRAMES, n, shape, opts);
      assert.equal(patchDim, measurer.patchDim);
      assert.deepEqual(Object.keys(series).sort(), tableKeys(kind));
      assert.deepEqual(Object.keys(measurer.series()).sort(), [...tableKeys(kind), 'patchDim'].sort());
      const sent = { ...series, patchDim, ms: 3 };
      assert.deepEqual(Measurements.parse(sent), sent, 'the schema keeps every key of the series');
    });
  }
});
