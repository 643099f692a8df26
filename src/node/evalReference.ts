// Reference statistics for pmf eval: read from an ADM-style or pytorch-fid .npz (`mu`, `sigma`),
// or made by `pmf eval-ref` from real images (a folder of PNG/JPEG files, or the Fashion-MNIST
// split Debian's dataset-fashion-mnist installs) with a feature network, and written in the
// same format, with the features of a subset (for precision/recall) and how they were made.
import { promises as fs } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FeatureStatistics, UINT8_RULE } from '../core/eval';
import type { EngineClient } from '../engine/client';
import type { ProviderSetting } from '../engine/protocol';
import { onnxContentSha256 } from './contentHash';
import { NpzError, readNpz, readReferenceStatistics, writeReferenceStatistics } from './npz';

export interface ReferenceInfo {
  tool: 'pmf eval-ref';
  version: 1;
  source: string;
  count: number;
  net: { file: string; name: string; sha256: string };
  images: string;
}

export interface LoadedReference {
  path: string;
  mu: Float64Array;
  sigma: Float64Array;
  dim: number;
  count?: number;
  /** Features of the first images (precision/recall, density/coverage), when the file has them. */
  features?: Float32Array;
  /** How pmf eval-ref made it; undefined for a file from elsewhere (ADM, pytorch-fid). */
  net?: ReferenceInfo['net'];
}

/** Reads reference statistics; the pmf eval-ref extras (features, provenance) when present. */
export async function readReference(path: string): Promise<LoadedReference> {
  const stats = await readReferenceStatistics(path);
  const ref: LoadedReference = { path, ...stats };
  try {
    const a = await readNpz(path, ['pmf_reference_json', 'features']);
    const info = JSON.parse(new TextDecoder().decode(Uint8Array.from(a.get('pmf_reference_json')!.values))) as ReferenceInfo;
    const f = a.get('features')!;
    if (f.shape.length !== 2 || f.shape[1] !== stats.dim) throw new NpzError(path, `${path}: 'features' has shape (${f.shape.join(', ')}), (n, ${stats.dim}) was expected.`);
    ref.features = Float32Array.from(f.values);
    ref.net = info.net;
    ref.count = info.count;
  } catch (e) {
    if (!(e instanceof NpzError && /has no '(pmf_reference_json|features)' array/.test(e.message))) throw e;
  }
  return ref;
}

/** Where Debian's dataset-fashion-mnist puts the files (PMF_FASHION_MNIST overrides, as for the trainer). */
export function fashionMnistDir(): string {
  return process.env.PMF_FASHION_MNIST ?? '/usr/share/datasets/fashion-mnist';
}

/** The images of a Fashion-MNIST split as 8-bit levels [n, 1, 28, 28] (float32). */
export async function readFashionMnist(split: 'train' | 'test', dir = fashionMnistDir()): Promise<{ levels: Float32Array; n: number; path: string }> {
  const path = join(dir, `${split === 'train' ? 'train' : 't10k'}-images-idx3-ubyte.gz`);
  let bytes: Buffer;
  try {
    bytes = gunzipSync(await fs.readFile(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`Fashion-MNIST is not at ${path}. Install it with 'sudo apt-get install dataset-fashion-mnist' ` +
        '(or scripts/setup-system.sh), or set PMF_FASHION_MNIST to a folder holding the idx .gz files.');
    }
    throw new Error(`Cannot read ${path}: ${(e as Error).message}`);
  }
  // IDX: magic 0x00000803 (unsigned bytes, 3 dimensions), then the sizes, big-endian
  if (bytes.length < 16 || bytes.readUInt32BE(0) !== 0x803) throw new Error(`${path} is not an IDX file of 8-bit images.`);
  const [n, h, w] = [bytes.readUInt32BE(4), bytes.readUInt32BE(8), bytes.readUInt32BE(12)];
  if (h !== 28 || w !== 28 || bytes.length !== 16 + n * h * w) throw new Error(`${path} is truncated or not Fashion-MNIST (${n} x ${h} x ${w}, ${bytes.length} bytes).`);
  return { levels: Float32Array.from(bytes.subarray(16)), n, path };
}

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.webp']);

