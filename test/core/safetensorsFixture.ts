// safetensors files made in tests: a header object (or raw header text) and the data bytes.

/** A safetensors file from a header object and data bytes. */
export function safetensors(header: unknown, data: Uint8Array, rawHeader?: string): Uint8Array {
  const text = Buffer.from(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setUint32(0, text.length, true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

/** A safetensors file of float32 / float16 tensors given by name, shape and values. */
export function safetensorsOf(tensors: Record<string, { shape: number[]; values: number[]; dtype?: 'F32' | 'F16' }>): Uint8Array {
  const header: Record<string, unknown> = {};
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = t.dtype === 'F16'
      ? new Uint8Array(Uint16Array.from(t.values, toHalf).buffer)
      : new Uint8Array(Float32Array.from(t.values).buffer);
    header[name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  const data = new Uint8Array(offset);
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return safetensors(header, data);
}

/** float16 bits of a value that float16 holds exactly (tests use such values only). */
function toHalf(v: number): number {
  if (v === 0) return Object.is(v, -0) ? 0x8000 : 0;
  if (Number.isNaN(v)) return 0x7e00;
  if (!Number.isFinite(v)) return v > 0 ? 0x7c00 : 0xfc00;
  const sign = v < 0 ? 0x8000 : 0;
  const a = Math.abs(v);
  const e = Math.floor(Math.log2(a));
  if (e < -14) return sign | Math.round(a / 2 ** -24);
  return sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
}
