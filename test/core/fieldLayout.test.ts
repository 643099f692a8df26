// The one accessor of the [frames, 4, n, per] layout (src/core/fieldLayout.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FIELD_NAMES, FieldLayout, valuesPerSample } from '../../src/core/fieldLayout';
import { type Frame, packFrames } from '../../src/core/trajectory';

test('FieldLayout reads frames, fields and samples where packFrames puts them', () => {
  const n = 3;
  const shape = [2, 2, 2];
  const per = valuesPerSample(shape);
  assert.equal(per, 8);
  const frames = 4;
  // value = f * 1000 + k * 100 + s * 10 + i
  const fill = (f: number, k: number) => Float32Array.from({ length: n * per }, (_, j) => f * 1000 + k * 100 + Math.floor(j / per) * 10 + (j % per));
  const packed = packFrames(Array.from({ length: frames }, (_, f): Frame => ({
    t: 1, r: 0, z: fill(f, 0), fields: { x: fill(f, 1), u: fill(f, 2), v: fill(f, 3) },
  })), n, per);
  const L = FieldLayout.of(n, shape);
  assert.equal(L.frameSize, 4 * n * per);
  assert.equal(L.fieldSize, n * per);
  assert.equal(L.framesIn(packed.length), frames);
  assert.ok(Number.isNaN(L.framesIn(packed.length - 1)));
  assert.deepEqual([...FIELD_NAMES], ['z', 'x', 'u', 'v']);
  for (let f = 0; f < frames; f++) {
    assert.equal(L.frames(packed, f)[0], f * 1000);
    for (let k = 0; k < 4; k++) {
      assert.equal(L.field(packed, f, k)[0], f * 1000 + k * 100);
      for (let s = 0; s < n; s++) {
        const sample = L.sample(packed, f, k, s);
        assert.equal(sample.length, per);
        assert.equal(sample[per - 1], f * 1000 + k * 100 + s * 10 + per - 1);
        assert.equal(packed[L.index(f, k, s, 5)], f * 1000 + k * 100 + s * 10 + 5);
      }
    }
  }
  assert.equal(L.frames(packed, 1, 2).length, 2 * L.frameSize);
});
