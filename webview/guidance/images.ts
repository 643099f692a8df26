// Drawing the host's 8-bit images ([n, H, W, C] interleaved, src/shared/protocol/guidance.ts
// Images) into canvases: one channel grey, three RGB. Canvases hold the image's own pixels; CSS
// scales them up without smoothing.
import type { Images } from '../../src/shared/protocol/guidance';

/** Paints image k of `images` into `canvas` (resized to the image). */
export function paint(canvas: HTMLCanvasElement, images: Images, k: number): void {
  const { width: w, height: h, channels: c, pixels } = images;
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(w, h);
  const out = img.data;
  const off = k * w * h * c;
  for (let i = 0; i < w * h; i++) {
    const o = i * 4;
    const p = off + i * c;
    if (c >= 3) {
      out[o] = pixels[p];
      out[o + 1] = pixels[p + 1];
      out[o + 2] = pixels[p + 2];
    } else {
      out[o] = out[o + 1] = out[o + 2] = pixels[p];
    }
    out[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** The CSS size of an image of width w: about 72 px (2.5x for 28 x 28), at least 1x up to 128 px. */
export function displaySize(w: number): number {
  return Math.round(Math.max(Math.min(w, 128), Math.min(w * 2.5, 72)));
}
