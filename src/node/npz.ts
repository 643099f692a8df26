// NumPy .npz archives (a ZIP of .npy arrays), for FID reference statistics in the format of
// openai/guided-diffusion's evaluation files (the ADM reference batches: `mu` [d], `sigma` [d, d],
// float32 or float64, beside other arrays such as the images in `arr_0`) and of pytorch-fid's
// --save-stats (the same `mu` and `sigma`).
// Reading opens the ZIP's table of contents with unzipit (the ZIP reader the checkpoint inspector
// uses) over the open file and decodes only the entries asked for, so an ADM file's gigabytes of
// images are never read. Stored and deflated entries are read (np.savez, np.savez_compressed);
// writing makes stored entries, all or nothing (writeFileAtomic).
import { constants, promises as fs } from 'node:fs';
import { FeatureStatistics, type StatisticsSnapshot } from '../core/eval';
import { decodeNpy, encodeNpyArray, type NpyArray } from './npy';
import { describeFsError, writeFileAtomic } from './outputFiles';

/** A .npz file that cannot be read or is not what was expected; the message names the file. */
export class NpzError extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
    this.name = 'NpzError';
  }
}

export interface NpzEntry {
  data: Float32Array | Float64Array | Uint8Array;
  shape: readonly number[];
}

/** FID reference statistics. */
export interface ReferenceStatistics {
  mu: Float64Array;
  /** d x d, row-major */
  sigma: Float64Array;
  dim: number;
}

function readError(e: unknown, path: string): Error {
  const code = (e as { code?: string } | null)?.code;
  switch (code) {
    case 'ENOENT':
      return new NpzError(path, `Cannot read ${path}: there is no such file.`);
    case 'EACCES':
    case 'EPERM':
      return new NpzError(path, `Cannot read ${path}: permission denied.`);
    case 'EISDIR':
      return new NpzError(path, `${path} is a folder, not a .npz file.`);
    default:
      return e instanceof Error ? e : new Error(String(e));
  }
}

/**
 * Reads the named arrays (names without ".npy") from the .npz file at `path`; with `names`
 * undefined, every array. Throws NpzError naming the file for a missing file, a file that is not a
 * ZIP archive or is cut off, a missing array, or an array that cannot be decoded.
 */
export async function readNpz(path: string, names?: readonly string[]): Promise<Map<string, NpyArray>> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw readError(e, path);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new NpzError(path, `${path} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, not a .npz file.`);
    const size = st.size;
    const { unzipRaw } = await import('unzipit');
    let entries;
    try {
      entries = (
        await unzipRaw({
          getLength: async () => size,
          read: async (offset: number, length: number) => {
            if (offset < 0 || offset + length > size) throw new RangeError('read past the end');
            const buf = new Uint8Array(new ArrayBuffer(length));
            const { bytesRead } = await handle.read(buf, 0, length, offset);
            if (bytesRead !== length) throw new RangeError('short read');
            return buf;
          },
        })
      ).entries;
    } catch {
      throw new NpzError(
        path,
        size < 22
          ? `${path} is not a .npz file: it is ${size === 0 ? 'empty' : `only ${size} bytes long`}.`
          : `${path} is not a readable .npz file: it is not a ZIP archive, or it is truncated (its table of contents is missing or cut off).`,
      );
    }
    const byName = new Map(entries.map((e) => [e.name.replace(/\.npy$/, ''), e]));
    const wanted = names ?? [...byName.keys()];
    const out = new Map<string, NpyArray>();
    for (const name of wanted) {
      const entry = byName.get(name);
      if (!entry) {
        throw new NpzError(path, `${path} has no '${name}' array (it holds ${[...byName.keys()].map((k) => `'${k}'`).join(', ') || 'no arrays'}).`);
      }
      if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
        throw new NpzError(path, `${path}: its array '${name}' is compressed with ZIP method ${entry.compressionMethod}; .npz files are stored or deflated.`);
      }
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await entry.arrayBuffer());
      } catch {
        throw new NpzError(path, `${path} is truncated or damaged: its array '${name}' cannot be read${entry.compressionMethod === 8 ? ' (the compressed data does not inflate)' : ''}.`);
      }
      if (bytes.length !== entry.size) throw new NpzError(path, `${path} is truncated or damaged: its array '${name}' should have ${entry.size} bytes, ${bytes.length} were read.`);
      try {
        out.set(name, decodeNpy(bytes, `${path}: the array '${name}'`));
      } catch (e) {
        throw new NpzError(path, `${(e as Error).message}.`);
      }
    }
    return out;
  } finally {
    await handle.close();
  }
}

