// Compact display frames for the Field Visualizer: each block (one field of one sample of one
// frame) as 8 bits per value with its own value range, so a frame crosses into the webview in a
// quarter of the float32 bytes. Decoding gives lo + q (hi - lo) / 255: within (hi - lo) / 510 of
// the value (half a quantisation step). Exact float32 values stay in the engine and are fetched
// on demand (hover readout, .npy export; the measurements run there on the exact values).
// Non-finite values: NaN and -Infinity decode to lo, +Infinity to hi (the host reports them).

export interface Quantised {
  /** One byte per value, in the layout of the float32 source. */
  data: Uint8Array;
  /** Per block: the smallest and the largest finite value (lo = hi for a constant block). */
  lo: Float32Array;
  hi: Float32Array;
}

/** Quantises `src` (a whole number of blocks of `block` values) to 8 bits per value. */
export function quantise8(src: Float32Array, block: number): Quantised {
  if (block < 1 || src.length % block !== 0) throw new Error(`${src.length} values are not blocks of ${block}`);
  const blocks = src.length / block;
  const data = new Uint8Array(src.length);
  const lo = new Float32Array(blocks);
  const hi = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const o = b * block;
    let mn = Infinity;
    let mx = -Infinity;
    for (let i = o; i < o + block; i++) {
      const v = src[i];
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    // NaN compares false: a block with one is not caught by the loop above
    let finite = mn !== Infinity && mn !== -Infinity && mx !== Infinity;
    if (finite) for (let i = o; i < o + block; i++) if (src[i] !== src[i]) { finite = false; break; }
    if (mn === Infinity) { mn = 0; mx = 0; } // no finite value (or all +/-Infinity: clamped below)
    if (mn === -Infinity || mx === Infinity) {
      // ranges from the finite values only
      mn = Infinity; mx = -Infinity;
      for (let i = o; i < o + block; i++) {
        const v = src[i];
        if (Number.isFinite(v)) { if (v < mn) mn = v; if (v > mx) mx = v; }
      }
      if (mn === Infinity) { mn = 0; mx = 0; }
    }
    lo[b] = mn;
    hi[b] = mx;
    const scale = mx > mn ? 255 / (mx - mn) : 0;
    // (v - mn) * scale + 0.5 truncated: round half up; a Uint8Array store truncates, wraps NaN to 0
    // and would wrap values over 255, so those (and the non-finite ones) are clamped first
    const end = o + block;
    if (finite) {
      for (let i = o; i < end; i++) data[i] = (src[i] - mn) * scale + 0.5;
    } else {
      for (let i = o; i < end; i++) {
        const v = src[i];
        data[i] = v === Infinity ? 255 : v > mn ? Math.min(255, (v - mn) * scale + 0.5) : 0; // NaN, -Infinity: 0
      }
    }
  }
  return { data, lo, hi };
}

/** Decodes into `out` (a new array by default) at `offset`. */
export function dequantise8(q: Quantised, block: number, out = new Float32Array(q.data.length), offset = 0): Float32Array {
  const blocks = q.lo.length;
  if (q.data.length !== blocks * block || q.hi.length !== blocks) throw new Error('quantised frame of inconsistent sizes');
  for (let b = 0; b < blocks; b++) {
    const lo = q.lo[b];
    const step = (q.hi[b] - lo) / 255;
    const o = b * block;
    for (let i = 0; i < block; i++) out[offset + o + i] = lo + q.data[o + i] * step;
  }
  return out;
}

/** Largest decoding error of a block: half a quantisation step. */
export function quantisationError(lo: number, hi: number): number {
  return (hi - lo) / 510;
}
