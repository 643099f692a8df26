// Reads what an ONNX file says about itself (version, producer, opsets, metadata, graph
// inputs and outputs) without parsing its nodes or weights. scanOnnxLayout does the same for a
// file too large to hold (a 2 GB inline model, or one whose weights lie in files beside it): it
// walks the protobuf's fields through random-access reads, skipping nodes and tensor data by
// their lengths, and returns the header as a small ModelProto that readOnnxHeader decodes.
import { concat, lengthDelimited } from './protobufWire';
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

function notOnnx(fileName: string, detail: string): CheckpointError {
  return new CheckpointError(
    'not-onnx',
    `${fileName} is not an ONNX model (${detail}). pMF checkpoints are .onnx files written by 'pmf_trainer export'.`,
  );
}

/** protobufjs's detail for data that runs past its end, which scanOnnxLayout uses too. */
const ENDS_IN_A_FIELD = 'its data ends in the middle of a field: the file is truncated, or not ONNX at all';

function decodeModel(bytes: Uint8Array, fileName: string): OnnxModel {
  const fail = (detail: string): never => {
    throw notOnnx(fileName, detail);
  };
  if (bytes.length === 0) fail('the file is empty');
  let model: OnnxModel;
  try {
    model = headerModelType.decode(bytes) as OnnxModel;
  } catch (err) {
    // protobufjs throws a RangeError when a length or value runs past the end of the data.
    const detail =
      err instanceof RangeError
        ? ENDS_IN_A_FIELD
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

// ---- the header of a file too large to hold ---------------------------------------------

/** Synchronous random-access reads (a file handle): exactly `length` bytes from `offset`. */
export interface SyncByteSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

/** Where an ONNX model's weights are, from scanOnnxLayout. */
export interface OnnxLayout {
  /**
   * A ModelProto with the fields readOnnxHeader reads (version, producer, opsets, doc string,
   * metadata; the graph's name, doc string, inputs, outputs and initializer names) and nothing
   * else: readCheckpoint(header) says what readCheckpoint(the whole file) says.
   */
  header: Uint8Array;
  /** Bytes of initializer data inside the file (raw_data and the typed value fields). */
  inlineBytes: number;
  /** Initializer data in files beside the model (TensorProto data_location = EXTERNAL), by location. */
  external: Array<{ location: string; bytes: number; end: number; tensors: number }>;
}

/** Largest header field copied (metadata, doc strings, the graph's inputs): far beyond any real model's. */
const MAX_HEADER_FIELD = 256 * 2 ** 20;
const READ_BLOCK = 1 << 16;
/** ModelProto fields the header keeps (graph, 7, is rebuilt): ir_version .. doc_string, opset_import, metadata_props. */
const MODEL_FIELDS = new Set([1, 2, 3, 4, 5, 6, 8, 14]);
/** GraphProto fields kept as they are: name, doc_string, input, output. */
const GRAPH_FIELDS = new Set([2, 10, 11, 12]);
/** Bytes per element of TensorProto data types, for external tensors without a length. */
const ELEM_BYTES: Readonly<Record<number, number>> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

class ScanError extends Error {}

/** Reads a SyncByteSource in 64 KB blocks: the walk reads many small tags and lengths, and skips the rest. */
class Cursor {
  private start = 0;
  private block: Uint8Array = new Uint8Array(0);
  pos = 0;

  constructor(private readonly src: SyncByteSource) {}

  private byte(): number {
    if (this.pos >= this.src.size) throw new ScanError(ENDS_IN_A_FIELD);
    if (this.pos < this.start || this.pos >= this.start + this.block.length) {
      this.start = this.pos;
      this.block = this.src.read(this.pos, Math.min(READ_BLOCK, this.src.size - this.pos));
    }
    return this.block[this.pos++ - this.start];
  }

  varint(): number {
    let v = 0;
    for (let shift = 1, i = 0; i < 10; i++, shift *= 128) {
      const b = this.byte();
      v += (b & 0x7f) * shift;
      if (b < 0x80) return v;
    }
    throw new ScanError('it does not decode as an ONNX ModelProto: a varint is longer than 10 bytes');
  }

  bytes(from: number, to: number): Uint8Array {
    if (to > this.src.size) throw new ScanError(ENDS_IN_A_FIELD);
    if (from >= this.start && to <= this.start + this.block.length) return this.block.slice(from - this.start, to - this.start);
    return this.src.read(from, to - from);
  }

  /** The next field of the message that ends at `end`: its number, wire type and (for wire type 2) value range. */
  field(end: number): { field: number; wire: number; start: number; from: number; to: number } {
    const start = this.pos;
    const tag = this.varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw new ScanError('it does not decode as an ONNX ModelProto: a field has number 0');
    let from = this.pos;
    let to: number;
    switch (wire) {
      case 0: this.varint(); to = this.pos; break;
      case 1: to = this.pos + 8; break;
      case 2: { const n = this.varint(); from = this.pos; to = from + n; break; }
      case 3: this.skipGroup(field, end); to = this.pos; break;
      case 5: to = this.pos + 4; break;
      default: throw new ScanError(`it does not decode as an ONNX ModelProto: invalid wire type ${wire}`);
    }
    if (to > end) throw new ScanError(ENDS_IN_A_FIELD);
    this.pos = to;
    return { field, wire, start, from, to };
  }

  private skipGroup(field: number, end: number): void {
    for (;;) {
      if (this.pos >= end) throw new ScanError(ENDS_IN_A_FIELD);
      const inner = this.pos;
      const tag = this.varint();
      if (tag % 8 === 4) {
        if (Math.floor(tag / 8) !== field) throw new ScanError('it does not decode as an ONNX ModelProto: a group ends with the wrong field');
        return;
      }
      this.pos = inner;
      this.field(end);
    }
  }
}

const text = new TextDecoder();

/**
 * The header and the weights' whereabouts of an ONNX model, read from `src` without reading its
 * nodes or tensor data (a few hundred small reads for a transformer). Throws CheckpointError
 * ('not-onnx') with readOnnxHeader's messages when the bytes are no ONNX model.
 */
export function scanOnnxLayout(src: SyncByteSource, fileName = 'The file'): OnnxLayout {
  const head = src.read(0, Math.min(16, src.size));
  const fail = (detail: string): never => {
    throw notOnnx(fileName, sniff(head) ?? detail);
  };
  if (src.size === 0) fail('the file is empty');
  const c = new Cursor(src);
  const copy = (f: { start: number; to: number }) => {
    if (f.to - f.start > MAX_HEADER_FIELD) throw new ScanError(`a header field of ${f.to - f.start} bytes is beyond what a checkpoint holds`);
    return c.bytes(f.start, f.to);
  };
  const parts: Uint8Array[] = [];
  const external = new Map<string, { bytes: number; end: number; tensors: number }>();
  let inlineBytes = 0;
  let graphs = 0;
  let irVersion = 0;

  const tensor = (end: number): Uint8Array => {
    let name: Uint8Array | undefined;
    let location = 0;
    let dataType = 0;
    let elements = 1;
    const entries: Record<string, string> = {};
    while (c.pos < end) {
      const f = c.field(end);
      if (f.field === 8 && f.wire === 2) name = c.bytes(f.start, f.to);
      else if ([4, 5, 6, 7, 9, 10, 11].includes(f.field) && f.wire === 2) inlineBytes += f.to - f.from;
      else if (f.field === 14 && f.wire === 0) { c.pos = f.from; location = c.varint(); }
      else if (f.field === 2 && f.wire === 0) { c.pos = f.from; dataType = c.varint(); }
      else if (f.field === 1 && f.wire === 0) { c.pos = f.from; elements *= c.varint(); }
      else if (f.field === 1 && f.wire === 2) {
        c.pos = f.from;
        while (c.pos < f.to) elements *= c.varint();
      } else if (f.field === 13 && f.wire === 2) {
        c.pos = f.from;
        let key = '';
        let value = '';
        while (c.pos < f.to) {
          const e = c.field(f.to);
          if (e.wire === 2 && (e.field === 1 || e.field === 2)) {
            if (e.to - e.from > 65536) throw new ScanError('an external data entry is longer than 64 KB');
            const s = text.decode(c.bytes(e.from, e.to));
            if (e.field === 1) key = s;
            else value = s;
          }
        }
        entries[key] = value;
      }
      c.pos = f.to;
    }
    if (location === 1) {
      const where = entries.location ?? '';
      const offset = Number(entries.offset ?? 0);
      const length = entries.length !== undefined ? Number(entries.length) : elements * (ELEM_BYTES[dataType] ?? 0);
      if (!where || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
        throw new ScanError(`an initializer's external data (location '${where}', offset '${entries.offset}', length '${entries.length}') is not valid`);
      }
      const e = external.get(where) ?? { bytes: 0, end: 0, tensors: 0 };
      e.bytes += length;
      e.end = Math.max(e.end, offset + length);
      e.tensors++;
      external.set(where, e);
    }
    return concat(lengthDelimited(5, concat(name ? [name] : [])));
  };

  const graph = (end: number): Uint8Array => {
    const out: Uint8Array[] = [];
    while (c.pos < end) {
      const f = c.field(end);
      if (GRAPH_FIELDS.has(f.field)) out.push(copy(f));
      else if (f.field === 5 && f.wire === 2) {
        c.pos = f.from;
        out.push(tensor(f.to));
      }
      c.pos = f.to;
    }
    return concat(out);
  };

  try {
    while (c.pos < src.size) {
      const f = c.field(src.size);
      if (f.field === 7 && f.wire === 2) {
        c.pos = f.from;
        parts.push(...lengthDelimited(7, graph(f.to)));
        graphs++;
      } else if (MODEL_FIELDS.has(f.field)) {
        if (f.field === 1 && f.wire === 0) {
          c.pos = f.from;
          irVersion = c.varint();
        }
        parts.push(copy(f));
      }
      c.pos = f.to;
    }
  } catch (e) {
    if (e instanceof ScanError) fail(e.message);
    throw e;
  }
  if (irVersion <= 0) fail('it has no ONNX IR version');
  if (graphs === 0) fail('it has no graph');
  return {
    header: concat(parts),
    inlineBytes,
    external: [...external].map(([location, e]) => ({ location, ...e })),
  };
}
