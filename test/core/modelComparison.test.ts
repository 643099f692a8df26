// What "pMF: Compare Models" knows of its models (src/core/modelComparison.ts): labels, sizes,
// published metrics, the same classes and seeds for every model, the frames' times.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  COMPARE_STEPS, compareTimes, comparisonDetail, comparisonLabel, comparisonLabels, comparisonSeeds, networkWidth, patchOf,
  publishedMetrics, TABLE2_MODELS,
} from '../../src/core/modelComparison';
import { patchDimension } from '../../src/core/analysis';
import { tokenDimension, tokenDimensions } from '../../src/core/comparisonDimensions';

const model = (prediction: 'x' | 'u', patchSize: number, size: number, channels = 1) => ({
  prediction, declaredPrediction: prediction, modelType: 'mean-flow' as const, patchSize, channels,
  sampleShape: [channels, size, size], architecture: { hidden_size: 96, patch_size: patchSize } as Record<string, unknown>,
});

test('labels name the prediction and the patch with its dimension p * p * C', () => {
  assert.equal(comparisonLabel(model('x', 4, 28)), 'x-pred, patch 4x4 (dim 16)');
  assert.equal(comparisonLabel(model('u', 16, 112)), 'u-pred, patch 16x16 (dim 256)');
  assert.equal(comparisonLabel(model('x', 16, 256, 3)), 'x-pred, patch 16x16 (dim 768)', 'the paper\'s B/16');
  assert.equal(comparisonLabel({ ...model('u', 4, 28), modelType: 'flow-matching', declaredPrediction: 'v' }),
    'flow matching (v-pred), patch 4x4 (dim 16)');
  assert.equal(comparisonLabel({ ...model('x', 0, 28), patchSize: undefined }), 'x-pred', 'no patch size in the metadata');
  assert.deepEqual(patchOf(model('x', 16, 112)), { size: 16, dim: 256 });
});

test('the detail compares the patch dimension with the network width', () => {
  assert.equal(comparisonDetail(model('x', 4, 28)), '28x28 images, width 96 (patch dim < width)');
  assert.equal(comparisonDetail(model('u', 16, 112)), '112x112 images, width 96 (patch dim > width)');
  assert.equal(comparisonDetail({ ...model('x', 4, 28), architecture: {} }), '28x28 images');
  assert.equal(networkWidth({ architecture: { hidden_size: 'wide' } }), undefined);
  assert.equal(networkWidth({ architecture: { hidden_size: 768 } }), 768);
});

test('published metrics: the trainer\'s 1-NFE keys, the evaluator\'s, or none', () => {
  assert.deepEqual(publishedMetrics({ metrics: { class_consistency_1nfe: 0.9583, fd_vs_test_1nfe: 1.911, fd_real_train_vs_test: 0.029 } }),
    { fd: 1.911, classConsistency: 0.9583 });
  assert.deepEqual(publishedMetrics({ metrics: { fd_vs_test: 12.5, class_consistency: 0.42 } }), { fd: 12.5, classConsistency: 0.42 });
  assert.deepEqual(publishedMetrics({ metrics: { fd: 3 } }), { fd: 3 });
  assert.equal(publishedMetrics({ dataset: 'fashion-mnist', steps: 200 }), undefined, 'a provisional export without metrics');
  assert.equal(publishedMetrics({ metrics: [1, 2] }), undefined);
  assert.equal(publishedMetrics({ metrics: { fd_vs_test_1nfe: 'n/a', class_consistency_1nfe: 1.5 } }), undefined,
    'not numbers, or a share outside 0..1');
});

