// Node-side I/O with the real sharp: images into models, animations, PNG settings, .npy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { encodeAnimation, upscale } from '../../src/node/animation';
import { decodeImageForModel } from '../../src/node/imageInput';
import { encodeNpy } from '../../src/node/npy';
import { encodePng, gridImage, readPngSettings } from '../../src/node/png';

async function rampPng(width: number, height: number, channels: 1 | 3): Promise<Buffer> {
  const px = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) px[(y * width + x) * channels + c] = Math.round((x / (width - 1)) * 255);
    }
  }
  const img = sharp(px, { raw: { width, height, channels } });
  return (channels === 1 ? img.toColourspace('b-w') : img).png().toBuffer();
}

test('a PNG becomes a model input: resized, centre-cropped, in the data range, CHW, with a notice of the changes', async () => {
  const { x, notice } = await decodeImageForModel(await rampPng(112, 56, 3), 28, 1, [-1, 1]);
  assert.equal(x.length, 784);
  assert.ok(Math.min(...x) >= -1 && Math.max(...x) <= 1);
  // centre crop of a horizontal ramp keeps a ramp: left side darker than right
  assert.ok(x[14 * 28 + 2] < x[14 * 28 + 25] - 0.5, `${x[14 * 28 + 2]} vs ${x[14 * 28 + 25]}`);
  assert.equal(notice, 'The image was resized from 112x56 to 28x28 (centre crop to a square), converted from colour to grey to fit the model.');
  const rgb = await decodeImageForModel(await rampPng(40, 40, 1), 32, 3, [0, 1]);
  assert.equal(rgb.x.length, 3 * 32 * 32);
  assert.ok(Math.abs(rgb.x[5] - rgb.x[1024 + 5]) < 1e-6, 'grey input: equal channels');
  assert.match(rgb.notice!, /resized from 40x40 to 32x32, converted from grey to colour/);
  const same = await decodeImageForModel(await rampPng(28, 28, 1), 28, 1, [-1, 1]);
  assert.equal(same.notice, undefined);
  await assert.rejects(decodeImageForModel(Buffer.from('not an image'), 28, 1, [-1, 1]), /Not a readable image/);
});

test('animations have one page per frame and the frames in order', async () => {
  const frames = [0, 128, 255].map((v) => ({ pixels: new Uint8Array(4 * 3 * 3).fill(v), width: 4, height: 3 }));
  for (const format of ['gif', 'webp'] as const) {
    const buf = await encodeAnimation(frames, format, { scale: 2, delayMs: 100 });
    const meta = await sharp(buf, { animated: true }).metadata();
    assert.equal(meta.format, format);
    assert.equal(meta.pages, 3);
    assert.equal(meta.width, 8);
    assert.equal(meta.pageHeight, 6);
    assert.deepEqual(meta.delay?.slice(0, 2), [100, 100]);
  }
  const up = upscale({ pixels: Uint8Array.from([1, 2, 3, 4, 5, 6]), width: 2, height: 1 }, 2);
  assert.deepEqual(Array.from(up.pixels.subarray(0, 12)), [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
  await assert.rejects(encodeAnimation([], 'gif'), /at least one frame/);
});

test('PNG settings round-trip through XMP, with characters that need escaping', async () => {
  const img = { pixels: new Uint8Array(16).fill(9), width: 4, height: 4, channels: 1 };
  const settings = { class: 'T-shirt/top & <friends>', seed: 7, command: "pmf generate --class 'A,B'" };
  const png = await encodePng(img, { settings, description: 'a "test"' });
  assert.deepEqual(await readPngSettings(png), settings);
  assert.equal(await readPngSettings(await encodePng(img)), undefined);
  const grid = gridImage([img, img, img], 2, 1);
  assert.deepEqual([grid.width, grid.height], [2 * 4 + 3, 2 * 4 + 3]);
});

test('.npy header is padded to 64 bytes and describes the array', () => {
  const npy = encodeNpy(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
  const len = npy.readUInt16LE(8);
  assert.equal((10 + len) % 64, 0);
  assert.match(npy.subarray(10, 10 + len).toString('latin1'), /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \}\s*\n$/);
  assert.deepEqual(Array.from(new Float32Array(npy.buffer.slice(npy.byteOffset + 10 + len, npy.byteOffset + npy.length))), [1, 2, 3, 4, 5, 6]);
  assert.throws(() => encodeNpy(new Float32Array(5), [2, 3]), /holds 6 values/);
});
