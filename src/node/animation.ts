// Animated GIF / WebP of a sequence of RGB frames, with sharp (frames stacked as pages).

export interface RgbFrame {
  pixels: Uint8Array; // [H, W, 3]
  width: number;
  height: number;
}

/** Nearest-neighbour upscaling by an integer factor. */
export function upscale(f: RgbFrame, scale: number): RgbFrame {
  if (scale === 1) return f;
  const W = f.width * scale;
  const out = new Uint8Array(W * f.height * scale * 3);
  for (let y = 0; y < f.height * scale; y++) {
    for (let x = 0; x < W; x++) {
      const src = (Math.floor(y / scale) * f.width + Math.floor(x / scale)) * 3;
      out.set(f.pixels.subarray(src, src + 3), (y * W + x) * 3);
    }
  }
  return { pixels: out, width: W, height: f.height * scale };
}

export async function encodeAnimation(input: RgbFrame[], format: 'gif' | 'webp', opts: { delayMs?: number; scale?: number } = {}):
  Promise<Buffer> {
  if (input.length === 0) throw new RangeError('an animation needs at least one frame');
  const frames = input.map((f) => upscale(f, opts.scale ?? 1));
  const { width, height } = frames[0];
  const tall = Buffer.alloc(width * height * 3 * frames.length);
  frames.forEach((f, i) => {
    if (f.width !== width || f.height !== height || f.pixels.length !== width * height * 3) {
      throw new RangeError('animation frames differ in size');
    }
    tall.set(f.pixels, i * width * height * 3);
  });
  const sharp = (await import('sharp')).default;
  const img = sharp(tall, { raw: { width, height: height * frames.length, channels: 3, pageHeight: height } });
  const delay = new Array<number>(frames.length).fill(opts.delayMs ?? 250);
  delay[delay.length - 1] = Math.max(delay[0] * 4, 1000); // linger on the end point
  return format === 'gif' ? img.gif({ delay, loop: 0 }).toBuffer() : img.webp({ delay, loop: 0, lossless: true }).toBuffer();
}
