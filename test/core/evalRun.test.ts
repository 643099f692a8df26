// pmf eval's run-level pieces (issue 12): the accumulator that shards merge exactly (class counts,
// Inception Score sums, kept features beside the feature statistics), the feature-network
// contract, and what sample i is.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OnnxHeader } from '../../src/core/checkpoint/onnxReader';
import {
  densityCoverage,
  EvalAccumulator,
  FEATURE_BATCH_BYTES,
  featureBatch,
  FeatureNetError,
  inceptionScore,
  manifoldMetrics,
  precisionRecall,
  readFeatureNet,
  sampleClass,
  sampleSeed,
  softmaxRows,
  toLevels,
} from '../../src/core/eval';
import { toUint8HWC } from '../../src/core/image';
import { gaussian } from '../../src/core/noise';

const D = 6;
const K = 4;
const N = 2600; // not a multiple of the block (1024) nor of the splits (10): a remainder is left out of IS

function batch(first: number, n: number): { features: Float32Array; probs: Float64Array; classes: number[] } {
  const features = gaussian(1000 + first, n * D);
  const logits = gaussian(5000 + first, n * K);
  for (let s = 0; s < n; s++) logits[s * K + ((first + s) % K)] += 1.5; // mostly "right"
  return { features, probs: softmaxRows(logits, K), classes: Array.from({ length: n }, (_, s) => sampleClass(first + s, K)) };
}

function accumulator(): EvalAccumulator {
  return new EvalAccumulator({ total: N, featureDim: D, logitClasses: K, modelClasses: K, keep: 700, splits: 10, blockSize: 256 });
}

/** Adds samples [lo, hi) in chunks of `step`. */
function fill(acc: EvalAccumulator, lo: number, hi: number, step: number): EvalAccumulator {
  for (let i = lo; i < hi; i += step) {
    const n = Math.min(step, hi - i);
    const b = batch(i, n);
    acc.add(i, b.features, b.probs, b.classes);
  }
  return acc;
}

// batch() depends on its start, so a run is always filled in the same chunks; the shards below
// cut it at chunk boundaries (multiples of 100).
const STEP = 100;

describe('EvalAccumulator', () => {
  test('the Inception Score from split sums equals core inceptionScore on the same probabilities', () => {
    const acc = fill(accumulator(), 0, N, STEP);
    const all = new Float64Array(N * K);
    for (let i = 0; i < N; i += STEP) all.set(batch(i, Math.min(STEP, N - i)).probs, i * K);
    const want = inceptionScore(all, K, 10);
    const got = acc.inceptionScore()!;
    assert.equal(got.used, want.used);
    assert.ok(Math.abs(got.mean - want.mean) < 1e-9 * want.mean, `${got.mean} vs ${want.mean}`);
    assert.ok(Math.abs(got.std - want.std) < 1e-7 * want.mean, `${got.std} vs ${want.std}`);
    assert.ok(got.mean > 1 && got.mean < K);
  });

  test('shards merged in any order equal one run bit for bit: statistics, class-consistency, IS, kept features', () => {
    const one = fill(accumulator(), 0, N, STEP);
    const cuts = [0, 300, 1100, 2000, N];
    const shards = cuts.slice(0, -1).map((lo, k) => fill(accumulator(), lo, cuts[k + 1], STEP));
    const merged = accumulator();
    for (const k of [2, 0, 3, 1]) merged.merge(shards[k]);
    const a = one.statistics.finish();
    const b = merged.statistics.finish();
    assert.deepEqual(Array.from(b.mean), Array.from(a.mean));
    assert.deepEqual(Array.from(b.covariance), Array.from(a.covariance));
    assert.deepEqual(merged.classConsistency(), one.classConsistency());
    assert.deepEqual(merged.inceptionScore(), one.inceptionScore());
    assert.deepEqual(merged.keptFeatures(), one.keptFeatures());
    assert.equal(merged.keptFeatures().indices.length, 700);
    const cc = one.classConsistency()!;
    assert.ok(cc.overall > 0.4 && cc.overall < 1, `class-consistency ${cc.overall}`);
  });

  test('a snapshot restores the accumulator exactly, and the restored one keeps accumulating', () => {
    const part = fill(accumulator(), 0, 1300, STEP);
    const restored = EvalAccumulator.fromSnapshot(part.snapshot());
    fill(restored, 1300, N, STEP);
    const one = fill(accumulator(), 0, N, STEP);
    assert.deepEqual(Array.from(restored.statistics.finish().covariance), Array.from(one.statistics.finish().covariance));
    assert.deepEqual(restored.inceptionScore(), one.inceptionScore());
    assert.deepEqual(restored.classConsistency(), one.classConsistency());
  });

  test('overlapping shards and shards of other settings are refused; an unfinished run has no IS', () => {
    const a = fill(accumulator(), 0, 600, STEP);
    const b = fill(accumulator(), 500, 900, STEP);
    assert.throws(() => a.merge(b), /counted twice|overlap/);
    const other = new EvalAccumulator({ total: N, featureDim: D, logitClasses: K, modelClasses: K, keep: 10, splits: 10, blockSize: 256 });
    assert.throws(() => accumulator().merge(other), /differ in keep/);
    assert.throws(() => fill(accumulator(), 0, 600, STEP).inceptionScore(), /not complete/);
    assert.throws(() => accumulator().add(N - 1, batch(0, 2).features, batch(0, 2).probs, [0, 1]), /outside the run/);
  });
});

