// Statistics of one tensor, streamed from its bytes in the file: count, min/max/mean/std over the
// finite values (population std, as numpy's default), NaN/inf/zero counts and a histogram.
// Two passes over the data: the first for the moments (merged per chunk with Chan et al.'s
// parallel formula, each chunk's own sum of squared deviations taken about its own mean), the
// second for the histogram over [min, max]. A tensor whose values fit in holdBytes (64 MB) is read
// once and kept for the second pass (every weight of a pMF-B/16); a larger one is read twice, so memory
// stays bounded whatever the tensor's size.
import { CancelledError } from '../../cancel';
import { itemSize } from './dtypes';
import { InspectError, type ByteSource, type StatsOptions, type TensorEntry, type TensorStats } from './types';

const CHUNK_BYTES = 4 << 20;
/** Decoded values kept between the two passes, at most, unless StatsOptions.holdBytes says otherwise. */
const HOLD_BYTES = 64 << 20;
const DEFAULT_BINS = 64;

type Decoder = (aligned: Uint8Array) => ArrayLike<number>;

/** One tensor's statistics (its index in the summary), or why there are none. */
export type StatsResult = { index: number; stats: TensorStats } | { index: number; error: string };

/**
 * Statistics of each tensor in turn, reported as they finish; `source` gives the checkpoint's bytes
 * (or an external-data file's). A tensor that cannot be read reports its error; only a
 * cancellation stops the loop (and is rethrown).
 */
export async function statsEach(
  source: (file?: string) => Promise<ByteSource>,
  tensors: Array<{ index: number; tensor: TensorEntry }>,
  onResult: (r: StatsResult) => void,
  signal?: AbortSignal,
  /** Bytes of tensor data read so far of all, as reading goes (a 64 GB tensor takes a minute). */
  onProgress?: (bytesDone: number, bytesTotal: number) => void,
): Promise<void> {
  const total = tensors.reduce((n, t) => n + (t.tensor.data?.byteLength ?? 0), 0);
  let before = 0;
  for (const { index, tensor } of tensors) {
    const bytes = tensor.data?.byteLength ?? 0;
    const onTensor = onProgress && ((f: number) => onProgress(before + f * bytes, total));
    try {
      onResult({ index, stats: await tensorStats(await source(tensor.data?.file), tensor, { signal, ...(onTensor ? { onProgress: onTensor } : {}) }) });
    } catch (e) {
      if (signal?.aborted) throw e;
      onResult({ index, error: e instanceof Error ? e.message : String(e) });
    }
    before += bytes;
  }
}

/** Streams `tensor`'s elements from `source` and summarises them. */
export async function tensorStats(source: ByteSource, tensor: TensorEntry, opts: StatsOptions = {}): Promise<TensorStats> {
  const bins = opts.bins ?? DEFAULT_BINS;
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  const elements = tensorElements(source, tensor, 'Statistics');
  const per = Math.max(1, Math.floor(CHUNK_BYTES / elements.size));
  const chunks = Math.ceil(tensor.numel / per);
  // Held for the histogram when its decoded values (at most 8 bytes each) fit in holdBytes; else read twice.
  const hold = tensor.numel * 8 <= (opts.holdBytes ?? HOLD_BYTES);
  const total = hold ? chunks : 2 * chunks;
  let done = 0;
  const progress = () => opts.onProgress?.(Math.min(1, ++done / total));

  async function* values(): AsyncGenerator<ArrayLike<number>> {
    for (let pos = 0; pos < tensor.numel; pos += per) {
      throwIfAborted(opts.signal);
      if (pos > 0) await yieldToEventLoop();
      throwIfAborted(opts.signal);
      yield elements.read(pos, Math.min(per, tensor.numel - pos));
    }
  }

  const acc = new Moments();
  const held: ArrayLike<number>[] = [];
  throwIfAborted(opts.signal);
  for await (const v of values()) {
    acc.add(v);
    if (hold) held.push(v);
    progress();
  }

  const hist = new Histogram(acc.min, acc.max, bins);
  if (acc.finite > 0) {
    if (hold) for (const v of held) hist.add(v);
    else {
      for await (const v of values()) {
        hist.add(v);
        progress();
      }
    }
  }
  throwIfAborted(opts.signal);
  if (done < total) opts.onProgress?.(1); // no finite value: the histogram pass was skipped
  const empty = acc.finite === 0;
  return {
    count: acc.count,
    min: empty ? NaN : acc.min,
    max: empty ? NaN : acc.max,
    mean: empty ? NaN : acc.mean,
    std: empty ? NaN : Math.sqrt(acc.m2 / acc.finite),
    absMax: empty ? NaN : Math.max(Math.abs(acc.min), Math.abs(acc.max)),
    nan: acc.nan,
    inf: acc.inf,
    zeros: acc.zeros,
    histogram: { lo: hist.lo, hi: hist.hi, counts: Array.from(hist.counts) },
  };
}