/** Reads FID reference statistics (`mu` [d], `sigma` [d, d]) from an ADM-style or pytorch-fid .npz file. */
export async function readReferenceStatistics(path: string): Promise<ReferenceStatistics> {
  const arrays = await readNpz(path, ['mu', 'sigma']);
  const mu = arrays.get('mu')!;
  const sigma = arrays.get('sigma')!;
  if (mu.shape.length !== 1 || mu.shape[0] < 1) throw new NpzError(path, `${path}: 'mu' has shape (${mu.shape.join(', ')}); a vector (d,) was expected.`);
  const d = mu.shape[0];
  if (sigma.shape.length !== 2 || sigma.shape[0] !== d || sigma.shape[1] !== d) {
    throw new NpzError(path, `${path}: 'sigma' has shape (${sigma.shape.join(', ')}) but 'mu' has ${d} values; (${d}, ${d}) was expected.`);
  }
  for (const [name, a] of [['mu', mu], ['sigma', sigma]] as const) {
    if (a.dtype !== 'f4' && a.dtype !== 'f8') throw new NpzError(path, `${path}: '${name}' holds ${a.dtype} values; float32 or float64 was expected.`);
    const bad = a.values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new NpzError(path, `${path}: '${name}' holds a value that is not finite (${a.values[bad]} at element ${bad}).`);
  }
  return { mu: mu.values, sigma: sigma.values, dim: d };
}

/** The bytes of a .npz archive of the given arrays (stored entries, "<name>.npy"). */
export function encodeNpz(arrays: Record<string, NpzEntry>): Buffer {
  const files = Object.entries(arrays).map(([name, a]) => ({ name: Buffer.from(`${name}.npy`, 'utf8'), data: encodeNpyArray(a.data, a.shape) }));
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    if (f.data.length >= 0xffffffff || offset >= 0xffffffff) throw new RangeError('the arrays are too large for a .npz file without ZIP64 (4 GiB)');
    const crc = crc32(f.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(0x21, 12); // date: 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(f.data.length, 18);
    local.writeUInt32LE(f.data.length, 22);
    local.writeUInt16LE(f.name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // made by
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(f.data.length, 20);
    central.writeUInt32LE(f.data.length, 24);
    central.writeUInt16LE(f.name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, f.name, f.data);
    centrals.push(central, f.name);
    offset += 30 + f.name.length + f.data.length;
  }
  const cd = Buffer.concat(centrals);
  if (offset + cd.length >= 0xffffffff) throw new RangeError('the arrays are too large for a .npz file without ZIP64 (4 GiB)');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Writes a .npz file of the given arrays, all or nothing. */
export async function writeNpz(path: string, arrays: Record<string, NpzEntry>): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = encodeNpz(arrays);
  } catch (e) {
    throw new NpzError(path, `Cannot write ${path}: ${(e as Error).message}.`);
  }
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    throw describeFsError(e, path);
  }
}

/**
 * Writes FID reference statistics as ADM's and pytorch-fid's files hold them (`mu` [d] and
 * `sigma` [d, d], float64), with any `extra` arrays beside them (for instance the sample count).
 */
