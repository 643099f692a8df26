// A user's PNG / JPEG as a model input: decoded and resized with sharp to the model's size and
// channels (centre crop to square, Lanczos), mapped to the model's data range, CHW float32.
import type { Sharp } from 'sharp';

async function load(bytes: Buffer): Promise<Sharp> {
  const sharp = (await import('sharp')).default;
  return sharp(bytes, { failOn: 'error' });
}

export async function decodeImageForModel(bytes: Buffer, size: number, channels: number,
  dataRange: readonly [number, number]): Promise<Float32Array> {
  if (channels !== 1 && channels !== 3) throw new RangeError(`models with ${channels} channels cannot take images`);
  let img: Sharp;
  try {
    img = await load(bytes);
    const meta = await img.metadata();
    if (!meta.width || !meta.height) throw new Error('no image size');
  } catch (e) {
    throw new Error(`Not a readable image (PNG or JPEG expected): ${(e as Error).message}`);
  }
  img = img.removeAlpha().resize(size, size, { fit: 'cover', position: 'centre', kernel: 'lanczos3' });
  img = channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb');
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels) throw new Error(`decoded ${info.channels} channels, expected ${channels}`);
  const [lo, hi] = dataRange;
  const out = new Float32Array(channels * size * size);
  const plane = size * size;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) out[c * plane + p] = lo + (data[p * channels + c] / 255) * (hi - lo);
  }
  return out;
}
