// Draws one sample of an 8-bit display field (src/core/frameEncoding.ts: a block per sample with
// its own range) into a canvas of the sample's own size; CSS shows every model's images at the
// same display size. x is shown in the model's data range, u in a fixed symmetric range, so
// that noise-like u looks alike across models and a model's x outside its data range saturates.
import type { Quantised } from '../../src/shared/protocol/compareModels';

/** u (about e - x: noise minus data) is shown from -U_RANGE (black) to +U_RANGE (white). */
export const U_RANGE = 3;

/**
 * Sample `block` of q ([blocks, C * H * W]) as RGBA pixels: value v maps to 255 (v - lo) / (hi - lo)
 * with [lo, hi] the display range, clamped. C = 1 is grey, C = 3 colour.
 */
export function samplePixels(q: Quantised, block: number, shape: readonly number[], range: readonly [number, number]): ImageData {
  const [C, H, W] = shape;
  const per = C * H * W;
  const out = new ImageData(W, H);
  const d = out.data;
  const qlo = q.lo[block];
  const qstep = (q.hi[block] - qlo) / 255;
  const [lo, hi] = range;
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const base = block * per;
  const hw = H * W;
  for (let i = 0; i < hw; i++) {
    for (let c = 0; c < 3; c++) {
      const v = qlo + q.data[base + (C === 3 ? c : 0) * hw + i] * qstep;
      d[i * 4 + c] = (v - lo) * scale; // Uint8ClampedArray clamps and rounds
    }
    d[i * 4 + 3] = 255;
  }
  return out;
}

/** A canvas showing the sample (role img, with its label). */
export function sampleCanvas(q: Quantised, block: number, shape: readonly number[], range: readonly [number, number],
  label: string, cls: string): HTMLCanvasElement {
  const [, H, W] = shape;
  const canvas = document.createElement('canvas');
  canvas.width = W;
  canvas.height = H;
  canvas.className = cls;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', label);
  canvas.title = label;
  canvas.getContext('2d')!.putImageData(samplePixels(q, block, shape, range), 0, 0);
  return canvas;
}