/**
 * Reference images read a chunk at a time, so a reference set of any size (50,000 ImageNet images
 * at 256 x 256 are 39 GB as float32 levels) costs one chunk of memory: n images of one size as
 * 8-bit levels, read(start, count) -> [count, channels, H, W].
 */
export interface ImageSource {
  n: number;
  size: [number, number];
  channels: number;
  read(start: number, count: number): Promise<Float32Array>;
}

/** Images already in memory (levels [n, C, H, W]: the Fashion-MNIST split). */
export function levelsSource(levels: Float32Array, n: number, size: [number, number]): ImageSource {
  const per = levels.length / n;
  return { n, size, channels: per / (size[0] * size[1]), read: (start, count) => Promise.resolve(levels.subarray(start * per, (start + count) * per)) };
}

/**
 * The images of a folder (PNG, JPEG, WebP; one size for all, sorted by name) as a source of
 * `channels`-channel levels; each read decodes its files. Throws naming the folder when it holds
 * fewer than 2 images, and (on read) naming a file that cannot be decoded or has another size.
 */
export async function imageFolderSource(dir: string, channels: number): Promise<ImageSource> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((f) => IMAGE_EXT.has(extname(f).toLowerCase())).sort();
  } catch (e) {
    throw new Error(`Cannot read the folder ${dir}: ${(e as Error).message}`);
  }
  if (names.length < 2) throw new Error(`${dir} holds ${names.length} image(s) (PNG, JPEG or WebP); reference statistics need at least 2.`);
  const sharp = (await import('sharp')).default;
  const decode = async (name: string) => {
    const file = join(dir, name);
    try {
      let img = sharp(await fs.readFile(file), { failOn: 'error' }).removeAlpha();
      img = channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb');
      return { file, ...await img.raw().toBuffer({ resolveWithObject: true }) };
    } catch (e) {
      throw new Error(`${file} cannot be decoded as an image: ${(e as Error).message}`);
    }
  };
  // every file's size from its header first (a fraction of a millisecond each): an odd one is
  // found before any work, and the reference size is the one most files have
  const sizes: string[] = [];
  for (const name of names) { // one at a time: a folder of 50,000 files would run out of file descriptors at once
    try {
      const m = await sharp(join(dir, name)).metadata();
      sizes.push(`${m.width}x${m.height}`);
    } catch (e) {
      throw new Error(`${join(dir, name)} cannot be decoded as an image: ${(e as Error).message}`);
    }
  }
  const counts = new Map<string, number>();
  for (const z of sizes) counts.set(z, (counts.get(z) ?? 0) + 1);
  const common = [...counts.entries()].sort((x, y) => y[1] - x[1])[0][0];
  const odd = names.filter((_, i) => sizes[i] !== common);
  if (odd.length) {
    const hint = odd.includes('grid.png') ? ' (grid.png is the grid pmf generate writes beside its samples: move it out)' : '';
    throw new Error(`${dir}: ${names.length - odd.length} images are ${common}, but ${odd.slice(0, 3).map((f) => `${f} is ${sizes[names.indexOf(f)]}`)
      .join(', ')}${odd.length > 3 ? ` and ${odd.length - 3} more differ` : ''}: the images of a reference folder share one size ` +
      `(resize or crop them first, as the reference set is meant to be)${hint}.`);
  }
  const [width, height] = common.split('x').map(Number);
  const size: [number, number] = [height, width];
  const plane = size[0] * size[1];
  return {
    n: names.length, size, channels,
    async read(start, count) {
      const levels = new Float32Array(count * channels * plane);
      for (let k = 0; k < count; k++) {
        const raw = await decode(names[start + k]);
        if (raw.info.width !== width || raw.info.height !== height) throw new Error(`${raw.file} changed while it was read (it is ${raw.info.width}x${raw.info.height} now).`);
        const c0 = raw.info.channels;
        for (let c = 0; c < channels; c++) {
          for (let p = 0; p < plane; p++) levels[((k * channels) + c) * plane + p] = raw.data[p * c0 + Math.min(c, c0 - 1)];
        }
      }
      return levels;
    },
  };
}

