// What "pMF: Compare Models" knows of its models (src/core/modelComparison.ts): labels, sizes,
// published metrics, the same classes and seeds for every model, the frames' times.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  COMPARE_STEPS, compareTimes, comparisonDetail, comparisonLabel, comparisonLabels, comparisonSeeds, networkWidth, patchOf,
  publishedMetrics, TABLE2_MODELS,
} from '../../src/core/modelComparison';

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
