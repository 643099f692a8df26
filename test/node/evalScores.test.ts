// scoreEval's choice of scores: class-consistency only where the feature network's classes are
// the model's (the bundled classifier's 10 for the Fashion-MNIST model), a note instead where they
// are not (Inception-v3's 1008 outputs for an ImageNet model's 1000 classes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EvalAccumulator, sampleClass, softmaxRows } from '../../src/core/eval';
import { gaussian } from '../../src/core/noise';
import { scoreEval, type EvalProtocol } from '../../src/node/evaluation';
import type { LoadedReference } from '../../src/node/evalReference';

const D = 4;
const N = 200;

function run(netClasses: number, modelClasses: number) {
  const protocol = {
    tool: 'pmf eval', version: 1,
    model: { file: 'model.onnx', name: 'm', sha256: 'a', numClasses: modelClasses, sampleShape: [3, 8, 8], dataRange: [-1, 1] },
    net: { file: 'net.onnx', name: 'n', sha256: 'b', resize: 'none', featureDim: D, logitClasses: netClasses, source: null,
      classNames: null, realData: null },
    images: '', samples: '', n: N, seed: 0, sampling: { steps: 1, omega: 1, tMin: 0, tMax: 1 }, keep: 0, splits: 10, blockSize: 64,
  } satisfies EvalProtocol;
  const accumulator = new EvalAccumulator({ total: N, featureDim: D, logitClasses: netClasses, modelClasses, keep: 0, splits: 10, blockSize: 64 });
  const logits = gaussian(2, N * netClasses);
  for (let s = 0; s < N; s++) logits[s * netClasses + sampleClass(s, modelClasses)] += 3; // mostly "right" where the classes agree
  accumulator.add(0, gaussian(1, N * D), softmaxRows(logits, netClasses), Array.from({ length: N }, (_, s) => sampleClass(s, modelClasses)));
  const ref: LoadedReference = { path: 'ref.npz', mu: new Float64Array(D), sigma: Float64Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? 1 : 0)), dim: D };
  return scoreEval({ protocol, start: 0, end: N, done: N, accumulator }, ref);
}

test('class-consistency where the network classifies into the model\'s classes', async () => {
  const s = await run(10, 10);
  assert.ok(s.classConsistency && s.classConsistency.overall > 0.5, JSON.stringify(s.classConsistency));
  assert.equal(s.notes.some((n) => /class-consistency/.test(n)), false);
  assert.ok(s.inceptionScore);
});

test('none, and a note saying why, where they are other classes (Inception-v3\'s 1008 for 1000)', async () => {
  const s = await run(12, 10);
  assert.equal(s.classConsistency, undefined);
  assert.ok(s.notes.some((n) => /no class-consistency: net\.onnx has 12 classes, model\.onnx makes 10; it needs a classifier of the model's own classes/.test(n)), s.notes.join('\n'));
  assert.ok(s.inceptionScore, 'the Inception Score needs no class correspondence');
  assert.ok(Number.isFinite(s.fd.value));
});
