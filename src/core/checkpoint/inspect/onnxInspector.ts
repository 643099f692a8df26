// ONNX (a protobuf ModelProto): the whole file is decoded with the full view of onnxSchema.ts.
// Initializers are the tensors; raw_data is located in the file by its position in the decoded
// buffer (protobufjs returns bytes fields as views into the input, not copies), external data by
// its location/offset/length entries. The pMF contract is applied to the header, as the runtime does.
import { validateContract } from '../contract';
import { readOnnxHeader } from '../onnxReader';
import { elemTypeName, fullModelType, type Int64, type OnnxModel, type OnnxTensor } from '../onnxSchema';
import { CheckpointError } from '../types';
import { truncatedError } from './byteSource';
import { itemSize, ONNX_EXTRA_TYPES, product } from './dtypes';
import type { ReaderResult } from './readerResult';
import { InspectError, MAX_USED_BY, type ByteSource, type ContractResult, type Finding, type OnnxDetails, type TensorEntry } from './types';

/** Protobuf's own limit on a message's size; larger models keep their weights in external data files. */
const MAX_ONNX_BYTES = 2 ** 31 - 1;

/** ModelProto fields (number -> wire type) that a file may start with. */
const MODEL_FIELDS: ReadonlyMap<number, number> = new Map([
  [1, 0], [2, 2], [3, 2], [4, 2], [5, 0], [6, 2], [7, 2], [8, 2], [14, 2], [20, 2], [21, 2], [25, 2],
]);

/** True when the first byte is the tag of a ModelProto field (ONNX files written by onnx start with 0x08). */
export function looksLikeOnnx(head: Uint8Array): boolean {
  if (head.length < 2) return false;
  const tag = head[0];
  return tag < 0x80 && MODEL_FIELDS.get(tag >> 3) === (tag & 7);
}

