// Reference statistics for pmf eval: read from an ADM-style or pytorch-fid .npz (`mu`, `sigma`),
// or made by `pmf eval-ref` from real images (a folder of PNG/JPEG files, or the Fashion-MNIST
// split Debian's dataset-fashion-mnist installs) with a feature network, and written in the
// same format, with the features of a subset (for precision/recall) and how they were made.
import { promises as fs } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { featureMoments, UINT8_RULE } from '../core/eval';
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

/** The images of a folder (PNG, JPEG, WebP; one size for all) as 8-bit levels [n, C, H, W]. */
export async function readImageFolder(dir: string, channels: number): Promise<{ levels: Float32Array; n: number; size: [number, number] }> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((f) => IMAGE_EXT.has(extname(f).toLowerCase())).sort();
  } catch (e) {
    throw new Error(`Cannot read the folder ${dir}: ${(e as Error).message}`);
  }
  if (names.length < 2) throw new Error(`${dir} holds ${names.length} image(s) (PNG, JPEG or WebP); reference statistics need at least 2.`);
  const sharp = (await import('sharp')).default;
  let size: [number, number] | undefined;
  let levels: Float32Array | undefined;
  for (let i = 0; i < names.length; i++) {
    const file = join(dir, names[i]);
    let raw: { data: Buffer; info: { width: number; height: number; channels: number } };
    try {
      let img = sharp(await fs.readFile(file), { failOn: 'error' }).removeAlpha();
      img = channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb');
      raw = await img.raw().toBuffer({ resolveWithObject: true });
    } catch (e) {
      throw new Error(`${file} cannot be decoded as an image: ${(e as Error).message}`);
    }
    const { width, height } = raw.info;
    if (!size) {
      size = [height, width];
      levels = new Float32Array(names.length * channels * height * width);
    } else if (size[0] !== height || size[1] !== width) {
      throw new Error(`${file} is ${width}x${height}, but ${names[0]} is ${size[1]}x${size[0]}: the images of a reference folder share one size ` +
        '(resize or crop them first, as the reference set is meant to be).');
    }
    const plane = height * width;
    const c0 = raw.info.channels;
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < plane; p++) levels![(i * channels + c) * plane + p] = raw.data[p * c0 + Math.min(c, c0 - 1)];
    }
  }
  return { levels: levels!, n: names.length, size: size! };
}

/**
 * Makes reference statistics with a feature network from 8-bit images and writes them to `out`
 * (all or nothing): mu, sigma (float64, as ADM and pytorch-fid), the features of the first
 * `keep` images and how it was made.
 */
export async function makeReference(client: EngineClient, opts: { netPath: string; provider: ProviderSetting; threads?: number;
  source: string; levels: Float32Array; n: number; size: [number, number]; keep: number; out: string; batchSize?: number },
signal?: AbortSignal): Promise<{ info: ReferenceInfo; dim: number }> {
  const net = await client.loadFeatureNet(opts.netPath, opts.provider, signal, opts.threads);
  let levels = opts.levels;
  let channels = levels.length / (opts.n * opts.size[0] * opts.size[1]);
  if (channels === 1 && net.info.channels === 3) {
    const plane = opts.size[0] * opts.size[1];
    const rgb = new Float32Array(opts.n * 3 * plane);
    for (let i = 0; i < opts.n; i++) for (let c = 0; c < 3; c++) rgb.set(levels.subarray(i * plane, (i + 1) * plane), (i * 3 + c) * plane);
    levels = rgb;
    channels = 3;
  }
  if (net.info.inputSize && (net.info.inputSize[0] !== opts.size[0] || net.info.inputSize[1] !== opts.size[1])) {
    throw new Error(`${basename(opts.netPath)} takes ${net.info.inputSize.join('x')} images; ${opts.source} holds ${opts.size.join('x')} ones.`);
  }
  const { features } = await client.netFeatures({ netId: net.netId, images: levels, dims: [opts.n, channels, opts.size[0], opts.size[1]],
    batchSize: opts.batchSize ?? 256 }, signal);
  const d = net.info.featureDim;
  const m = featureMoments(features, d);
  const info: ReferenceInfo = { tool: 'pmf eval-ref', version: 1, source: opts.source, count: opts.n,
    net: { file: basename(opts.netPath), name: net.info.name, sha256: await onnxContentSha256(opts.netPath) }, images: UINT8_RULE };
  const keep = Math.min(opts.keep, opts.n);
  const json = new TextEncoder().encode(JSON.stringify(info));
  await writeReferenceStatistics(opts.out, { mu: m.mean, sigma: m.covariance }, {
    pmf_reference_json: { data: json, shape: [json.length] },
    features: { data: features.slice(0, keep * d), shape: [keep, d] },
    count: { data: Float64Array.of(opts.n), shape: [] },
  });
  return { info, dim: d };
}