/** Count, NaN/inf/zeros, min/max, and the mean and sum of squared deviations of the finite values. */
class Moments {
  count = 0;
  nan = 0;
  inf = 0;
  zeros = 0;
  finite = 0;
  min = Infinity;
  max = -Infinity;
  mean = 0;
  m2 = 0;

  add(v: ArrayLike<number>): void {
    let n = 0;
    let sum = 0;
    let min = this.min;
    let max = this.max;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x !== x) this.nan++;
      else if (x === Infinity || x === -Infinity) this.inf++;
      else {
        n++;
        sum += x;
        if (x < min) min = x;
        if (x > max) max = x;
        if (x === 0) this.zeros++;
      }
    }
    this.count += v.length;
    this.min = min;
    this.max = max;
    if (n === 0) return;
    const mean = sum / n;
    let m2 = 0;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x - x === 0) m2 += (x - mean) * (x - mean); // finite values only (NaN and inf give NaN)
    }
    const total = this.finite + n;
    const delta = mean - this.mean;
    this.mean += (delta * n) / total;
    this.m2 += m2 + (delta * delta * this.finite * n) / total;
    this.finite = total;
  }
}

/**
 * Equal-width bins over [lo, hi] of the finite values; hi falls into the last bin. When all finite
 * values are equal (lo = hi), they all go into the middle bin.
 */
class Histogram {
  readonly counts: Float64Array;
  readonly lo: number;
  readonly hi: number;
  private readonly scale: number;

  constructor(min: number, max: number, readonly bins: number) {
    this.counts = new Float64Array(bins);
    const any = min <= max;
    this.lo = any ? min : NaN;
    this.hi = any ? max : NaN;
    this.scale = any && max > min ? bins / (max - min) : 0;
  }

  add(v: ArrayLike<number>): void {
    const { counts, lo, scale, bins } = this;
    const middle = Math.floor(bins / 2);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x - x !== 0) continue; // NaN or inf
      // x >= lo, so truncation is floor (and faster than Math.floor); below 2^31 since (x - lo) * scale <= bins
      let b = scale === 0 ? middle : ((x - lo) * scale) | 0;
      if (b >= bins) b = bins - 1;
      else if (b < 0) b = 0;
      counts[b]++;
    }
  }
}

/** A tensor's elements as numbers, read from the source a range at a time. */
export interface TensorElements {
  /** Bytes per element in the file. */
  size: number;
  /** Elements [start, start + count), decoded. */
  read(start: number, count: number): Promise<ArrayLike<number>>;
}

/** Checks that `tensor`'s bytes can be read and decoded (`what` names the job in the error) and reads them on demand. */
export function tensorElements(source: ByteSource, tensor: TensorEntry, what: string): TensorElements {
  if (!tensor.data) {
    throw new InspectError('unsupported', tensor.note ?? `The data of ${tensor.name} cannot be read in place.`);
  }
  const decode = decoderFor(tensor.dtype);
  const size = itemSize(tensor.dtype);
  if (!decode || !size) {
    throw new InspectError('unsupported', `${what} of ${tensor.dtype} tensors are not supported (${tensor.name}).`);
  }
  const { offset, byteLength } = tensor.data;
  if (byteLength !== tensor.numel * size) {
    throw new InspectError(
      'corrupt',
      `${tensor.name}: ${byteLength} bytes of data for ${tensor.numel} ${tensor.dtype} elements (${tensor.numel * size} bytes expected).`,
    );
  }
  if (offset < 0 || offset + byteLength > source.size) {
    throw new InspectError('truncated', `${tensor.name}: its data (bytes ${offset}-${offset + byteLength}) lies beyond the end of the file.`);
  }
  return {
    size,
    read: async (start, count) => decode(aligned(await source.read(offset + start * size, count * size), size)),
  };
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('Tensor statistics were cancelled.', 'AbortError');
}

/**
 * Lets a cancellation (or anything else) in between chunks even when reads complete synchronously.
 * setImmediate where there is one (Node): setTimeout(0) waits at least 1 ms, per chunk.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

/** The bytes at an offset that is a multiple of the element size (typed arrays need it). */
function aligned(bytes: Uint8Array, size: number): Uint8Array {
  return bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes); // the constructor always copies
}

