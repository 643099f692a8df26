#!/usr/bin/env node
// Makes media/icon.png, the extension's 128 x 128 icon: nine one-step samples of the bundled
// Fashion-MNIST model (classes 0-8, seeds 0-8, made by `pmf generate` itself) in a 3 x 3 grid on
// the gallery banner's colour, each tinted from the visualizer's diverging ends toward white.
//   npm run build --silent && node scripts/make-icon.mjs      (the PNG is committed; rerun to remake it)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SIZE = 128;
const TILE = 38;
const GAP = 4;
const MARGIN = (SIZE - 3 * TILE - 2 * GAP) / 2; // 3
const BACKGROUND = '#16161c'; // package.json galleryBanner.color
// One colour per row: blue, violet, red (the Field Visualizer's diverging colormap, cool to warm).
const TINTS = [
  [90, 150, 255],
  [190, 130, 240],
  [255, 110, 90],
];

const out = mkdtempSync(join(tmpdir(), 'pmf-icon-'));
try {
  execFileSync(process.execPath, [join(root, 'dist', 'cli.js'), 'generate', '--model', 'fashion-mnist',
    '--n', '9', '--seed', '0', '--provider', 'cpu', '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  const samples = readdirSync(out).filter((f) => /^\d{3}-.*\.png$/.test(f)).sort();
  if (samples.length !== 9) throw new Error(`expected 9 samples in ${out}, found ${samples.length}`);

  const tiles = await Promise.all(samples.map(async (f, i) => {
    const [r, g, b] = TINTS[Math.floor(i / 3)];
    // Grey value v becomes the tint at mid-grey and white at 255: lerp(background, tint, v) then toward white.
    const { data, info } = await sharp(join(out, f)).greyscale().resize(TILE, TILE, { kernel: 'lanczos3' })
      .raw().toBuffer({ resolveWithObject: true });
    const rgba = Buffer.alloc(info.width * info.height * 4);
    for (let p = 0; p < info.width * info.height; p++) {
      const v = data[p] / 255;
      const hi = Math.max(0, v - 0.6) / 0.4; // the brightest pixels go to white
      rgba[4 * p] = Math.round(r * v + (255 - r * v) * hi * v);
      rgba[4 * p + 1] = Math.round(g * v + (255 - g * v) * hi * v);
      rgba[4 * p + 2] = Math.round(b * v + (255 - b * v) * hi * v);
      rgba[4 * p + 3] = 255;
    }
    const tile = await sharp(rgba, { raw: { width: info.width, height: info.height, channels: 4 } })
      .composite([{ // rounded corners
        input: Buffer.from(`<svg width="${TILE}" height="${TILE}"><rect width="${TILE}" height="${TILE}" rx="6" fill="#fff"/></svg>`),
        blend: 'dest-in',
      }]).png().toBuffer();
    return { input: tile, left: MARGIN + (i % 3) * (TILE + GAP), top: MARGIN + Math.floor(i / 3) * (TILE + GAP) };
  }));

  const file = join(root, 'media', 'icon.png');
  await sharp({ create: { width: SIZE, height: SIZE, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
    .composite([
      { input: Buffer.from(`<svg width="${SIZE}" height="${SIZE}"><rect width="${SIZE}" height="${SIZE}" rx="14" fill="${BACKGROUND}"/></svg>`) },
      ...tiles,
    ])
    .png({ compressionLevel: 9, palette: true })
    .toFile(file);
  console.log(`wrote ${file} from ${samples.join(', ')}`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
