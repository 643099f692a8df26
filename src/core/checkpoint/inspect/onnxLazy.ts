// An ONNX file's structure without its weights: the ModelProto's fields are walked through a
// ByteSource, block by block, and copied into a smaller ModelProto in memory, except the
// initializers' raw_data and packed typed data, whose place in the file is recorded instead. The
// copy decodes with the same schema as the whole file (onnxSchema.ts), so the inspector's view of
// a 1.7 GB model costs the size of its graph (about 1 MB for pMF-B/16), not of its weights.
// Protobuf's wire format is simple enough to walk by hand (varint tags and lengths); protobufjs
// only decodes whole buffers, which is what this avoids.
import { concat, lengthPrefix } from '../protobufWire';
import { truncatedError } from './byteSource';
import { InspectError, type ByteSource } from './types';

/** Where an initializer's bytes lie in the file, or which typed field holds them. */
export interface InitializerData {
  raw?: { offset: number; length: number };
  /** The packed typed field (float_data, ...) that holds the values, when there is no raw_data. */
  typed?: string;
}

export interface OnnxStructure {
  /** The ModelProto with every initializer's raw_data and packed typed data left out. */
  stripped: Uint8Array;
  /** Per initializer, in graph order. */
  data: InitializerData[];
}

const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;
/** TensorProto's packed numeric fields: values too, left out like raw_data. */
const TENSOR_TYPED: Readonly<Record<number, string>> = { 4: 'float_data', 5: 'int32_data', 7: 'int64_data', 10: 'double_data', 11: 'uint64_data' };
const BLOCK = 1 << 16;

/** Reads a ByteSource in 64 KB blocks (the walk reads many small tags and lengths). */
class Blocks {
  private start = -1;
  private block: Uint8Array = new Uint8Array(0);

  constructor(private readonly source: ByteSource) {}

  get size(): number {
    return this.source.size;
  }

  async byte(pos: number): Promise<number> {
    if (pos < this.start || pos >= this.start + this.block.length) {
      this.start = pos;
      this.block = await this.source.read(pos, Math.min(BLOCK, this.source.size - pos));
    }
    return this.block[pos - this.start];
  }

  async bytes(pos: number, length: number): Promise<Uint8Array> {
    if (pos >= this.start && pos + length <= this.start + this.block.length) return this.block.subarray(pos - this.start, pos - this.start + length);
    return this.source.read(pos, length);
  }
}

interface Field {
  field: number;
  wire: number;
  /** Where the field (its tag) starts, where its value starts, where it ends. */
  start: number;
  value: number;
  end: number;
}

export async function readOnnxStructure(source: ByteSource, fileName: string): Promise<OnnxStructure> {
  const b = new Blocks(source);
  const data: InitializerData[] = [];

  const varint = async (pos: number, limit: number): Promise<[number, number]> => {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (pos >= limit) throw truncatedError(fileName, `its ONNX protobuf ends inside a number at byte ${pos}`);
      const x = await b.byte(pos++);
      v += (x & 0x7f) * 2 ** shift;
      if (x < 0x80) return [v, pos];
    }
    throw new InspectError('corrupt', `${fileName}: its ONNX protobuf has an overlong number at byte ${pos}. Download or copy it again, or export it again.`);
  };

  /** The fields of the message in [start, end), one by one. */
  async function* fields(start: number, end: number, what: string): AsyncGenerator<Field> {
    let pos = start;
    while (pos < end) {
      const [tag, value] = await varint(pos, end);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      let fieldEnd: number;
      let valueStart = value;
      if (wire === 0) fieldEnd = (await varint(value, end))[1];
      else if (wire === 1) fieldEnd = value + 8;
      else if (wire === 5) fieldEnd = value + 4;
      else if (wire === 2) {
        const [n, at] = await varint(value, end);
        valueStart = at;
        fieldEnd = at + n;
      } else {
        throw new InspectError('corrupt', `${fileName}: its ONNX ${what} has a field of wire type ${wire} at byte ${pos}, which ONNX does not use. Download or copy it again, or export it again.`);
      }
      if (fieldEnd > end) {
        throw fieldEnd > b.size
          ? truncatedError(fileName, `its ONNX protobuf ends inside field ${field} of its ${what}, which declares ${fieldEnd - valueStart} bytes from byte ${valueStart}`)
          : new InspectError('corrupt', `${fileName}: field ${field} of its ONNX ${what} runs past the end of the ${what} (byte ${fieldEnd} of ${end}). Download or copy it again, or export it again.`);
      }
      yield { field, wire, start: pos, value: valueStart, end: fieldEnd };
      pos = fieldEnd;
    }
  }

  const copy = async (f: Field) => b.bytes(f.start, f.end - f.start);

  async function tensor(start: number, end: number): Promise<Uint8Array[]> {
    const parts: Uint8Array[] = [];
    const d: InitializerData = {};
    for await (const f of fields(start, end, 'initializer')) {
      if (f.field === TENSOR_RAW_DATA && f.wire === 2) d.raw = { offset: f.value, length: f.end - f.value };
      else if (TENSOR_TYPED[f.field] && f.wire === 2) d.typed ??= TENSOR_TYPED[f.field];
      else parts.push(await copy(f));
    }
    data.push(d);
    return parts;
  }

  async function graph(start: number, end: number): Promise<Uint8Array[]> {
    const parts: Uint8Array[] = [];
    for await (const f of fields(start, end, 'graph')) {
      if (f.field === GRAPH_INITIALIZER && f.wire === 2) for (const p of withLength(GRAPH_INITIALIZER, await tensor(f.value, f.end))) parts.push(p); // no spread: 200k initializers overflow the call stack
      else parts.push(await copy(f));
    }
    return parts;
  }

  const parts: Uint8Array[] = [];
  for await (const f of fields(0, source.size, 'model')) {
    if (f.field === MODEL_GRAPH && f.wire === 2) for (const p of withLength(MODEL_GRAPH, await graph(f.value, f.end))) parts.push(p);
    else parts.push(await copy(f));
  }
  return { stripped: concat(parts), data };
}

/** A length-delimited field `field` holding `parts`. */
function withLength(field: number, parts: Uint8Array[]): Uint8Array[] {
  const out = [lengthPrefix(field, parts.reduce((s, p) => s + p.length, 0))];
  for (const p of parts) out.push(p);
  return out;
}
