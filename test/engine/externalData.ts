// Rewrites an ONNX model with its weights inline into the same model with its weights in one
// external data file beside it (TensorProto data_location = EXTERNAL, external_data location,
// offset, length), as onnx.save_model(..., save_as_external_data=True, all_tensors_to_one_file=True)
// does. Every other byte of the model is kept as it is: the protobuf is walked by hand, so fields
// pMF Lab's schema does not declare survive. For the engine's tests and bench/load.ts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { concat, lengthDelimited } from '../../src/core/checkpoint/protobufWire';

function varint(bytes: Uint8Array, pos: number): [number, number] {
  let v = 0;
  for (let shift = 1; ; shift *= 128) {
    const b = bytes[pos++];
    v += (b & 0x7f) * shift;
    if (b < 0x80) return [v, pos];
  }
}

const utf8 = new TextEncoder();

function field(num: number, value: Uint8Array): Uint8Array {
  return concat(lengthDelimited(num, value));
}

/** The fields of a message: number, wire type, the whole field's bytes, and the value's range. */
function* fields(bytes: Uint8Array, from: number, to: number): Generator<{ num: number; wire: number; start: number; vFrom: number; end: number }> {
  let pos = from;
  while (pos < to) {
    const start = pos;
    const [tag, p] = varint(bytes, pos);
    const num = Math.floor(tag / 8);
    const wire = tag % 8;
    let vFrom = p;
    let end: number;
    if (wire === 0) end = varint(bytes, p)[1];
    else if (wire === 1) end = p + 8;
    else if (wire === 5) end = p + 4;
    else if (wire === 2) {
      const [n, q] = varint(bytes, p);
      vFrom = q;
      end = q + n;
    } else throw new Error(`wire type ${wire} not handled`);
    yield { num, wire, start, vFrom, end };
    pos = end;
  }
}

/**
 * Writes `<dir>/<name>` (the graph) and `<dir>/<name>.data` (every initializer's raw_data of
 * at least `minBytes`, back to back) from an inline model; returns both paths.
 */
export function writeExternalDataModel(model: Uint8Array, dir: string, name: string, minBytes = 1024): { model: string; data: string } {
  const location = `${name}.data`;
  const data: Uint8Array[] = [];
  let offset = 0;
  const tensor = (from: number, to: number): Uint8Array => {
    const kept: Uint8Array[] = [];
    let raw: Uint8Array | undefined;
    for (const f of fields(model, from, to)) {
      if (f.num === 9 && f.wire === 2 && f.end - f.vFrom >= minBytes) raw = model.subarray(f.vFrom, f.end);
      else kept.push(model.subarray(f.start, f.end));
    }
    if (!raw) return Buffer.concat(kept);
    const entry = (key: string, value: string) => field(13, Buffer.concat([field(1, utf8.encode(key)), field(2, utf8.encode(value))]));
    kept.push(entry('location', location), entry('offset', String(offset)), entry('length', String(raw.length)),
      Uint8Array.from([14 * 8, 1])); // data_location = EXTERNAL
    data.push(raw);
    offset += raw.length;
    return Buffer.concat(kept);
  };
  const graph = (from: number, to: number): Uint8Array => Buffer.concat([...fields(model, from, to)].map((f) =>
    (f.num === 5 && f.wire === 2 ? field(5, tensor(f.vFrom, f.end)) : model.subarray(f.start, f.end))));
  const out = Buffer.concat([...fields(model, 0, model.length)].map((f) =>
    (f.num === 7 && f.wire === 2 ? field(7, graph(f.vFrom, f.end)) : model.subarray(f.start, f.end))));
  const paths = { model: join(dir, name), data: join(dir, location) };
  writeFileSync(paths.data, Buffer.concat(data));
  writeFileSync(paths.model, out);
  return paths;
}
