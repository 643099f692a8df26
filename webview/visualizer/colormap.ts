// Colour maps as 256-entry lookup tables (RGB bytes), built once from d3-scale-chromatic.
//   diverging  u and v per channel: blue (negative) - white (0) - red (positive), symmetric around 0
//   sequential per-pixel magnitude |u|, |v|: magma, 0 (black) to max (light yellow)
//   grey       single-channel images (z_t, x)
import { interpolateMagma, interpolateRdBu } from 'd3-scale-chromatic';

export interface Lut {
  readonly name: string;
  /** 256 * 3 bytes. */
  readonly rgb: Uint8ClampedArray;
}

/** Parses the colour strings d3 interpolators return: "#rrggbb" or "rgb(r, g, b)". */
export function parseColor(s: string): [number, number, number] {
  const hex = /^#([0-9a-f]{6})$/i.exec(s.trim());
  if (hex) {
    const v = parseInt(hex[1], 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }
  const m = /rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(s);
  if (m) return [Math.round(+m[1]), Math.round(+m[2]), Math.round(+m[3])];
  return [128, 128, 128];
}

function build(name: string, f: (t: number) => string): Lut {
  const rgb = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) rgb.set(parseColor(f(i / 255)), i * 3);
  return { name, rgb };
}

/** RdBu reversed: low values blue, high values red. */
export const DIVERGING: Lut = build('RdBu (reversed)', (t) => interpolateRdBu(1 - t));
export const SEQUENTIAL: Lut = build('magma', interpolateMagma);
export const GREY: Lut = build('grey', (t) => {
  const g = Math.round(t * 255);
  return `rgb(${g}, ${g}, ${g})`;
});

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