test('every model gets the same classes for the same seeds; unconditional models none', () => {
  assert.deepEqual(comparisonLabels(10, 12, 'mixed'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  assert.deepEqual(comparisonLabels(10, 3, 7), [7, 7, 7]);
  assert.deepEqual(comparisonLabels(4, 2, 7), [3, 3], 'a class beyond the model\'s wraps around');
  assert.equal(comparisonLabels(0, 8, 'mixed'), undefined);
  assert.throws(() => comparisonLabels(10, 2, -1), /non-negative integer/);
  assert.deepEqual(comparisonSeeds(5, 3), [5, 6, 7]);
  assert.throws(() => comparisonSeeds(0xffffffff, 2), /not uint32/);
});

test('the frames run from t = 1 to 0; the Table 2 set goes low patch dimension first, x before u', () => {
  const ts = compareTimes();
  assert.equal(ts.length, COMPARE_STEPS + 1);
  assert.equal(ts[0], 1);
  assert.equal(ts[ts.length - 1], 0);
  assert.ok(ts.every((t, i) => i === 0 || t < ts[i - 1]));
  assert.deepEqual([...TABLE2_MODELS], ['table2/x-p4', 'table2/u-p4', 'table2/x-p16', 'table2/u-p16']);
});

test('token dimensions: low for patches along one direction, high for noise, per frame of x and u', () => {
  const n = 4;
  const shape = [1, 16, 16];
  const per = 256;
  const p = 4;
  // x: every token a multiple of one fixed pattern (dimension 1); u: white noise (close to p * p = 16)
  const pattern = Float32Array.from({ length: p * p }, (_, k) => Math.sin(k + 1));
  const frames = 2;
  const x = new Float32Array(frames * n * per);
  const u = Float32Array.from({ length: frames * n * per }, (_, i) => gaussian(i));
  for (let f = 0; f < frames; f++) {
    for (let s = 0; s < n; s++) {
      for (let ty = 0; ty < 4; ty++) {
        for (let tx = 0; tx < 4; tx++) {
          const a = Math.cos(f * 7 + s * 3 + ty * 5 + tx * 11) + 2;
          for (let dy = 0; dy < p; dy++) for (let dx = 0; dx < p; dx++) {
            x[(f * n + s) * per + (ty * p + dy) * 16 + tx * p + dx] = a * pattern[dy * p + dx];
          }
        }
      }
    }
  }
  const seen: number[] = [];
  const d = tokenDimensions(x, u, frames, n, shape, p, (f) => seen.push(f));
  assert.deepEqual(seen, [0, 1]);
  assert.equal(d.patchDim, 16);
  for (const v of d.x) assert.ok(Math.abs(v - 1) < 1e-6, `x tokens along one direction: ${v}`);
  // 64 noise tokens of dimension 16: the sample covariance's participation ratio is well above half of 16
  for (const v of d.u) assert.ok(v > 8 && v <= 16, `u tokens of noise: ${v}`);
  assert.equal(tokenDimension(x.subarray(0, n * per), n, shape, p), d.x[0]);
  assert.throws(() => tokenDimensions(x, u, 3, n, shape, p), /expected frames \* n \* per/);
});

test('the token dimension is the Field Visualizer\'s participation ratio (eigenvalues) of the patches at stride p', () => {
  for (const [C, H, p, n] of [[1, 28, 4, 3], [3, 20, 5, 2], [1, 112, 16, 2], [1, 30, 7, 2]]) {
    const shape = [C, H, H];
    // correlated values: smooth images plus noise
    const img = Float32Array.from({ length: n * C * H * H }, (_, i) => Math.sin(i / 9) + 0.3 * gaussian(i + 17 * C));
    const ours = tokenDimension(img, n, shape, p);
    const eig = patchDimension(img, n, [C, H, H], p, { stride: p }).participationRatio;
    assert.ok(Math.abs(ours - eig) <= 1e-9 * eig, `C ${C}, ${H}x${H}, p ${p}: ${ours} vs ${eig}`);
  }
  assert.equal(tokenDimension(new Float32Array(2 * 64).fill(0.5), 2, [1, 8, 8], 4), 0, 'no variance');
  assert.throws(() => tokenDimension(new Float32Array(64), 1, [1, 8, 8], 9), /patch size/);
});

/** Deterministic standard normal values (Box-Muller on a hash). */
function gaussian(i: number): number {
  const h = (k: number) => ((Math.sin(k * 12.9898 + 78.233) * 43758.5453) % 1 + 1) % 1;
  const a = Math.max(1e-12, h(2 * i + 1));
  return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * h(2 * i + 2));
}