export async function writeReferenceStatistics(path: string, stats: { mu: Float64Array; sigma: Float64Array }, extra: Record<string, NpzEntry> = {}): Promise<void> {
  const d = stats.mu.length;
  if (stats.sigma.length !== d * d) throw new NpzError(path, `Cannot write ${path}: sigma holds ${stats.sigma.length} values, ${d} x ${d} expected.`);
  await writeNpz(path, { ...extra, mu: { data: stats.mu, shape: [d] }, sigma: { data: stats.sigma, shape: [d, d] } });
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (the ZIP polynomial). */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The marker array of a shard statistics file, and its format version. */
const SHARD_MARKER = 'pmf_shard_statistics';
const SHARD_VERSION = 1;

/**
 * Writes a shard's feature statistics (its snapshot()) as a .npz file, all or nothing: the exact
 * limbs, the summed blocks and the pending samples, beside `extra` arrays (the protocol, say).
 * readShardStatistics restores them exactly.
 */
export async function writeShardStatistics(path: string, stats: FeatureStatistics, extra: Record<string, NpzEntry> = {}): Promise<void> {
  const s = stats.snapshot();
  await writeNpz(path, {
    ...extra,
    [SHARD_MARKER]: { data: Float64Array.of(SHARD_VERSION), shape: [] },
    dim: { data: Float64Array.of(s.dim), shape: [] },
    block_size: { data: Float64Array.of(s.blockSize), shape: [] },
    summed_count: { data: Float64Array.of(s.summedCount), shape: [] },
    summed_blocks: { data: s.summedBlocks, shape: [s.summedBlocks.length] },
    sum_limbs: { data: s.sumLimbs, shape: [s.sumLimbs.length] },
    product_limbs: { data: s.productLimbs, shape: [s.productLimbs.length] },
    pending_indices: { data: s.pendingIndices, shape: [s.pendingIndices.length] },
    pending_features: { data: s.pendingFeatures, shape: [s.pendingIndices.length, s.dim] },
  });
}

/** Reads a file written by writeShardStatistics; errors name the file. */
export async function readShardStatistics(path: string): Promise<FeatureStatistics> {
  const names = [SHARD_MARKER, 'dim', 'block_size', 'summed_count', 'summed_blocks', 'sum_limbs', 'product_limbs', 'pending_indices', 'pending_features'];
  let a: Map<string, NpyArray>;
  try {
    a = await readNpz(path, names);
  } catch (e) {
    if (e instanceof NpzError && e.message.includes(`no '${SHARD_MARKER}' array`)) {
      throw new NpzError(path, `${path} is not a pMF Lab shard statistics file (pmf eval --shard writes those).`);
    }
    throw e;
  }
  const scalar = (name: string): number => a.get(name)!.values[0];
  if (scalar(SHARD_MARKER) !== SHARD_VERSION) throw new NpzError(path, `${path} is a shard statistics file of format ${scalar(SHARD_MARKER)}; this pMF Lab reads format ${SHARD_VERSION}.`);
  const dim = scalar('dim');
  const features = a.get('pending_features')!;
  const snapshot: StatisticsSnapshot = {
    dim,
    blockSize: scalar('block_size'),
    summedCount: scalar('summed_count'),
    summedBlocks: a.get('summed_blocks')!.values,
    sumLimbs: a.get('sum_limbs')!.values,
    productLimbs: a.get('product_limbs')!.values,
    pendingIndices: a.get('pending_indices')!.values,
    pendingFeatures: Float32Array.from(features.values),
  };
  if (features.dtype !== 'f4') throw new NpzError(path, `${path}: 'pending_features' holds ${features.dtype} values; float32 was expected.`);
  try {
    return FeatureStatistics.fromSnapshot(snapshot); // validates the limbs, counts and indices
  } catch (e) {
    throw new NpzError(path, `${path} is damaged: ${(e as Error).message}.`);
  }
}