export async function readOnnx(source: ByteSource, fileName: string): Promise<ReaderResult> {
  if (source.size > MAX_ONNX_BYTES) {
    throw new InspectError(
      'too-large',
      `${fileName} is ${source.size} bytes, beyond the 2 GB that an ONNX protobuf can hold: ` +
        'large models keep their weights in external data files.',
    );
  }
  const bytes = await source.read(0, source.size);
  const cut = cutField(bytes);
  if (cut) throw truncatedError(fileName, `its ONNX protobuf ends inside field ${cut.field}${cut.name ? ` (${cut.name})` : ''}, which declares ${cut.needs} bytes from byte ${cut.at}`);
  const header = readOnnxHeader(bytes, fileName); // throws CheckpointError('not-onnx') when it is not ONNX
  let model: OnnxModel;
  try {
    model = fullModelType.decode(bytes) as OnnxModel;
  } catch (e) {
    throw new InspectError('corrupt', `${fileName}: its graph or weights do not decode as ONNX (protobuf: ${(e as Error).message}). Download or copy it again, or export it again.`);
  }
  const graph = model.graph ?? {};
  const findings: Finding[] = [];
  const tensors = (graph.initializer ?? []).map((t) => initializerEntry(t, bytes, findings));

  const opCounts: Record<string, number> = {};
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const node of graph.node ?? []) {
    const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.op_type ?? '?'}` : (node.op_type ?? '?');
    opCounts[op] = (opCounts[op] ?? 0) + 1;
    for (const input of new Set(node.input ?? [])) {
      const t = byName.get(input);
      if (t && (t.usedBy ??= []).length < MAX_USED_BY) t.usedBy.push(node.name || op);
    }
  }

  let contract: ContractResult;
  try {
    contract = { ok: true, info: validateContract(header, fileName) };
    for (const w of contract.info.warnings) findings.push({ severity: 'info', message: `pMF contract: ${w}` });
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    contract = { ok: false, code: e.code, message: e.message };
    findings.push({
      severity: 'warning',
      message: `Valid ONNX, but not a runnable pMF checkpoint (${e.code}): ${e.message}`,
    });
  }

  const external = [...new Set(tensors.flatMap((t) => (t.data?.file ? [t.data.file] : [])))];
  if (external.length) {
    findings.push({
      severity: 'info',
      message: `Weights are kept in external data file${external.length > 1 ? 's' : ''} beside the model: ${external.join(', ')}.`,
    });
  }

  const onnx: OnnxDetails = {
    irVersion: header.irVersion,
    producer: [header.producerName, header.producerVersion].filter(Boolean).join(' '),
    opsets: header.opsets,
    nodeCount: (graph.node ?? []).length,
    opCounts,
    inputs: header.inputs,
    outputs: header.outputs,
    contract,
  };
  return { format: 'onnx', tensors, metadata: header.metadata, findings, onnx };
}

const FIELD_NAMES: Readonly<Record<number, string>> = { 7: 'graph', 8: 'opset_import', 14: 'metadata_props', 25: 'functions' };

/**
 * Where a ModelProto's top-level fields run past the end of the bytes, if they do: the mark of a
 * cut-off download. The file must start with ir_version and every field before the cut must be
 * a ModelProto field, so other data is not taken for a truncated model. Written here because protobufjs reports only 'index out of range'.
 */
function cutField(bytes: Uint8Array): { field: number; name?: string; at: number; needs: number } | undefined {
  // Writers put ir_version (field 1, a small varint) first; without it this is no cut-off model.
  if (bytes[0] !== 0x08 || !(bytes[1] >= 1 && bytes[1] <= 64)) return undefined;
  let pos = 0;
  const varint = (): number | undefined => {
    let v = 0;
    for (let shift = 0; shift < 63; shift += 7) {
      if (pos >= bytes.length) return undefined;
      const b = bytes[pos++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    return undefined;
  };
  while (pos < bytes.length) {
    const at = pos;
    const tag = varint();
    if (tag === undefined) return { field: 0, at, needs: 1 };
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (MODEL_FIELDS.get(field) !== wire) return undefined; // not a ModelProto field: not ONNX, or damaged; decoding says which
    const start = pos;
    if (wire === 0) {
      if (varint() === undefined) return { field, name: FIELD_NAMES[field], at, needs: 1 };
    } else {
      const n = varint();
      if (n === undefined || pos + n > bytes.length) return { field, name: FIELD_NAMES[field], at: start, needs: n ?? 1 };
      pos += n;
    }
  }
  return undefined;
}

function initializerEntry(t: OnnxTensor, file: Uint8Array, findings: Finding[]): TensorEntry {
  const name = t.name ?? '';
  const code = t.data_type ?? 0;
  const dtype = ONNX_EXTRA_TYPES[code] ?? elemTypeName(code);
  const shape = (t.dims ?? []).map(toNumber);
  const numel = product(shape);
  const entry: TensorEntry = { name, dtype, shape, numel };
  const size = itemSize(dtype);
  const expected = size === undefined ? undefined : numel * size;

  if (t.data_location === 1) {
    const ext = Object.fromEntries((t.external_data ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    if (!ext.location) return { ...entry, note: 'external data without a location' };
    const offset = Number(ext.offset ?? 0);
    const byteLength = ext.length !== undefined ? Number(ext.length) : expected;
    if (!Number.isSafeInteger(offset) || byteLength === undefined || !Number.isSafeInteger(byteLength)) {
      return { ...entry, note: `external data in ${ext.location} with an unreadable offset or length` };
    }
    return { ...entry, data: { offset, byteLength, file: ext.location } };
  }

  const raw = t.raw_data;
  if (raw && (raw.length > 0 || numel === 0)) {
    if (expected !== undefined && raw.length !== expected) {
      findings.push({
        severity: 'warning',
        message: `Initializer ${name}: ${raw.length} bytes of raw_data for shape [${shape.join(', ')}] of ${dtype} (${expected} expected).`,
      });
      return { ...entry, note: `${raw.length} bytes of raw_data, ${expected} expected` };
    }
    if (raw.length === 0) return { ...entry, data: { offset: 0, byteLength: 0 } };
    // protobufjs hands out bytes fields as views into the decoded buffer: their position is the file offset.
    if (raw.buffer !== file.buffer) return { ...entry, note: 'raw_data could not be located in the file' };
    return { ...entry, data: { offset: raw.byteOffset - file.byteOffset, byteLength: raw.length } };
  }
  if (code === 8) return { ...entry, note: 'string tensor' };
  const typed = (['float_data', 'int32_data', 'int64_data', 'double_data', 'uint64_data'] as const).find((f) => (t[f]?.length ?? 0) > 0);
  if (typed) return { ...entry, note: `stored as typed repeated field (${typed}), not raw_data: statistics are not computed for it` };
  if (numel === 0) return { ...entry, data: { offset: 0, byteLength: 0 } };
  return { ...entry, note: 'the initializer holds no data' };
}

function toNumber(v: Int64): number {
  return typeof v === 'number' ? v : v.toNumber();
}
