// The subset of onnx.proto (ONNX IR, proto2) that pMF Lab reads, as protobufjs descriptors
// written from the ONNX spec's field numbers. Two views of the same wire format:
//   header: ModelProto down to graph inputs/outputs; nodes are skipped unparsed and initializers
//           decode to their name only, so the weights of a large file are never copied or parsed
//           (protobufjs skips fields a type does not declare by advancing its read position);
//   full:   nodes, attributes and initializers with their data, for inspecting a checkpoint.
// Field names keep onnx.proto's snake_case.
import * as protobuf from 'protobufjs/light';

/** An int64 as protobufjs decodes it: a number, or a Long when the `long` package is present. */
export type Int64 = number | { toNumber(): number };

export interface OnnxDimension {
  dim_value?: Int64;
  dim_param?: string;
  /** Which member of the oneof is set, if any. */
  value?: 'dim_value' | 'dim_param';
}

export interface OnnxTypeProto {
  tensor_type?: { elem_type?: number; shape?: { dim?: OnnxDimension[] } };
  /** 'tensor_type', or undefined for the sequence, map and optional types this schema omits. */
  value?: 'tensor_type';
}

export interface OnnxValueInfo {
  name?: string;
  type?: OnnxTypeProto;
  doc_string?: string;
}

export interface OnnxStringEntry {
  key?: string;
  value?: string;
}

export interface OnnxOpset {
  domain?: string;
  version?: Int64;
}

export interface OnnxTensor {
  dims?: Int64[];
  data_type?: number;
  name?: string;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: Int64[];
  double_data?: number[];
  uint64_data?: Int64[];
  /** 0 = data in this file, 1 = in the external file described by external_data. */
  data_location?: number;
  external_data?: OnnxStringEntry[];
}

export interface OnnxAttribute {
  name?: string;
  /** AttributeProto.AttributeType: 1 float, 2 int, 3 string, 4 tensor, 6 floats, 7 ints, ... */
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: OnnxTensor;
  floats?: number[];
  ints?: Int64[];
}

export interface OnnxNode {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: OnnxAttribute[];
}

export interface OnnxGraph {
  /** Absent in the header view. */
  node?: OnnxNode[];
  name?: string;
  /** In the header view, only `name` is decoded. */
  initializer?: OnnxTensor[];
  doc_string?: string;
  input?: OnnxValueInfo[];
  output?: OnnxValueInfo[];
  value_info?: OnnxValueInfo[];
}

export interface OnnxModel {
  ir_version?: Int64;
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: Int64;
  doc_string?: string;
  graph?: OnnxGraph;
  opset_import?: OnnxOpset[];
  metadata_props?: OnnxStringEntry[];
}

/** TensorProto.DataType codes and the lower-case names TensorSpec.elemType uses. */
export const ELEM_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

/** The name of an element type code; codes outside the table (complex, float8, 0 = undefined) read as 'type <code>'. */
export function elemTypeName(code: number): string {
  return ELEM_TYPE_NAMES[code] ?? `type ${code}`;
}

type Fields = Record<string, protobuf.IField>;

// onnx.proto is proto2: repeated scalars are unpacked on the wire unless marked [packed = true].
// protobufjs reads a descriptor loaded from JSON as proto3 unless its top-level types say otherwise.
function message(fields: Fields, extra: Omit<protobuf.IType, 'fields'> = {}): protobuf.IType {
  return { edition: 'proto2', fields, ...extra };
}

const valueInfoTypes = {
  OperatorSetIdProto: message({
    domain: { id: 1, type: 'string' },
    version: { id: 2, type: 'int64' },
  }),
  StringStringEntryProto: message({
    key: { id: 1, type: 'string' },
    value: { id: 2, type: 'string' },
  }),
  ValueInfoProto: message({
    name: { id: 1, type: 'string' },
    type: { id: 2, type: 'TypeProto' },
    doc_string: { id: 3, type: 'string' },
  }),
  TypeProto: message(
    { tensor_type: { id: 1, type: 'Tensor' } },
    {
      oneofs: { value: { oneof: ['tensor_type'] } },
      nested: {
        Tensor: {
          fields: {
            elem_type: { id: 1, type: 'int32' },
            shape: { id: 2, type: 'TensorShapeProto' },
          },
        },
      },
    },
  ),
  TensorShapeProto: message(
    { dim: { id: 1, type: 'Dimension', rule: 'repeated' } },
    {
      nested: {
        Dimension: {
          fields: {
            dim_value: { id: 1, type: 'int64' },
            dim_param: { id: 2, type: 'string' },
          },
          oneofs: { value: { oneof: ['dim_value', 'dim_param'] } },
        },
      },
    },
  ),
};

