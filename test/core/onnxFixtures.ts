// Builds small ONNX ModelProto files for the checkpoint reader's tests, with the reader's own
// protobufjs schema: a graph with the given inputs and outputs, one Identity node, optional
// initializers, and metadata_props (non-string values JSON-encoded, as the trainer writes them).
import { ELEM_TYPE_NAMES, fullModelType, type OnnxModel, type OnnxValueInfo } from '../../src/core/checkpoint';

export interface TensorDecl {
  name: string;
  /** Lower-case element type name; float32 when omitted. */
  elemType?: string;
  /** Dimensions (number fixed, string symbolic, null unknown); no shape at all when omitted. */
  dims?: Array<number | string | null>;
}

export interface InitializerDecl {
  name: string;
  dims: number[];
  rawData: Uint8Array;
}

export interface ModelSpec {
  inputs: TensorDecl[];
  outputs: TensorDecl[];
  /** A value of undefined leaves the key out. */
  metadata: Record<string, unknown>;
  initializers?: InitializerDecl[];
  /** Initializer names also listed as graph inputs, as IR versions before 4 did. */
  initializersAsInputs?: boolean;
  irVersion?: number;
}

const ELEM_TYPE_CODES = new Map(Object.entries(ELEM_TYPE_NAMES).map(([code, name]) => [name, Number(code)]));

function valueInfo(t: TensorDecl): OnnxValueInfo {
  const elemType = ELEM_TYPE_CODES.get(t.elemType ?? 'float32');
  if (elemType === undefined) throw new Error(`unknown element type ${t.elemType}`);
  const dim = t.dims?.map((d) => (typeof d === 'number' ? { dim_value: d } : typeof d === 'string' ? { dim_param: d } : {}));
  return { name: t.name, type: { tensor_type: { elem_type: elemType, ...(dim ? { shape: { dim } } : {}) } } };
}

export function makeModel(spec: ModelSpec): Uint8Array {
  const initializers = spec.initializers ?? [];
  const model: OnnxModel = {
    ir_version: spec.irVersion ?? 8,
    producer_name: 'onnxFixtures',
    producer_version: '1',
    opset_import: [{ domain: '', version: 17 }],
    graph: {
      name: 'fixture',
      node: [{ op_type: 'Identity', name: 'identity', input: [spec.inputs[0]?.name ?? ''], output: [spec.outputs[0]?.name ?? ''] }],
      initializer: initializers.map((t) => ({ name: t.name, dims: t.dims, data_type: 1, raw_data: t.rawData })),
      input: [
        ...spec.inputs.map(valueInfo),
        ...(spec.initializersAsInputs ? initializers.map((t) => valueInfo({ name: t.name, dims: t.dims })) : []),
      ],
      output: spec.outputs.map(valueInfo),
    },
    metadata_props: Object.entries(spec.metadata)
      .filter(([, v]) => v !== undefined)
      .map(([key, v]) => ({ key, value: typeof v === 'string' ? v : JSON.stringify(v) })),
  };
  return fullModelType.encode(model).finish();
}

// ---- valid pMF checkpoints, to break one thing at a time ------------------------------

/** The bundled Fashion-MNIST model's signature (docs/checkpoint-format.md, section 7). */
export function imageSpec(): ModelSpec {
  const batch = (name: string, elemType = 'float32'): TensorDecl => ({ name, elemType, dims: ['N'] });
  return {
    inputs: [
      { name: 'z', dims: ['N', 1, 28, 28] },
      batch('h'),
      batch('y', 'int64'),
      batch('omega'),
      batch('t_min'),
      batch('t_max'),
    ],
    outputs: [{ name: 'x', dims: ['N', 1, 28, 28] }],
    metadata: {
      'pmf.format_version': 1,
      'pmf.name': 'Fixture image model',
      'pmf.description': 'A test fixture.',
      'pmf.prediction': 'x',
      'pmf.kind': 'image',
      'pmf.data_range': [-1, 1],
      'pmf.noise_scale': 1.0,
      'pmf.t_eps': 0.05,
      'pmf.num_classes': 10,
      'pmf.class_names': ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
      'pmf.image_size': 28,
      'pmf.channels': 1,
      'pmf.patch_size': 4,
      'pmf.default_sampling': { steps: 1, omega: 2.5, t_min: 0.1, t_max: 0.9 },
      'pmf.architecture': { name: 'pmfDiT', depth: 2 },
      'pmf.training': { dataset: 'fixture' },
    },
  };
}

/** A toy model on D = 3 points, with a column-orthonormal 3 x 2 embedding. */
export function toySpec(): ModelSpec {
  return {
    inputs: [
      { name: 'z', dims: ['N', 3] },
      { name: 't', dims: ['N'] },
      { name: 'h', dims: ['N'] },
    ],
    outputs: [{ name: 'u', dims: ['N', 3] }],
    metadata: {
      'pmf.format_version': 1,
      'pmf.prediction': 'u',
      'pmf.kind': 'toy',
      'pmf.data_range': [-2, 2],
      'pmf.noise_scale': 1.0,
      'pmf.t_eps': 0.05,
      'pmf.num_classes': 0,
      'pmf.default_sampling': { steps: 1, omega: 1, t_min: 0, t_max: 1 },
      'pmf.dim': 3,
      'pmf.embedding': [
        [0.6, 0],
        [0.8, 0],
        [0, 1],
      ],
    },
  };
}

/** A spec with some fields replaced (metadata merged key by key; undefined removes a key). */
export function withChanges(spec: ModelSpec, changes: Partial<ModelSpec>): ModelSpec {
  return { ...spec, ...changes, metadata: { ...spec.metadata, ...changes.metadata } };
}
