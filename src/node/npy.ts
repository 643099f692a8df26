// NumPy .npy (format version 1.0): a writer for float32 and float64 arrays (fields, toy samples,
// statistics) and a reader.

/** Encodes a little-endian float32 array of the given shape as .npy bytes. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Buffer {
  return encodeNpyArray(data, shape);
}

/** The element types .npy files of statistics use. */
export type NpyDtype = 'f4' | 'f8' | 'i4' | 'i8' | 'u1';

const DTYPE_BYTES: Record<NpyDtype, number> = { f4: 4, f8: 8, i4: 4, i8: 8, u1: 1 };

/** Encodes a little-endian float32 or float64 array (C order) as .npy bytes (version 1.0). */
export function encodeNpyArray(data: Float32Array | Float64Array | Uint8Array, shape: readonly number[]): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`shape [${shape.join(',')}] holds ${count} values, data has ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const descr = data instanceof Uint8Array ? '|u1' : `<f${data.BYTES_PER_ELEMENT}`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // magic (6) + version (2) + header length (2) + header + '\n' is a multiple of 64
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('big-endian hosts are not supported');
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** A decoded .npy array: its values as float64 (exact for every supported dtype up to 2^53), in C order. */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  values: Float64Array;
}

/**
 * Decodes .npy bytes (format versions 1, 2 and 3; little- or big-endian float32, float64, int32,
 * int64, uint8; C or Fortran order up to 2 dimensions). Throws an Error whose message says what is
 * wrong, starting with `what` (the file and entry, for the message).
 */
export function decodeNpy(bytes: Uint8Array, what: string): NpyArray {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 10 || b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${what} is not a NumPy .npy array (no \\x93NUMPY signature)`);
  const major = b[6];
  if (major < 1 || major > 3) throw new Error(`${what} is a .npy array of format version ${major}, which pMF Lab does not read (1 to 3)`);
  const lenBytes = major === 1 ? 2 : 4;
  if (b.length < 8 + lenBytes) throw new Error(`${what} is truncated: its .npy header is cut off`);
  const headerLength = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = 8 + lenBytes + headerLength;
  if (b.length < start) throw new Error(`${what} is truncated: its .npy header is cut off`);
  const header = b.toString(major === 3 ? 'utf8' : 'latin1', 8 + lenBytes, start);
  const descr = /'descr'\s*:\s*'([<>|=])([a-z])(\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeMatch = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeMatch) throw new Error(`${what} has a .npy header pMF Lab cannot read: ${JSON.stringify(header.trim())}`);
  const dtype = `${descr[2]}${descr[3]}` as NpyDtype;
  if (!(dtype in DTYPE_BYTES)) throw new Error(`${what} holds ${descr[1]}${dtype} values; pMF Lab reads float32, float64, int32, int64 and uint8 arrays`);
  const bigEndian = descr[1] === '>';
  const shape = shapeMatch[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((n) => !Number.isSafeInteger(n) || n < 0)) throw new Error(`${what} has a .npy header with an invalid shape (${shapeMatch[1]})`);
  const count = shape.reduce((a, c) => a * c, 1);
  const size = DTYPE_BYTES[dtype];
  if (b.length < start + count * size) {
    throw new Error(`${what} is truncated: shape (${shape.join(', ')}) needs ${count * size} bytes of data, the file has ${b.length - start}`);
  }
  const view = new DataView(b.buffer, b.byteOffset + start, count * size);
  const le = !bigEndian;
  let values = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * size;
    values[i] =
      dtype === 'f4' ? view.getFloat32(o, le)
      : dtype === 'f8' ? view.getFloat64(o, le)
      : dtype === 'i4' ? view.getInt32(o, le)
      : dtype === 'i8' ? Number(view.getBigInt64(o, le))
      : view.getUint8(o);
  }
  if (fortran[1] === 'True' && shape.length > 1) {
    if (shape.length !== 2) throw new Error(`${what} is a ${shape.length}-dimensional array in Fortran order, which pMF Lab does not read`);
    const [r, c] = shape;
    const t = new Float64Array(count);
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[i * c + j] = values[j * r + i];
    values = t;
  }
  return { dtype, shape, values };
}