const modelFields: Fields = {
  ir_version: { id: 1, type: 'int64' },
  producer_name: { id: 2, type: 'string' },
  producer_version: { id: 3, type: 'string' },
  domain: { id: 4, type: 'string' },
  model_version: { id: 5, type: 'int64' },
  doc_string: { id: 6, type: 'string' },
  graph: { id: 7, type: 'GraphProto' },
  opset_import: { id: 8, type: 'OperatorSetIdProto', rule: 'repeated' },
  metadata_props: { id: 14, type: 'StringStringEntryProto', rule: 'repeated' },
};

const graphSignatureFields: Fields = {
  name: { id: 2, type: 'string' },
  doc_string: { id: 10, type: 'string' },
  input: { id: 11, type: 'ValueInfoProto', rule: 'repeated' },
  output: { id: 12, type: 'ValueInfoProto', rule: 'repeated' },
  value_info: { id: 13, type: 'ValueInfoProto', rule: 'repeated' },
};

const headerTypes = {
  ...valueInfoTypes,
  ModelProto: message(modelFields),
  // No node (1); initializer (5) as a TensorProto that declares only its name (8).
  GraphProto: message({ ...graphSignatureFields, initializer: { id: 5, type: 'InitializerName', rule: 'repeated' } }),
  InitializerName: message({ name: { id: 8, type: 'string' } }),
};

const tensorProto = message({
  dims: { id: 1, type: 'int64', rule: 'repeated' },
  data_type: { id: 2, type: 'int32' },
  float_data: { id: 4, type: 'float', rule: 'repeated', options: { packed: true } },
  int32_data: { id: 5, type: 'int32', rule: 'repeated', options: { packed: true } },
  string_data: { id: 6, type: 'bytes', rule: 'repeated' },
  int64_data: { id: 7, type: 'int64', rule: 'repeated', options: { packed: true } },
  name: { id: 8, type: 'string' },
  raw_data: { id: 9, type: 'bytes' },
  double_data: { id: 10, type: 'double', rule: 'repeated', options: { packed: true } },
  uint64_data: { id: 11, type: 'uint64', rule: 'repeated', options: { packed: true } },
  external_data: { id: 13, type: 'StringStringEntryProto', rule: 'repeated' },
  data_location: { id: 14, type: 'int32' },
});

const fullTypes = {
  ...valueInfoTypes,
  ModelProto: message(modelFields),
  GraphProto: message({
    ...graphSignatureFields,
    node: { id: 1, type: 'NodeProto', rule: 'repeated' },
    initializer: { id: 5, type: 'TensorProto', rule: 'repeated' },
  }),
  TensorProto: tensorProto,
  NodeProto: message({
    input: { id: 1, type: 'string', rule: 'repeated' },
    output: { id: 2, type: 'string', rule: 'repeated' },
    name: { id: 3, type: 'string' },
    op_type: { id: 4, type: 'string' },
    attribute: { id: 5, type: 'AttributeProto', rule: 'repeated' },
    domain: { id: 7, type: 'string' },
  }),
  AttributeProto: message({
    name: { id: 1, type: 'string' },
    f: { id: 2, type: 'float' },
    i: { id: 3, type: 'int64' },
    s: { id: 4, type: 'bytes' },
    t: { id: 5, type: 'TensorProto' },
    floats: { id: 7, type: 'float', rule: 'repeated' },
    ints: { id: 8, type: 'int64', rule: 'repeated' },
    type: { id: 20, type: 'int32' },
  }),
};

function modelType(types: Record<string, protobuf.IType>): protobuf.Type {
  return protobuf.Root.fromJSON({ nested: { onnx: { nested: types } } }).lookupType('onnx.ModelProto');
}

/** ModelProto without node and initializer contents: decode a file's signature and metadata cheaply. */
export const headerModelType = modelType(headerTypes);

/** ModelProto with nodes, attributes and initializers (the subset above). */
export const fullModelType = modelType(fullTypes);
