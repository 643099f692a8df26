// Writing pieces of protobuf's wire format, for the readers that copy parts of an ONNX ModelProto
// into a smaller one (onnxReader.ts scanOnnxLayout, inspect/onnxLazy.ts) instead of decoding the
// whole file: a varint, a length-delimited field, bytes joined.

export function varintBytes(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A length-delimited field of `length` bytes: its tag and length (the value follows). */
export function lengthPrefix(field: number, length: number): Uint8Array {
  return Uint8Array.from([...varintBytes(field * 8 + 2), ...varintBytes(length)]);
}

/** A length-delimited field: tag, length, value. */
export function lengthDelimited(field: number, value: Uint8Array): Uint8Array[] {
  return [lengthPrefix(field, value.length), value];
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
