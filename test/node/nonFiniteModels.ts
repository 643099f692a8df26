// Tiny pMF image models (the Fashion-MNIST signature of onnxFixtures' imageSpec) whose output
// holds NaN or infinite values, for the tests of what generation does with them. With one step
// an x-prediction model's sample is its output x, so the non-finite values are known exactly:
//   nan: x = sqrt(z)          NaN where the noise z < 0
//   inf: x = 1 / relu(z)      +infinity where z <= 0
import { fullModelType, type OnnxModel } from '../../src/core/checkpoint';
import { initialNoise } from '../../src/core/noise';
import { imageSpec, makeModel, withChanges } from '../core/onnxFixtures';

export type NonFiniteKind = 'nan' | 'inf';

export function nonFiniteModel(kind: NonFiniteKind): Uint8Array {
  const spec = imageSpec();
  const base = makeModel(withChanges(spec, { metadata: { 'pmf.name': `Fixture ${kind} model`,
    'pmf.default_sampling': { steps: 1, omega: 1, t_min: 0, t_max: 1 } } }));
  const model = fullModelType.toObject(fullModelType.decode(base)) as OnnxModel;
  model.graph!.node = kind === 'nan'
    ? [{ op_type: 'Sqrt', name: 'sqrt', input: ['z'], output: ['x'] }]
    : [{ op_type: 'Relu', name: 'relu', input: ['z'], output: ['r'] }, { op_type: 'Reciprocal', name: 'recip', input: ['r'], output: ['x'] }];
  return fullModelType.encode(fullModelType.fromObject(model)).finish();
}

/** How many values of each sample (seeds in order, 784 values each) the model makes non-finite. */
export function expectedNonFinite(kind: NonFiniteKind, seeds: number[]): number[] {
  const per = 784;
  const z = initialNoise(seeds, per, 1);
  return seeds.map((_, i) => {
    let k = 0;
    for (let j = i * per; j < (i + 1) * per; j++) if (kind === 'nan' ? z[j] < 0 : z[j] <= 0) k++;
    return k;
  });
}
