// The colour maps (src/core/colormap.ts, shared with the exports), a colour bar, and number formatting.
import type { Lut } from '../../src/core/colormap';

export { DIVERGING, GREY, parseColor, SEQUENTIAL, type Lut } from '../../src/core/colormap';

/** Paints a horizontal colour bar (1 pixel high; stretched by CSS). */
export function paintColorbar(canvas: HTMLCanvasElement, lut: Lut, rgbImage = false): void {
  canvas.width = 256;
  canvas.height = 1;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(256, 1);
  for (let i = 0; i < 256; i++) {
    const o = i * 4;
    if (rgbImage) {
      // An RGB image has no single colour map: show a grey ramp (each channel maps the same way).
      img.data[o] = img.data[o + 1] = img.data[o + 2] = i;
    } else {
      img.data[o] = lut.rgb[i * 3];
      img.data[o + 1] = lut.rgb[i * 3 + 1];
      img.data[o + 2] = lut.rgb[i * 3 + 2];
    }
    img.data[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** Short, readable number formatting for ranges and readouts. */
export function fmt(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2).replace('-', '\u2212');
  const s = v.toFixed(Math.max(0, digits - Math.max(0, Math.floor(Math.log10(a)))));
  return s.replace('-', '\u2212');
}
