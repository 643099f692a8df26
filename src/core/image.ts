// Conversion of model outputs (in the data range) to 8-bit pixels.

/**
 * One sample [C, H, W] in [lo, hi] -> interleaved 8-bit pixels [H, W, C].
 * lo maps to 0 and hi to 255; values are rounded half up and clipped.
 */
export function toUint8HWC(chw: Float32Array, channels: number, height: number, width: number,
  dataRange: readonly [number, number]): Uint8Array {
  if (chw.length !== channels * height * width) {
    throw new RangeError(`expected ${channels}x${height}x${width} values, got ${chw.length}`);
  }
  const [lo, hi] = dataRange;
  const scale = 255 / (hi - lo);
  const out = new Uint8Array(chw.length);
  const plane = height * width;
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < plane; p++) {
      const v = Math.floor((chw[c * plane + p] - lo) * scale + 0.5);
      out[p * channels + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

/** True when every pixel has the same value (a blank image). */
export function isBlank(pixels: Uint8Array): boolean {
  for (let i = 1; i < pixels.length; i++) if (pixels[i] !== pixels[0]) return false;
  return true;
}
