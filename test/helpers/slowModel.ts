// A pMF image checkpoint (the Fashion-MNIST signature of test/core/onnxFixtures.ts) whose one
// network call lasts as long as the caller wants, for the lifetime tests: they need the engine deep
// in one onnxruntime call (which blocks the engine's JS thread) when its parent is killed, whatever
// the machine's speed. z, flattened to [N, 784], goes through an ONNX Loop that multiplies it by a
// 784 x 784 averaging matrix (idempotent: the values stay finite) `omega` times, then back to
// [N, 1, 28, 28]. With the default sampling's omega that is a couple of iterations; `--omega 1e9`
// makes a call of hours on any CPU, with buffers of a few kB per sample and a file of 2 kB.
import * as protobuf from 'protobufjs/light';
import { fullModelType, type OnnxGraph, type OnnxModel, type OnnxTensor, type OnnxValueInfo } from '../../src/core/checkpoint';
import { imageSpec, makeModel } from '../core/onnxFixtures';

const D = 28 * 28;

/** fullModelType and AttributeProto.g (a subgraph: the Loop's body), which the app never reads. */
const modelType = (() => {
  const root = protobuf.Root.fromJSON(fullModelType.root.toJSON());
  root.lookupType('onnx.AttributeProto').add(new protobuf.Field('g', 6, 'GraphProto'));
  return root.lookupType('onnx.ModelProto');
})();

const INT64 = 7;
const FLOAT = 1;
const BOOL = 9;

function tensor(name: string, dataType: number, dims: number[], bytes: ArrayBufferLike): OnnxTensor {
  return { name, dims, data_type: dataType, raw_data: new Uint8Array(bytes) };
}
const int64s = (name: string, values: number[]) => tensor(name, INT64, [values.length], BigInt64Array.from(values.map(BigInt)).buffer);
const scalar = (name: string, value: number) => tensor(name, FLOAT, [], Float32Array.of(value).buffer);

function value(name: string, elemType: number, dims?: Array<number | string>): OnnxValueInfo {
  const dim = dims?.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name, type: { tensor_type: { elem_type: elemType, ...(dim ? { shape: { dim } } : {}) } } };
}

export function slowImageModel(): Uint8Array {
  // makeModel writes the signature and metadata; the graph is replaced here.
  const model = modelType.decode(makeModel(imageSpec())) as OnnxModel;
  // body(iteration, cond, v) -> (cond, v @ avg); avg comes from the outer graph
  const body: OnnxGraph = {
    name: 'multiply',
    node: [
      { op_type: 'Identity', name: 'keep', input: ['cond_in'], output: ['cond_out'] },
      { op_type: 'MatMul', name: 'average', input: ['v_in', 'avg'], output: ['v_out'] },
    ],
    input: [value('iteration', INT64, []), value('cond_in', BOOL, []), value('v_in', FLOAT, ['N', D])],
    output: [value('cond_out', BOOL, []), value('v_out', FLOAT, ['N', D])],
  };
  model.graph = {
    ...model.graph,
    node: [
      { op_type: 'Reshape', name: 'flatten', input: ['z', 'flat_shape'], output: ['v0'] },
      // the trip count: omega (the same for every sample)
      { op_type: 'ReduceMax', name: 'omega_max', input: ['omega'], output: ['omega_max'], attribute: [{ name: 'keepdims', type: 2, i: 0 }] },
      { op_type: 'Cast', name: 'trips', input: ['omega_max'], output: ['trips'], attribute: [{ name: 'to', type: 2, i: INT64 }] },
      // the averaging matrix, filled in at run time (no 2.4 MB constant in the file)
      { op_type: 'Expand', name: 'avg', input: ['inv_d', 'square_shape'], output: ['avg'] },
      { op_type: 'Loop', name: 'loop', input: ['trips', 'true', 'v0'], output: ['v'], attribute: [{ name: 'body', type: 5, g: body } as never] },
      { op_type: 'Reshape', name: 'unflatten', input: ['v', 'image_shape'], output: ['x'] },
    ],
    initializer: [
      int64s('flat_shape', [-1, D]),
      int64s('square_shape', [D, D]),
      int64s('image_shape', [-1, 1, 28, 28]),
      scalar('inv_d', 1 / D),
      tensor('true', BOOL, [], Uint8Array.of(1).buffer),
    ],
  };
  return modelType.encode(model).finish();
}
