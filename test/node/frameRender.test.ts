// The exported GIF / WebP frames colour u and v with the panels' own diverging map.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interpolateRdBu } from 'd3-scale-chromatic';
import { DIVERGING, parseColor } from '../../src/core/colormap';
import { fieldFrames } from '../../src/extension/visualizer/frameRender';
import { FieldLayout } from '../../src/core/fieldLayout';

test('exported u frames use the panels\' RdBu map: -max blue, 0 white, +max red', () => {
  // one frame, one sample, 1 x 1 x 3 pixels; fields [frames, 4 (z, x, u, v), n, per]
  const layout = new FieldLayout(1, 3);
  const fields = new Float32Array(4 * 3);
  layout.sample(fields, 0, 2, 0).set([-2, 0, 2]);
  const [frame] = fieldFrames(fields, 1, 1, [1, 1, 3], 'u', [-1, 1]);
  const px = (x: number) => [...frame.pixels.subarray(x * 3, x * 3 + 3)];
  const lut = (i: number) => [...DIVERGING.rgb.subarray(i * 3, i * 3 + 3)];
  assert.deepEqual(px(0), lut(0));
  assert.deepEqual(px(1), lut(128));
  assert.deepEqual(px(2), lut(255));
  assert.deepEqual(px(0), parseColor(interpolateRdBu(1)), 'blue for the most negative');
  assert.deepEqual(px(2), parseColor(interpolateRdBu(0)), 'red for the most positive');
});