describe('what sample i is', () => {
  test('seed (seed + i) mod 2^32, class i mod C', () => {
    assert.equal(sampleSeed(5, 7), 12);
    assert.equal(sampleSeed(0xffffffff, 1), 0);
    assert.equal(sampleSeed(0xfffffffe, 5), 3);
    assert.deepEqual([0, 1, 9, 10, 23].map((i) => sampleClass(i, 10)), [0, 1, 9, 0, 3]);
  });

  test('toLevels rounds as a saved PNG does and repeats a grey channel for a colour network', () => {
    const x = Float32Array.from([-1, -0.999, 0, 0.0039, 0.5, 1, 1.2, -3, 0.25, 0.251, 0.7, -0.2]);
    const grey = toLevels(x, 3, [1, 2, 2], [-1, 1], 1);
    assert.deepEqual(Array.from(grey), Array.from(toUint8HWC(x, 1, 3, 4, [-1, 1])));
    const rgb = toLevels(x, 3, [1, 2, 2], [-1, 1], 3);
    assert.equal(rgb.length, 36);
    for (let s = 0; s < 3; s++) for (let c = 0; c < 3; c++) assert.deepEqual(Array.from(rgb.subarray((s * 3 + c) * 4, (s * 3 + c + 1) * 4)), Array.from(grey.subarray(s * 4, s * 4 + 4)));
    assert.throws(() => toLevels(new Float32Array(24), 2, [3, 2, 2], [-1, 1], 1), /1-channel images; the model makes 3-channel/);
  });
});

describe('how many images the feature network runs at once', () => {
  test('small images 256 at a time; Inception, which resizes to 299x299 inside, 15 whatever the input size', () => {
    assert.equal(featureBatch(1, [28, 28], 'none', 64), 256); // the Fashion-MNIST classifier: as before
    assert.equal(featureBatch(3, [256, 256], 'bilinear-299', 1), 15); // B/16 into Inception-v3
    assert.equal(featureBatch(3, [32, 32], 'bilinear-299', 1), 15); // upsampled inside: its activations are 299x299's
    assert.equal(featureBatch(3, [512, 512], 'bilinear-299', 1), 5);
    assert.equal(featureBatch(3, [256, 256], 'none', 1), 21);
    assert.ok(15 * 4 * 3 * 299 * 299 <= FEATURE_BATCH_BYTES && 16 * 4 * 3 * 299 * 299 > FEATURE_BATCH_BYTES);
  });

  test('never fewer than the generator batch, nor than one image', () => {
    assert.equal(featureBatch(3, [256, 256], 'bilinear-299', 32), 32);
    assert.equal(featureBatch(3, [4096, 4096], 'none', 1), 1);
    assert.equal(featureBatch(3, [256, 256], 'bilinear-299', 0), 15);
  });
});

