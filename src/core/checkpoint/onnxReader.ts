// Reads what an ONNX file says about itself (version, producer, opsets, metadata, graph
// inputs and outputs) without parsing its nodes or weights.
import { elemTypeName, headerModelType, type Int64, type OnnxModel, type OnnxValueInfo } from './onnxSchema';
import { CheckpointError, type TensorSpec } from './types';

export interface OnnxHeader {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsets: Array<{ domain: string; version: number }>;
  docString: string;
  /** metadata_props as stored; a repeated key keeps its last value. */
  metadata: Record<string, string>;
  /** Graph inputs that are fed at run time (initializers listed among the inputs are left out). */
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** Decodes the header of an ONNX ModelProto; throws CheckpointError('not-onnx') when the bytes are not one. */
export function readOnnxHeader(bytes: Uint8Array, fileName = 'The file'): OnnxHeader {
  const model = decodeModel(bytes, fileName);
  const graph = model.graph ?? {};
  // Before IR version 4, initializers were also listed as graph inputs; they are weights, not inputs.
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  return {
    irVersion: toNumber(model.ir_version ?? 0),
    producerName: model.producer_name ?? '',
    producerVersion: model.producer_version ?? '',
    opsets: (model.opset_import ?? []).map((o) => ({ domain: o.domain ?? '', version: toNumber(o.version ?? 0) })),
    docString: model.doc_string ?? '',
    metadata: Object.fromEntries((model.metadata_props ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
    inputs: (graph.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(tensorSpec),
    outputs: (graph.output ?? []).map(tensorSpec),
  };
}

function decodeModel(bytes: Uint8Array, fileName: string): OnnxModel {
  const fail = (detail: string): never => {
    throw new CheckpointError(
      'not-onnx',
      `${fileName} is not an ONNX model (${detail}). pMF checkpoints are .onnx files written by 'pmf_trainer export'.`,
    );
  };
  if (bytes.length === 0) fail('the file is empty');
  let model: OnnxModel;
  try {
    model = headerModelType.decode(bytes) as OnnxModel;
  } catch (err) {
    // protobufjs throws a RangeError when a length or value runs past the end of the data.
    const detail =
      err instanceof RangeError
        ? 'its data ends in the middle of a field: the file is truncated, or not ONNX at all'
        : `it does not decode as an ONNX ModelProto: ${(err as Error).message}`;
    return fail(sniff(bytes) ?? detail);
  }
  // Protobuf decoding is permissive (unknown fields are skipped), so also require what every
  // ONNX model has: an IR version and a graph.
  if (toNumber(model.ir_version ?? 0) <= 0) fail(sniff(bytes) ?? 'it has no ONNX IR version');
  if (!model.graph) fail(sniff(bytes) ?? 'it has no graph');
  return model;
}

/** Names a few file types people mistake for checkpoints, from their first bytes. */
function sniff(bytes: Uint8Array): string | undefined {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'it is a PNG image';
  if (starts(0xff, 0xd8, 0xff)) return 'it is a JPEG image';
  if (starts(0x50, 0x4b, 0x03, 0x04)) {
    return 'it is a ZIP archive, such as a PyTorch .pt checkpoint: export it to ONNX first';
  }
  const first = bytes.find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d);
  if (first === 0x7b || first === 0x5b) return 'it looks like a JSON file';
  return undefined;
}

function tensorSpec(v: OnnxValueInfo): TensorSpec {
  const name = v.name ?? '';
  const tensor = v.type?.tensor_type;
  if (v.type?.value !== 'tensor_type' || !tensor) return { name, elemType: 'non-tensor', dims: [], unknownRank: true };
  const elemType = elemTypeName(tensor.elem_type ?? 0);
  if (!tensor.shape) return { name, elemType, dims: [], unknownRank: true };
  const dims = (tensor.shape.dim ?? []).map((d) =>
    d.value === 'dim_value' ? toNumber(d.dim_value ?? 0) : d.value === 'dim_param' ? (d.dim_param ?? '') : null,
  );
  return { name, elemType, dims };
}

function toNumber(v: Int64): number {
  return typeof v === 'number' ? v : v.toNumber();
}
