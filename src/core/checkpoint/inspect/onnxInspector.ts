// ONNX (a protobuf ModelProto): the file's structure without its weights (onnxLazy.ts: raw_data
// is located, not read) is decoded with the full view of onnxSchema.ts. Initializers are the
// tensors; their data lies where the walk found raw_data, or in external data by its
// location/offset/length entries. The pMF contract is applied to the header, as the runtime does.
import { validateContract } from '../contract';
import { describePrecision } from '../precision';
import { readOnnxHeader } from '../onnxReader';
import { elemTypeName, fullModelType, type Int64, type OnnxModel, type OnnxTensor } from '../onnxSchema';
import { CheckpointError } from '../types';
import { readOnnxStructure, type InitializerData, type OnnxStructure } from './onnxLazy';
import { itemSize, ONNX_EXTRA_TYPES, product } from './dtypes';
import type { FormatReader, ReaderResult } from './readerResult';
import { InspectError, MAX_USED_BY, type ByteSource, type ContractResult, type Finding, type OnnxDetails, type TensorEntry } from './types';

/** Protobuf's own limit on a message's size; larger models keep their weights in external data files. */
const MAX_ONNX_BYTES = 2 ** 31 - 1;

/** ModelProto fields (number -> wire type) that a file may start with. */
const MODEL_FIELDS: ReadonlyMap<number, number> = new Map([
  [1, 0], [2, 2], [3, 2], [4, 2], [5, 0], [6, 2], [7, 2], [8, 2], [14, 2], [20, 2], [21, 2], [25, 2],
]);

/**
 * ONNX has no signature: a file that starts with the tag of a ModelProto field may be one, so it is
 * tried after the signatures of other files. One that does not decode as ONNX is no checkpoint.
 */
export const onnxFormat: FormatReader = {
  name: 'onnx',
  format: 'onnx',
  signature: 'weak',
  sniff: looksLikeOnnx,
  read: async (source, fileName, ctx) => {
    try {
      return await readOnnx(source, fileName);
    } catch (e) {
      if (e instanceof CheckpointError && e.code === 'not-onnx') throw ctx.notThisFormat();
      throw e;
    }
  },
};

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
  let structure: OnnxStructure;
  try {
    structure = await readOnnxStructure(source, fileName);
  } catch (e) {
    // Only the walk's own verdicts on the bytes are about the format: anything else (a read that
    // failed, a bug) is not evidence that the file is not ONNX, so it goes on as it is.
    if (!(e instanceof InspectError)) throw e;
    // A cut-off or damaged protobuf that starts as every ONNX writer starts (ir_version) is an ONNX
    // file with that problem; anything else is not taken for ONNX at all.
    const head = await source.read(0, Math.min(2, source.size));
    if (head[0] === 0x08 && head[1] >= 1 && head[1] <= 64) throw e;
    throw new CheckpointError('not-onnx', `${fileName} is not an ONNX model.`);
  }
  const header = readOnnxHeader(structure.stripped, fileName); // throws CheckpointError('not-onnx') when it is not ONNX
  let model: OnnxModel;
  try {
    model = fullModelType.decode(structure.stripped) as OnnxModel;
  } catch (e) {
    throw new InspectError('corrupt', `${fileName}: its graph does not decode as ONNX (protobuf: ${(e as Error).message}). Download or copy it again, or export it again.`);
  }
  const graph = model.graph ?? {};
  const findings: Finding[] = [];
  const tensors = (graph.initializer ?? []).map((t, i) => initializerEntry(t, structure.data[i] ?? {}, findings));

  // Counted in a Map: an operator the file names "constructor" or "__proto__" starts from 0 like any other.
  const ops = new Map<string, number>();
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const node of graph.node ?? []) {
    const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.op_type ?? '?'}` : (node.op_type ?? '?');
    ops.set(op, (ops.get(op) ?? 0) + 1);
    for (const input of new Set(node.input ?? [])) {
      const t = byName.get(input);
      if (t && (t.usedBy ??= []).length < MAX_USED_BY) t.usedBy.push(node.name || op);
    }
  }

  let contract: ContractResult;
  try {
    contract = { ok: true, info: validateContract(header, fileName) };
    for (const w of contract.info.warnings) findings.push({ severity: 'info', message: `pMF contract: ${w}` });
    if (contract.info.precision) findings.push({ severity: 'info', message: `Reduced precision: ${describePrecision(contract.info.precision)}` });
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
    opCounts: Object.fromEntries(ops),
    inputs: header.inputs,
    outputs: header.outputs,
    contract,
  };
  return { format: 'onnx', tensors, metadata: header.metadata, findings, onnx };
}

function initializerEntry(t: OnnxTensor, where: InitializerData, findings: Finding[]): TensorEntry {
  const name = t.name ?? '';
  const code = t.data_type ?? 0;
  const dtype = ONNX_EXTRA_TYPES[code] ?? elemTypeName(code);
  const shape = (t.dims ?? []).map(toNumber);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0) || shape.length > 64) {
    findings.push({ severity: 'warning', message: `Initializer ${name}: its shape [${shape.join(', ')}] has a negative or unreadable dimension; loaders refuse this file.` });
    return { name, dtype, shape: [], numel: 0, note: `invalid shape [${shape.join(', ')}]` };
  }
  const numel = product(shape);
  const entry: TensorEntry = { name, dtype, shape, numel };
  const size = itemSize(dtype);
  const expected = size === undefined ? undefined : numel * size;

  if (t.data_location === 1) {
    const ext = Object.fromEntries((t.external_data ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    if (!ext.location) return { ...entry, note: 'external data without a location' };
    const offset = Number(ext.offset ?? 0);
    const byteLength = ext.length !== undefined ? Number(ext.length) : expected;
    if (!Number.isSafeInteger(offset) || byteLength === undefined || !Number.isSafeInteger(byteLength) || offset < 0 || byteLength < 0) {
      return { ...entry, note: `external data in ${ext.location} with an unreadable offset or length` };
    }
    return { ...entry, data: { offset, byteLength, file: ext.location } };
  }

  const raw = where.raw;
  if (raw && (raw.length > 0 || numel === 0)) {
    if (expected !== undefined && raw.length !== expected) {
      findings.push({
        severity: 'warning',
        message: `Initializer ${name}: ${raw.length} bytes of raw_data for shape [${shape.join(', ')}] of ${dtype} (${expected} expected).`,
      });
      return { ...entry, note: `${raw.length} bytes of raw_data, ${expected} expected` };
    }
    if (raw.length === 0) return { ...entry, data: { offset: 0, byteLength: 0 } };
    return { ...entry, data: { offset: raw.offset, byteLength: raw.length } };
  }
  if (code === 8) return { ...entry, note: 'string tensor' };
  const typed = where.typed;
  if (typed) return { ...entry, note: `stored as typed repeated field (${typed}), not raw_data: statistics are not computed for it` };
  if (numel === 0) return { ...entry, data: { offset: 0, byteLength: 0 } };
  return { ...entry, note: 'the initializer holds no data' };
}

function toNumber(v: Int64): number {
  return typeof v === 'number' ? v : v.toNumber();
}