// ---- element decoders (little-endian, as every format here stores them) -----------------------

function decoderFor(dtype: string): Decoder | undefined {
  switch (dtype) {
    case 'float32': return (b) => new Float32Array(b.buffer, b.byteOffset, b.length / 4);
    case 'float64': return (b) => new Float64Array(b.buffer, b.byteOffset, b.length / 8);
    case 'float16': return lookup16(float16Table());
    case 'bfloat16': return lookup16(bfloat16Table());
    case 'int8': return (b) => new Int8Array(b.buffer, b.byteOffset, b.length);
    case 'uint8': return (b) => b;
    case 'bool': return (b) => b.map((x) => (x ? 1 : 0));
    case 'int16': return (b) => new Int16Array(b.buffer, b.byteOffset, b.length / 2);
    case 'uint16': return (b) => new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
    case 'int32': return (b) => new Int32Array(b.buffer, b.byteOffset, b.length / 4);
    case 'uint32': return (b) => new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
    case 'int64': return (b) => Float64Array.from(new BigInt64Array(b.buffer, b.byteOffset, b.length / 8), Number);
    case 'uint64': return (b) => Float64Array.from(new BigUint64Array(b.buffer, b.byteOffset, b.length / 8), Number);
    case 'float8_e4m3fn':
    case 'float8_e4m3fnuz':
    case 'float8_e5m2':
    case 'float8_e5m2fnuz':
    case 'float8_e8m0fnu': {
      const table = float8Table(dtype.slice('float8_'.length) as Float8Kind);
      return (b) => Float64Array.from(b, (x) => table[x]);
    }
    default: return undefined;
  }
}

/** 16-bit elements through a 65536-entry table. */
function lookup16(table: Float32Array): Decoder {
  return (b) => {
    const u = new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
    const out = new Float32Array(u.length);
    for (let i = 0; i < u.length; i++) out[i] = table[u[i]];
    return out;
  };
}

/** IEEE 754 half precision: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
export function float16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 0x1f) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** bfloat16: the upper half of a float32. */
export function bfloat16ToNumber(h: number): number {
  const f = new Float32Array(new Uint32Array([h << 16]).buffer);
  return f[0];
}

let f16: Float32Array | undefined;
let bf16: Float32Array | undefined;
const f8 = new Map<string, Float64Array>();

function float16Table(): Float32Array {
  if (!f16) {
    f16 = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16[h] = float16ToNumber(h);
  }
  return f16;
}

function bfloat16Table(): Float32Array {
  if (!bf16) {
    const bits = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) bits[h] = h << 16;
    bf16 = new Float32Array(bits.buffer);
  }
  return bf16;
}

/** The 256 values of an 8-bit float format (OCP / ONNX definitions). */
type Float8Kind = 'e4m3fn' | 'e4m3fnuz' | 'e5m2' | 'e5m2fnuz' | 'e8m0fnu';

function float8Table(kind: Float8Kind): Float64Array {
  let t = f8.get(kind);
  if (t) return t;
  t = new Float64Array(256);
  for (let b = 0; b < 256; b++) {
    const sign = b & 0x80 ? -1 : 1;
    switch (kind) {
      case 'e5m2': // the upper byte of a float16
        t[b] = float16ToNumber(b << 8);
        break;
      case 'e4m3fn': { // bias 7, no infinities, S.1111.111 is NaN
        const e = (b >> 3) & 0xf;
        const m = b & 7;
        t[b] = e === 0xf && m === 7 ? NaN : e === 0 ? sign * m * 2 ** -9 : sign * (1 + m / 8) * 2 ** (e - 7);
        break;
      }
      case 'e4m3fnuz': { // bias 8, 0x80 (negative zero) is NaN
        const e = (b >> 3) & 0xf;
        const m = b & 7;
        t[b] = b === 0x80 ? NaN : e === 0 ? sign * m * 2 ** -10 : sign * (1 + m / 8) * 2 ** (e - 8);
        break;
      }
      case 'e5m2fnuz': { // bias 16, 0x80 is NaN
        const e = (b >> 2) & 0x1f;
        const m = b & 3;
        t[b] = b === 0x80 ? NaN : e === 0 ? sign * m * 2 ** -17 : sign * (1 + m / 4) * 2 ** (e - 16);
        break;
      }
      case 'e8m0fnu': // exponent only, 0xff is NaN
        t[b] = b === 0xff ? NaN : 2 ** (b - 127);
        break;
    }
  }
  f8.set(kind, t);
  return t;
}
