// A user's PNG / JPEG as a model input: decoded and resized with sharp to the model's size and
// channels (centre crop to square, Lanczos), mapped to the model's data range, CHW float32.
import type { Sharp } from 'sharp';

async function load(bytes: Buffer): Promise<Sharp> {
  const sharp = (await import('sharp')).default;
  return sharp(bytes, { failOn: 'error' });
}

export interface DecodedImage {
  /** [C, H, W] in the data range. */
  x: Float32Array;
  /** What was changed to fit the model (size, crop, colour, alpha), or undefined when nothing was. */
  notice?: string;
}

export async function decodeImageForModel(bytes: Buffer, size: number, channels: number,
  dataRange: readonly [number, number]): Promise<DecodedImage> {
  if (channels !== 1 && channels !== 3) throw new RangeError(`models with ${channels} channels cannot take images`);
  let img: Sharp;
  let width: number;
  let height: number;
  let srcChannels: number;
  let alpha: boolean;
  try {
    img = await load(bytes);
    const meta = await img.metadata();
    if (!meta.width || !meta.height) throw new Error('no image size');
    [width, height, srcChannels, alpha] = [meta.width, meta.height, meta.channels ?? 3, meta.hasAlpha ?? false];
  } catch (e) {
    throw new Error(`Not a readable image (PNG or JPEG expected): ${(e as Error).message}`);
  }
  const colour = (c: number) => (c === 1 ? 'grey' : 'colour');
  const changes: string[] = [];
  if (width !== size || height !== size) {
    changes.push(`resized from ${width}x${height} to ${size}x${size}${width !== height ? ' (centre crop to a square)' : ''}`);
  }
  const srcColour = alpha ? srcChannels - 1 : srcChannels;
  if ((srcColour === 1) !== (channels === 1)) changes.push(`converted from ${colour(srcColour)} to ${colour(channels)}`);
  if (alpha) changes.push('transparency dropped');
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
  return { x: out, notice: changes.length ? `The image was ${changes.join(', ')} to fit the model.` : undefined };
}
