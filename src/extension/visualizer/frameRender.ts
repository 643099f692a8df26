// Frames of one field along a trajectory as RGB images (samples side by side), for the
// animated GIF / WebP export. z and x are images (data range); u and v use a diverging
// colormap symmetric around 0 with one scale for the whole trajectory.
import { DIVERGING } from '../../core/colormap';
import { FIELD_NAMES, type FieldName, FieldLayout } from '../../core/fieldLayout';
import type { RgbFrame } from '../../node/animation';

export function fieldFrames(fields: Float32Array, frames: number, n: number, sampleShape: number[], field: FieldName,
  dataRange: readonly [number, number], pad = 2): RgbFrame[] {
  const [C, H, W] = sampleShape;
  const layout = new FieldLayout(n, C * H * W);
  const k = FIELD_NAMES.indexOf(field);
  const block = (f: number, s: number) => layout.sample(fields, f, k, s);
  const diverging = field === 'u' || field === 'v';
  let scale = 0;
  if (diverging) {
    for (let f = 0; f < frames; f++) for (let s = 0; s < n; s++) for (const v of block(f, s)) scale = Math.max(scale, Math.abs(v));
    scale ||= 1;
  }
  const width = n * W + (n - 1) * pad;
  const out: RgbFrame[] = [];
  for (let f = 0; f < frames; f++) {
    const px = new Uint8Array(width * H * 3).fill(255);
    for (let s = 0; s < n; s++) {
      const a = block(f, s);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const o = (y * width + s * (W + pad) + x) * 3;
          if (diverging) {
            let v = 0;
            for (let c = 0; c < C; c++) v += a[c * H * W + y * W + x];
            const i = Math.round(((v / C / scale) * 0.5 + 0.5) * 255);
            const j = Math.min(255, Math.max(0, i)) * 3; // the panels' diverging map (src/core/colormap.ts)
            px.set(DIVERGING.rgb.subarray(j, j + 3), o);
          } else {
            for (let c = 0; c < 3; c++) {
              const v = a[(C === 1 ? 0 : c) * H * W + y * W + x];
              px[o + c] = Math.min(255, Math.max(0, Math.round(((v - dataRange[0]) / (dataRange[1] - dataRange[0])) * 255)));
            }
          }
        }
      }
    }
    out.push({ pixels: px, width, height: H });
  }
  return out;
}
