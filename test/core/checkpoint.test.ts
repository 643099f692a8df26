// The pMF checkpoint reader (src/core/checkpoint) against the bundled models and against one
// fixture per rejection of docs/checkpoint-format.md, section 5.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import {
  CheckpointError,
  describePrecision,
  headerModelType,
  readCheckpoint,
  readOnnxHeader,
  type CheckpointErrorCode,
  type OnnxModel,
} from '../../src/core/checkpoint';
import { imageSpec, makeModel, toySpec, withChanges, type ModelSpec, type TensorDecl } from './onnxFixtures';

const MODELS = path.resolve(__dirname, '../../../models');
const FASHION_MNIST = path.join(MODELS, 'fashion-mnist', 'model.onnx');

function rejects(bytes: Uint8Array, code: CheckpointErrorCode, message: RegExp | string, fileName = 'model.onnx'): void {
  assert.throws(
    () => readCheckpoint(bytes, fileName),
    (e: unknown) => {
      assert.ok(e instanceof CheckpointError, `expected a CheckpointError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    },
  );
}

function image(changes: Partial<ModelSpec> = {}): Uint8Array {
  return makeModel(withChanges(imageSpec(), changes));
}

function toy(changes: Partial<ModelSpec> = {}): Uint8Array {
  return makeModel(withChanges(toySpec(), changes));
}

/** The image fixture's inputs with one replaced (or removed, for null). */
function imageInputs(name: string, replacement: TensorDecl | null): TensorDecl[] {
  return imageSpec().inputs.flatMap((i) => (i.name !== name ? [i] : replacement ? [replacement] : []));
}

describe('bundled models', () => {
  const swissRoll = fs.readdirSync(path.join(MODELS, 'swiss-roll')).filter((f) => f.endsWith('.onnx'));

  test('the swiss-roll folder holds x and u models', () => {
    assert.ok(swissRoll.length >= 6, swissRoll.join(', '));
  });

  for (const file of swissRoll) {
    test(`swiss-roll/${file} is a valid toy checkpoint`, () => {
      const [, prediction, d] = /^([xu])-D(\d+)\.onnx$/.exec(file) ?? assert.fail(`unexpected file name ${file}`);
      const dim = Number(d);
      const info = readCheckpoint(fs.readFileSync(path.join(MODELS, 'swiss-roll', file)), file);
      assert.equal(info.formatVersion, 1);
      assert.equal(info.kind, 'toy');
      assert.equal(info.prediction, prediction);
      assert.equal(info.outputSpec.name, prediction);
      assert.deepEqual(info.inputs, ['z', 't', 'h']);
      assert.deepEqual(info.inputSpecs[0].dims.slice(1), [dim]);
      assert.equal(info.dim, dim);
      assert.deepEqual(info.sampleShape, [dim]);
      assert.equal(info.numClasses, 0);
      assert.deepEqual(info.classNames, []);
      assert.equal(info.hasCfg, false);
      assert.equal(info.fixedBatch, undefined);
      assert.deepEqual(info.warnings, []);
      const p = info.embedding ?? assert.fail('no embedding');
      assert.equal(p.length, dim);
      const dot = (a: number, b: number) => p.reduce((s, row) => s + row[a] * row[b], 0);
      assert.ok(Math.abs(dot(0, 0) - 1) < 1e-3 && Math.abs(dot(1, 1) - 1) < 1e-3 && Math.abs(dot(0, 1)) < 1e-3);
    });
  }

  test(
    'fashion-mnist/model.onnx is a valid class-conditional image checkpoint with CFG inputs',
    { skip: fs.existsSync(FASHION_MNIST) ? false : 'models/fashion-mnist/model.onnx is not there (yet)' },
    () => {
      const info = readCheckpoint(fs.readFileSync(FASHION_MNIST), 'model.onnx');
      assert.equal(info.kind, 'image');
      assert.equal(info.prediction, 'x');
      assert.deepEqual(info.inputs, ['z', 'h', 'y', 'omega', 't_min', 't_max']);
      assert.deepEqual(info.sampleShape, [1, 28, 28]);
      assert.equal(info.numClasses, 10);
      assert.equal(info.classNames.length, 10);
      assert.equal(info.hasCfg, true);
      assert.deepEqual(info.dataRange, [-1, 1]);
    },
  );
});

describe('reading valid checkpoints', () => {
  test('an image model: metadata, canonical input order, CFG', () => {
    const spec = imageSpec();
    const info = readCheckpoint(makeModel({ ...spec, inputs: [...spec.inputs].reverse() }), 'fixture.onnx');
    assert.equal(info.name, 'Fixture image model');
    assert.equal(info.description, 'A test fixture.');
    assert.deepEqual(info.inputs, ['z', 'h', 'y', 'omega', 't_min', 't_max']);
    assert.deepEqual(info.inputSpecs.map((s) => s.name), info.inputs);
    assert.deepEqual(info.inputSpecs[2], { name: 'y', elemType: 'int64', dims: ['N'] });
    assert.deepEqual(info.outputSpec, { name: 'x', elemType: 'float32', dims: ['N', 1, 28, 28] });
    assert.deepEqual(info.sampleShape, [1, 28, 28]);
    assert.equal(info.imageSize, 28);
    assert.equal(info.channels, 1);
    assert.equal(info.patchSize, 4);
    assert.equal(info.dim, undefined);
    assert.equal(info.hasCfg, true);
    assert.equal(info.classNames[9], 'Ankle boot');
    assert.deepEqual(info.defaultSampling, { steps: 1, omega: 2.5, tMin: 0.1, tMax: 0.9 });
    assert.deepEqual(info.architecture, { name: 'pmfDiT', depth: 2 });
    assert.deepEqual(info.training, { dataset: 'fixture' });
    assert.equal(info.metadata['pmf.num_classes'], '10');
    assert.deepEqual(info.warnings, []);
  });

  test('an int8 variant: pmf.precision is read and described with its measured cost', () => {
    const record = {
      weights: 'int8', method: 'per-column symmetric int8 weights', matmuls: 43, source: 'model.onnx', rel_l2_vs_float32: 0.03511,
      measured_on: '4 random contract inputs, against the float32 model',
      evaluation: {
        float32: { class_consistency: 0.9583, fd_vs_test: 1.9111, num_samples: 10000 },
        int8: { class_consistency: 0.9512, fd_vs_test: 4.153, num_samples: 10000 },
        classifier: 'fashion-mnist-classifier.pt',
      },
    };
    const info = readCheckpoint(image({ metadata: { 'pmf.precision': JSON.stringify(record) } }), 'model-int8.onnx');
    assert.deepEqual(info.warnings, []);
    const p = info.precision ?? assert.fail('no precision');
    assert.equal(p.weights, 'int8');
    assert.equal(p.relL2VsFloat32, 0.03511);
    assert.deepEqual(p.evaluation?.variant, { classConsistency: 0.9512, fd: 4.153 });
    assert.deepEqual(p.evaluation?.float32, { classConsistency: 0.9583, fd: 1.9111 });
    const line = describePrecision(p);
    assert.match(line, /^int8 weights \(a variant of model\.onnx\); output 3\.5 % from float32's \(relative L2, 4 random/);
    assert.match(line, /class consistency 95\.1 % \(float32 95\.8 %\), FD 4\.15 \(float32 1\.91\), 10000 samples/);
    assert.match(line, /report metrics from the float32 model/);
    // a float32 model has none; a record without "weights" is ignored with a warning
    assert.equal(readCheckpoint(image(), 'model.onnx').precision, undefined);
    const odd = readCheckpoint(image({ metadata: { 'pmf.precision': '{"bits": 8}' } }), 'odd.onnx');
    assert.equal(odd.precision, undefined);
    assert.match(odd.warnings.join('\n'), /pmf\.precision names no weight precision/);
  });

  test('defaults apply to missing optional keys, with warnings', () => {
    const info = readCheckpoint(
      image({
        metadata: {
          'pmf.name': undefined,
          'pmf.description': undefined,
          'pmf.class_names': undefined,
          'pmf.noise_scale': undefined,
          'pmf.t_eps': undefined,
          'pmf.default_sampling': undefined,
          'pmf.architecture': undefined,
          'pmf.training': undefined,
          'pmf.patch_size': undefined,
        },
      }),
      'some/dir/my-model.onnx',
    );
    assert.equal(info.name, 'my-model');
    assert.equal(info.description, '');
    assert.deepEqual(info.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(info.noiseScale, 1);
    assert.equal(info.tEps, 0.05);
    assert.deepEqual(info.defaultSampling, { steps: 1, omega: 1, tMin: 0, tMax: 1 });
    assert.deepEqual(info.architecture, {});
    assert.deepEqual(info.training, {});
    assert.equal(info.patchSize, undefined);
    assert.equal(info.warnings.length, 3);
    assert.match(info.warnings.join('\n'), /pmf\.noise_scale.*\n.*pmf\.t_eps.*\n.*pmf\.default_sampling/);
  });

  test('unknown pmf.* keys are kept with a warning; other namespaces are ignored', () => {
    const info = readCheckpoint(image({ metadata: { 'pmf.foo': 'bar', 'other.key': 'x' } }), 'model.onnx');
    assert.equal(info.metadata['pmf.foo'], 'bar');
    assert.equal(info.metadata['other.key'], 'x');
    assert.equal(info.warnings.length, 1);
    assert.match(info.warnings[0], /pmf\.foo/);
  });

  test('a fixed batch dimension is accepted with a warning', () => {
    const spec = imageSpec();
    const fixed = (t: TensorDecl): TensorDecl => ({ ...t, dims: [2, ...(t.dims ?? []).slice(1)] });
    const info = readCheckpoint(
      makeModel({ ...spec, inputs: spec.inputs.map(fixed), outputs: spec.outputs.map(fixed) }),
      'model.onnx',
    );
    assert.equal(info.fixedBatch, 2);
    assert.equal(info.warnings.length, 1);
    assert.match(info.warnings[0], /batch.*fixed.*\[2, 1, 28, 28\]/);
  });

  test('a toy model', () => {
    const info = readCheckpoint(toy(), 'toy.onnx');
    assert.equal(info.kind, 'toy');
    assert.equal(info.prediction, 'u');
    assert.equal(info.dim, 3);
    assert.deepEqual(info.sampleShape, [3]);
    assert.deepEqual(info.embedding, [[0.6, 0], [0.8, 0], [0, 1]]);
    assert.equal(info.imageSize, undefined);
    assert.equal(info.hasCfg, false);
    assert.deepEqual(info.warnings, []);
  });

  test('a flow-matching model may declare t and no h', () => {
    const info = readCheckpoint(toy({ inputs: toySpec().inputs.filter((i) => i.name !== 'h') }), 'fm.onnx');
    assert.deepEqual(info.inputs, ['z', 't']);
  });

  test('symbolic or unknown dims and shapeless inputs skip the shape checks', () => {
    const info = readCheckpoint(
      image({ inputs: imageInputs('z', { name: 'z', dims: ['batch', 'C', null, 28] }).map((i) => (i.name === 'h' ? { name: 'h' } : i)) }),
      'model.onnx',
    );
    assert.deepEqual(info.inputSpecs[0].dims, ['batch', 'C', null, 28]);
    assert.deepEqual(info.inputSpecs[1], { name: 'h', elemType: 'float32', dims: [], unknownRank: true });
  });

  test('initializers listed among the graph inputs (IR < 4) are not model inputs', () => {
    const bytes = makeModel({
      ...imageSpec(),
      irVersion: 3,
      initializers: [{ name: 'weight', dims: [2, 2], rawData: new Uint8Array(16) }],
      initializersAsInputs: true,
    });
    assert.ok(readOnnxHeader(bytes).inputs.every((i) => i.name !== 'weight'));
    assert.deepEqual(readCheckpoint(bytes, 'old.onnx').inputs, ['z', 'h', 'y', 'omega', 't_min', 't_max']);
  });

  test('the header: IR version, producer, opsets, doc string', () => {
    const header = readOnnxHeader(fs.readFileSync(path.join(MODELS, 'swiss-roll', 'x-D2.onnx')));
    assert.ok(header.irVersion >= 7);
    assert.equal(header.producerName, 'pmf-lab-trainer');
    assert.deepEqual(header.opsets, [{ domain: '', version: 17 }]);
    assert.match(header.docString, /Swiss|Toy|roll/i);
    assert.equal(header.outputs.length, 1);
  });

  test('the header of a model with a 50 MB initializer skips its data', () => {
    const rawData = new Uint8Array(50 * 1024 * 1024).fill(7);
    const bytes = makeModel({ ...imageSpec(), initializers: [{ name: 'big', dims: [rawData.length / 4], rawData }] });
    assert.ok(bytes.length > rawData.length);
    assert.equal(readCheckpoint(bytes, 'big.onnx').kind, 'image');
    // The header view decodes each initializer to its name only: no raw_data, not even a view of it.
    const initializer = (headerModelType.decode(bytes) as OnnxModel).graph?.initializer?.[0];
    assert.equal(initializer?.name, 'big');
    assert.equal(initializer?.raw_data, undefined);
  });
});

describe('rejections (docs/checkpoint-format.md, section 5)', () => {
  const notOnnx = (detail: RegExp) =>
    new RegExp(
      `^junk\\.onnx is not an ONNX model \\(${detail.source}\\)\\. ` +
        `pMF checkpoints are \\.onnx files written by 'pmf_trainer export'\\.$`,
    );

  test('not-onnx: empty file', () => {
    rejects(new Uint8Array(0), 'not-onnx', notOnnx(/the file is empty/), 'junk.onnx');
  });

  test('not-onnx: random bytes', () => {
    let seed = 12345;
    const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 20; i++) {
      const bytes = Uint8Array.from({ length: 1000 + 100 * i }, next);
      rejects(bytes, 'not-onnx', notOnnx(/.+/), 'junk.onnx');
    }
  });

  test('not-onnx: a PNG image', () => {
    rejects(fs.readFileSync(path.join(MODELS, 'swiss-roll', 'figure.png')), 'not-onnx', notOnnx(/it is a PNG image/), 'junk.onnx');
  });

  test('not-onnx: a JSON file', () => {
    const json = fs.readFileSync(path.join(MODELS, 'swiss-roll', 'metrics.json'));
    rejects(json, 'not-onnx', notOnnx(/it looks like a JSON file/), 'junk.onnx');
  });

  test('not-onnx: a truncated model', () => {
    const bytes = fs.readFileSync(path.join(MODELS, 'swiss-roll', 'x-D2.onnx'));
    const detail = /its data ends in the middle of a field: the file is truncated, or not ONNX at all/;
    rejects(bytes.subarray(0, bytes.length >> 1), 'not-onnx', notOnnx(detail), 'junk.onnx');
  });

  test('not-onnx: a ModelProto without a graph', () => {
    const bytes = headerModelType.encode({ ir_version: 8, producer_name: 'x' }).finish();
    rejects(bytes, 'not-onnx', notOnnx(/it has no graph/), 'junk.onnx');
  });

  test('no-pmf-metadata: a foreign ONNX model', () => {
    rejects(
      makeModel({ ...imageSpec(), metadata: { author: 'someone' } }),
      'no-pmf-metadata',
      'resnet.onnx has no pmf.format_version metadata: it is an ONNX model but not a pMF checkpoint. ' +
        "Export it with 'pmf_trainer export' or add the pmf.* metadata (docs/checkpoint-format.md).",
      'resnet.onnx',
    );
  });

  test('bad-version', () => {
    for (const v of ['abc', '0', '-1', '1.5', '"1"']) {
      rejects(image({ metadata: { 'pmf.format_version': v } }), 'bad-version', `pmf.format_version must be a positive integer, found '${v}'.`);
    }
  });

  test('future-version', () => {
    rejects(
      image({ metadata: { 'pmf.format_version': 2 } }),
      'future-version',
      'model.onnx uses pMF checkpoint format version 2; this pMF Lab reads up to version 1. Update pMF Lab.',
    );
  });

  test('bad-json: a value that does not parse', () => {
    rejects(image({ metadata: { 'pmf.data_range': '[-1, 1' } }), 'bad-json', /^pmf\.data_range is not valid: '\[-1, 1' is not JSON \(.+\)\.$/);
  });

  test('bad-json: values of the wrong type', () => {
    rejects(image({ metadata: { 'pmf.data_range': [1, -1] } }), 'bad-json', /^pmf\.data_range is not valid: expected \[lo, hi\] with lo < hi/);
    rejects(image({ metadata: { 'pmf.num_classes': '"ten"' } }), 'bad-json', /^pmf\.num_classes is not valid: expected an integer >= 0/);
    rejects(image({ metadata: { 'pmf.noise_scale': -1 } }), 'bad-json', /^pmf\.noise_scale is not valid: expected a positive number/);
    rejects(image({ metadata: { 'pmf.class_names': { a: 1 } } }), 'bad-json', /^pmf\.class_names is not valid: expected a list of strings/);
    rejects(image({ metadata: { 'pmf.training': [1, 2] } }), 'bad-json', /^pmf\.training is not valid: expected a JSON object/);
    rejects(
      image({ metadata: { 'pmf.default_sampling': { steps: 1, omega: 0.5 } } }),
      'bad-json',
      /^pmf\.default_sampling is not valid: omega must be a number >= 1, found 0\.5\.$/,
    );
    rejects(toy({ metadata: { 'pmf.embedding': [[1, 'a']] } }), 'bad-json', /^pmf\.embedding is not valid: expected a list of \[number, number\] rows/);
  });

  test('missing-metadata', () => {
    rejects(image({ metadata: { 'pmf.prediction': undefined } }), 'missing-metadata', /^pmf\.prediction is required \(.+\)\.$/);
    rejects(image({ metadata: { 'pmf.num_classes': undefined } }), 'missing-metadata', /^pmf\.num_classes is required \(.+\)\.$/);
    rejects(image({ metadata: { 'pmf.image_size': undefined } }), 'missing-metadata', /^pmf\.image_size is required \(image models: .+\)\.$/);
    rejects(toy({ metadata: { 'pmf.embedding': undefined } }), 'missing-metadata', /^pmf\.embedding is required \(toy models: .+\)\.$/);
  });

  test('bad-prediction', () => {
    rejects(image({ metadata: { 'pmf.prediction': 'v' } }), 'bad-prediction', "Unknown prediction kind 'v': pmf.prediction must be 'x' or 'u'.");
  });

  test('bad-kind', () => {
    rejects(image({ metadata: { 'pmf.kind': 'video' } }), 'bad-kind', "Unknown model kind 'video': pmf.kind must be 'image' or 'toy'.");
  });

  test('output-count: two outputs, or none', () => {
    const two = [{ name: 'x', dims: ['N', 1, 28, 28] }, { name: 'u', dims: ['N', 1, 28, 28] }];
    rejects(image({ outputs: two }), 'output-count', 'A pMF model has exactly one output (x or u); model.onnx has 2.');
    rejects(image({ outputs: [] }), 'output-count', /model\.onnx has 0\.$/);
  });

  test('output-name', () => {
    rejects(
      image({ outputs: [{ name: 'out', dims: ['N', 1, 28, 28] }] }),
      'output-name',
      "The output is named 'out' but pmf.prediction is 'x': name it 'x'.",
    );
  });

  test('missing-input: z', () => {
    rejects(image({ inputs: imageInputs('z', null) }), 'missing-input', /^Required input 'z' is missing \(.*\[N, 1, 28, 28\]\)\.$/);
  });

  test('missing-input: neither t nor h', () => {
    rejects(image({ inputs: imageInputs('h', null) }), 'missing-input', /^Required input 'h' is missing \(.*neither t nor h\)\.$/);
  });

  test('unknown-input', () => {
    rejects(
      image({ inputs: [...imageSpec().inputs, { name: 'label', elemType: 'int64', dims: ['N'] }] }),
      'unknown-input',
      "Input 'label' is not part of the pMF contract (z, t, h, y, omega, t_min, t_max).",
    );
  });

  test('input-dtype: y as float32, z as float16, the output as float16', () => {
    rejects(image({ inputs: imageInputs('y', { name: 'y', dims: ['N'] }) }), 'input-dtype', "Input 'y' must be int64, found float32.");
    rejects(
      image({ inputs: imageInputs('z', { name: 'z', elemType: 'float16', dims: ['N', 1, 28, 28] }) }),
      'input-dtype',
      "Input 'z' must be float32, found float16.",
    );
    rejects(
      image({ outputs: [{ name: 'x', elemType: 'float16', dims: ['N', 1, 28, 28] }] }),
      'input-dtype',
      "Output 'x' must be float32, found float16.",
    );
  });

  test('input-rank: z of rank 3, t of rank 2', () => {
    rejects(
      image({ inputs: imageInputs('z', { name: 'z', dims: ['N', 28, 28] }) }),
      'input-rank',
      "Input 'z' has rank 3; expected 4 ([N, 1, 28, 28]).",
    );
    rejects(toy({ inputs: [{ name: 'z', dims: ['N', 3] }, { name: 't', dims: ['N', 1] }] }), 'input-rank', "Input 't' has rank 2; expected 1 ([N]).");
  });

  test('shape-mismatch: fixed dims of z or the output contradict the metadata', () => {
    rejects(
      image({ inputs: imageInputs('z', { name: 'z', dims: ['N', 3, 32, 32] }) }),
      'shape-mismatch',
      "Input 'z' has shape [N, 3, 32, 32] but the metadata says [N, 1, 28, 28] (pmf.channels = 1, pmf.image_size = 28).",
    );
    rejects(
      image({ outputs: [{ name: 'x', dims: ['N', 784] }] }),
      'shape-mismatch',
      "Output 'x' has shape [N, 784] but the metadata says [N, 1, 28, 28] (pmf.channels = 1, pmf.image_size = 28).",
    );
    rejects(
      toy({ inputs: [{ name: 'z', dims: ['N', 8] }, ...toySpec().inputs.slice(1)] }),
      'shape-mismatch',
      "Input 'z' has shape [N, 8] but the metadata says [N, 3] (pmf.dim = 3).",
    );
  });

  test('cfg-partial', () => {
    rejects(
      image({ inputs: imageInputs('t_max', null) }),
      'cfg-partial',
      'omega, t_min and t_max come together; the model declares only omega and t_min.',
    );
  });

  test('class-input: y with num_classes 0', () => {
    const inputs = imageInputs('omega', null).filter((i) => i.name !== 't_min' && i.name !== 't_max');
    rejects(
      image({ inputs, metadata: { 'pmf.num_classes': 0, 'pmf.class_names': undefined } }),
      'class-input',
      /^The model declares input 'y' but pmf\.num_classes is 0/,
    );
  });

  test('class-input: num_classes > 0 without y', () => {
    rejects(image({ inputs: imageInputs('y', null) }), 'class-input', /^pmf\.num_classes is 10 but the model declares no input 'y'/);
  });

  test('class-input: CFG inputs without y', () => {
    rejects(
      image({ inputs: imageInputs('y', null), metadata: { 'pmf.num_classes': 0, 'pmf.class_names': undefined } }),
      'class-input',
      /^The model declares omega, t_min and t_max but no input 'y'/,
    );
  });

  test('class-names: a length other than num_classes', () => {
    rejects(image({ metadata: { 'pmf.class_names': ['a', 'b', 'c'] } }), 'class-names', 'pmf.class_names has 3 names for 10 classes.');
  });

  test('embedding: not orthonormal, or not D x 2', () => {
    const prefix = '^pmf\\.embedding must be a 3 x 2 column-orthonormal matrix: ';
    rejects(
      toy({ metadata: { 'pmf.embedding': [[1, 0], [0, 1], [0, 1]] } }),
      'embedding',
      new RegExp(`${prefix}column 1 has norm 1\\.4142, not 1\\.$`),
    );
    rejects(
      toy({ metadata: { 'pmf.embedding': [[0.6, 0.6], [0.8, 0], [0, 0.8]] } }),
      'embedding',
      new RegExp(`${prefix}its columns have dot product 0\\.3600, not 0\\.$`),
    );
    rejects(toy({ metadata: { 'pmf.embedding': [[1, 0], [0, 1]] } }), 'embedding', new RegExp(`${prefix}it has 2 rows for pmf\\.dim = 3\\.$`));
    rejects(toy({ metadata: { 'pmf.embedding': [[1, 0, 0], [0, 1, 0], [0, 0, 1]] } }), 'embedding', new RegExp(`${prefix}row 0 has 3 entries\\.$`));
  });
});

describe('flow-matching models (pmf.model_type)', () => {
  /** A class-conditional x-prediction flow-matching image model with two-pass CFG (JiT-style). */
  const fm = (changes: Partial<ModelSpec> = {}) => image(withChanges({
    ...imageSpec(),
    inputs: [...imageInputs('h', { name: 't', dims: ['N'] }).filter((i) => !['omega', 't_min', 't_max'].includes(i.name))],
    metadata: { ...imageSpec().metadata, 'pmf.model_type': 'flow-matching', 'pmf.guidance': 'two-pass',
      'pmf.default_sampling': { steps: 8, omega: 2, t_min: 0.1, t_max: 1, solver: 'heun' } },
  }, changes));

  test('an x-prediction model with two-pass guidance: t and no h, the default solver', () => {
    const info = readCheckpoint(fm(), 'fm.onnx');
    assert.equal(info.modelType, 'flow-matching');
    assert.equal(info.prediction, 'x');
    assert.equal(info.declaredPrediction, 'x');
    assert.deepEqual(info.inputs, ['z', 't', 'y']);
    assert.equal(info.hasCfg, false);
    assert.equal(info.guidance, 'two-pass');
    assert.equal(info.defaultSolver, 'heun');
    assert.deepEqual(info.defaultSampling, { steps: 8, omega: 2, tMin: 0.1, tMax: 1 });
    assert.deepEqual(info.warnings, []);
  });

  test('a v-prediction model reads its output as u at r = t; CFG inputs give guidance "inputs"; euler by default', () => {
    const info = readCheckpoint(fm({
      inputs: imageInputs('h', { name: 't', dims: ['N'] }),
      outputs: [{ name: 'v', dims: ['N', 1, 28, 28] }],
      metadata: { 'pmf.prediction': 'v', 'pmf.guidance': undefined, 'pmf.default_sampling': { steps: 4 } },
    }), 'fm-v.onnx');
    assert.equal(info.declaredPrediction, 'v');
    assert.equal(info.prediction, 'u');
    assert.equal(info.guidance, 'inputs');
    assert.equal(info.defaultSolver, 'euler');
  });

  test('MeanFlow models are unchanged: model type mean-flow, no solver, guidance from their inputs', () => {
    const info = readCheckpoint(image(), 'model.onnx');
    assert.equal(info.modelType, 'mean-flow');
    assert.equal(info.declaredPrediction, 'x');
    assert.equal(info.guidance, 'inputs');
    assert.equal(info.defaultSolver, undefined);
    assert.equal(readCheckpoint(image({ inputs: imageInputs('omega', null).filter((i) => !i.name.startsWith('t_')) }),
      'm.onnx').guidance, 'none');
  });

  test('rejections name the file and say what a flow-matching model is', () => {
    rejects(fm({ metadata: { 'pmf.model_type': 'diffusion' } }), 'bad-model-type',
      /^fm\.onnx: unknown model type 'diffusion': pmf\.model_type must be 'mean-flow' .+ or 'flow-matching'/, 'fm.onnx');
    rejects(fm({ metadata: { 'pmf.prediction': 'u' }, outputs: [{ name: 'u', dims: ['N', 1, 28, 28] }] }), 'bad-prediction',
      /^fm\.onnx: unknown prediction kind 'u' for a flow-matching model: pmf\.prediction must be 'x' or 'v'/, 'fm.onnx');
    rejects(image({ metadata: { 'pmf.prediction': 'v' }, outputs: [{ name: 'v', dims: ['N', 1, 28, 28] }] }), 'bad-prediction',
      "Unknown prediction kind 'v': pmf.prediction must be 'x' or 'u'.");
    rejects(fm({ inputs: [...imageInputs('h', { name: 't', dims: ['N'] }).slice(0, 3), { name: 'h', dims: ['N'] }] }),
      'unknown-input', /^fm\.onnx declares input 'h', but a flow-matching model .+ has no r/, 'fm.onnx');
    rejects(fm({ inputs: imageInputs('h', null).slice(0, 2) }), 'missing-input',
      /^Required input 't' is missing \(a flow-matching model takes the time t of z_t, float32 \[N\]; fm\.onnx declares no t\)\.$/, 'fm.onnx');
    rejects(fm({ outputs: [{ name: 'v', dims: ['N', 1, 28, 28] }] }), 'output-name',
      "The output is named 'v' but pmf.prediction is 'x': name it 'x'.", 'fm.onnx');
    rejects(fm({ metadata: { 'pmf.default_sampling': { steps: 4, solver: 'rk4' } } }), 'bad-json',
      /^pmf\.default_sampling is not valid: solver must be 'euler' or 'heun', found "rk4"\.$/, 'fm.onnx');
  });

  test('pmf.guidance: only "two-pass", only for a class-conditional flow-matching model without CFG inputs', () => {
    rejects(fm({ metadata: { 'pmf.guidance': 'inputs' } }), 'guidance', /^fm\.onnx: pmf\.guidance is 'inputs'; the one value/, 'fm.onnx');
    rejects(image({ metadata: { 'pmf.guidance': 'two-pass' } }), 'guidance',
      /^m\.onnx declares pmf\.guidance 'two-pass', but it is a MeanFlow model/, 'm.onnx');
    rejects(fm({ inputs: imageInputs('h', { name: 't', dims: ['N'] }) }), 'guidance',
      /^fm\.onnx declares pmf\.guidance 'two-pass', but it has omega, t_min and t_max inputs/, 'fm.onnx');
    rejects(fm({ inputs: imageInputs('h', { name: 't', dims: ['N'] }).slice(0, 2), metadata: { 'pmf.num_classes': 0,
      'pmf.class_names': undefined } }), 'guidance', /^fm\.onnx declares pmf\.guidance 'two-pass', but it is unconditional/, 'fm.onnx');
  });
});
