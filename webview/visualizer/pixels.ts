// Painting one field of one sample into an ImageData ([C, H, W] values from offset `off`):
//   renderImage       z and x: data range -> 0..255 (1 channel grey, 3 channels RGB), clipped
//   renderDiverging   u and v, one channel: diverging map symmetric around 0 (scale m)
//   renderMagnitude   u and v: the length over channels on a sequential map from 0 (scale m)
// and the scales: maxAbs (one channel), maxMagnitude (over channels).
import { DIVERGING, SEQUENTIAL } from './colormap';

export function maxAbs(d: Float32Array, off: number, len: number): number {
  let m = 0;
  for (let i = off; i < off + len; i++) {
    const a = Math.abs(d[i]);
    if (a > m) m = a;
  }
  return m;
}

export function maxMagnitude(d: Float32Array, off: number, C: number, hw: number): number {
  let m = 0;
  for (let i = 0; i < hw; i++) {
    let s = 0;
    for (let c = 0; c < C; c++) {
      const v = d[off + c * hw + i];
      s += v * v;
    }
    if (s > m) m = s;
  }
  return Math.sqrt(m);
}

/** Data range -> 0..255: one channel grey, three (or more) channels RGB from the first three. */
export function renderImage(img: ImageData, d: Float32Array, off: number, C: number, hw: number, lo: number, hi: number): void {
  const out = img.data;
  const k = 255 / (hi - lo || 1);
  const rgb = C >= 3;
  for (let i = 0; i < hw; i++) {
    const o = i * 4;
    if (rgb) {
      out[o] = (d[off + i] - lo) * k;
      out[o + 1] = (d[off + hw + i] - lo) * k;
      out[o + 2] = (d[off + 2 * hw + i] - lo) * k;
    } else {
      out[o] = out[o + 1] = out[o + 2] = (d[off + i] - lo) * k;
    }
    out[o + 3] = 255;
  }
}

/** One channel, symmetric range [-m, m] -> diverging LUT. */
export function renderDiverging(img: ImageData, d: Float32Array, off: number, hw: number, m: number): void {
  const out = img.data;
  const lut = DIVERGING.rgb;
  const k = 127.5 / m;
  for (let i = 0; i < hw; i++) {
    let j = Math.round(d[off + i] * k + 127.5);
    j = j < 0 ? 0 : j > 255 ? 255 : j | 0;
    const o = i * 4;
    out[o] = lut[j * 3];
    out[o + 1] = lut[j * 3 + 1];
    out[o + 2] = lut[j * 3 + 2];
    out[o + 3] = 255;
  }
}

/** Per-pixel magnitude over channels, [0, m] -> sequential LUT. */
export function renderMagnitude(img: ImageData, d: Float32Array, off: number, C: number, hw: number, m: number): void {
  const out = img.data;
  const lut = SEQUENTIAL.rgb;
  const k = 255 / m;
  for (let i = 0; i < hw; i++) {
    let s = 0;
    for (let c = 0; c < C; c++) {
      const v = d[off + c * hw + i];
      s += v * v;
    }
    let j = Math.round(Math.sqrt(s) * k);
    j = j > 255 ? 255 : j;
    const o = i * 4;
    out[o] = lut[j * 3];
    out[o + 1] = lut[j * 3 + 1];
    out[o + 2] = lut[j * 3 + 2];
    out[o + 3] = 255;
  }
}