/** At most this many bytes of float32 levels are read and sent to the engine at once. */
const REFERENCE_CHUNK_BYTES = 64 * 2 ** 20;

/**
 * Makes reference statistics with a feature network from 8-bit images and writes them to `out`
 * (all or nothing): mu, sigma (float64, as ADM and pytorch-fid), the features of the first
 * `keep` images and how it was made. The images are read, sent and summed a chunk at a time (at
 * most REFERENCE_CHUNK_BYTES of levels, 1024 images), into the same exact statistics a run keeps,
 * so the result does not depend on the chunks and memory does not grow with the set.
 */
export async function makeReference(client: EngineClient, opts: { netPath: string; provider: ProviderSetting; threads?: number;
  source: string; images: ImageSource; keep: number; out: string; batchSize?: number; /** images per chunk (default: by REFERENCE_CHUNK_BYTES) */ chunkImages?: number },
signal?: AbortSignal): Promise<{ info: ReferenceInfo; dim: number }> {
  const net = await client.loadFeatureNet(opts.netPath, opts.provider, signal, opts.threads);
  const { n, size } = opts.images;
  if (net.info.inputSize && (net.info.inputSize[0] !== size[0] || net.info.inputSize[1] !== size[1])) {
    throw new Error(`${basename(opts.netPath)} takes ${net.info.inputSize.join('x')} images; ${opts.source} holds ${size.join('x')} ones.`);
  }
  const grey = opts.images.channels === 1 && net.info.channels === 3;
  const channels = grey ? 3 : opts.images.channels;
  const plane = size[0] * size[1];
  const d = net.info.featureDim;
  const keep = Math.min(opts.keep, n);
  const kept = new Float32Array(keep * d);
  const stats = new FeatureStatistics(d);
  const chunk = opts.chunkImages ?? Math.max(1, Math.min(1024, Math.floor(REFERENCE_CHUNK_BYTES / (4 * channels * plane))));
  for (let start = 0; start < n; start += chunk) {
    signal?.throwIfAborted();
    const count = Math.min(chunk, n - start);
    let levels = await opts.images.read(start, count);
    if (grey) {
      const rgb = new Float32Array(count * 3 * plane);
      for (let i = 0; i < count; i++) for (let c = 0; c < 3; c++) rgb.set(levels.subarray(i * plane, (i + 1) * plane), (i * 3 + c) * plane);
      levels = rgb;
    }
    const { features } = await client.netFeatures({ netId: net.netId, images: levels, dims: [count, channels, size[0], size[1]],
      batchSize: opts.batchSize ?? 256 }, signal);
    stats.addBatch(start, features);
    if (start < keep) kept.set(features.subarray(0, (Math.min(keep, start + count) - start) * d), start * d);
  }
  const m = stats.finish();
  const info: ReferenceInfo = { tool: 'pmf eval-ref', version: 1, source: opts.source, count: n,
    net: { file: basename(opts.netPath), name: net.info.name, sha256: await onnxContentSha256(opts.netPath) }, images: UINT8_RULE };
  const json = new TextEncoder().encode(JSON.stringify(info));
  await writeReferenceStatistics(opts.out, { mu: m.mean, sigma: m.covariance }, {
    pmf_reference_json: { data: json, shape: [json.length] },
    features: { data: kept, shape: [keep, d] },
    count: { data: Float64Array.of(n), shape: [] },
  });
  return { info, dim: d };
}