describe('the feature-network contract', () => {
  const meta = { format_version: 1, name: 'net', channels: 1, input_size: [28, 28], resize: 'none', feature_dim: 128, logit_classes: 10,
    class_names: null, source: null, real_data: { test_accuracy: 0.92 } };
  const header = (m: unknown, over: Partial<OnnxHeader> = {}): OnnxHeader => ({
    irVersion: 8, producerName: 't', producerVersion: '', opsets: [], docString: '',
    metadata: m === undefined ? {} : { pmf_feature_net: typeof m === 'string' ? m : JSON.stringify(m) },
    inputs: [{ name: 'images', elemType: 'float32', dims: ['N', 1, 28, 28] }],
    outputs: [{ name: 'features', elemType: 'float32', dims: ['N', 128] }, { name: 'logits', elemType: 'float32', dims: ['N', 10] }],
    ...over,
  });

  test('a valid header reads', () => {
    const info = readFeatureNet(header(meta), 'c.onnx');
    assert.deepEqual([info.featureDim, info.logitClasses, info.channels, info.inputSize, info.outputs], [128, 10, 1, [28, 28], ['features', 'logits']]);
    assert.deepEqual(info.realData, { test_accuracy: 0.92 });
    const noLogits = readFeatureNet(header({ ...meta, logit_classes: 0 }, { outputs: [{ name: 'features', elemType: 'float32', dims: ['N', 128] }] }), 'c.onnx');
    assert.deepEqual(noLogits.outputs, ['features']);
  });

  test('broken headers get errors naming the file and what is wrong', () => {
    const bad: Array<[OnnxHeader, RegExp]> = [
      [header(undefined), /c\.onnx is not a pMF Lab feature network: it has no 'pmf_feature_net' metadata.*export-classifier/],
      [{ ...header(undefined), metadata: { 'pmf.format_version': '1' } }, /It is a pMF generator: pass it as the model/],
      [header('{nope'), /c\.onnx: its 'pmf_feature_net' metadata is not JSON/],
      [header({ ...meta, feature_dim: 0 }), /invalid at 'feature_dim'/],
      [header(meta, { inputs: [{ name: 'x', elemType: 'float32', dims: ['N', 1, 28, 28] }] }), /one input named 'images'.*declares 'x'/],
      [header(meta, { inputs: [{ name: 'images', elemType: 'uint8', dims: ['N', 1, 28, 28] }] }), /must be float32 \[N, C, H, W\], it is uint8/],
      [header(meta, { inputs: [{ name: 'images', elemType: 'float32', dims: ['N', 3, 28, 28] }] }), /metadata says 1 channels at 28x28/],
      [header(meta, { outputs: [{ name: 'logits', elemType: 'float32', dims: ['N', 10] }] }), /an output named 'features'/],
      [header({ ...meta, feature_dim: 64 }), /'features' has 128 values per image, its metadata says 64/],
      [header(meta, { outputs: [{ name: 'features', elemType: 'float32', dims: ['N', 128] }] }), /names 10 classes but it has no 'logits' output/],
      [header({ ...meta, class_names: ['a'] }), /names 1 classes for 10 logits/],
    ];
    for (const [h, re] of bad) {
      assert.throws(() => readFeatureNet(h, 'c.onnx'), (e: unknown) => e instanceof FeatureNetError && re.test(e.message), String(re));
    }
  });
});

describe('manifoldMetrics', () => {
  test('equals precisionRecall and densityCoverage computed apart', () => {
    const real = gaussian(11, 300 * 5);
    const fake = gaussian(12, 250 * 5).map((v, i) => v * 1.2 + (i % 5 === 0 ? 0.3 : 0));
    const both = manifoldMetrics(real, fake, 5, 3, 5);
    assert.deepEqual(both.precisionRecall, precisionRecall(real, fake, 5, 3));
    assert.deepEqual(both.densityCoverage, densityCoverage(real, fake, 5, 5));
    assert.ok(both.precisionRecall.precision > 0.3 && both.precisionRecall.precision < 1);
  });
});
