// The colour maps of the Field Visualizer's panels and of its exports (GIF / WebP), one set for
// both: 256-entry lookup tables (RGB bytes), built once from d3-scale-chromatic.
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
