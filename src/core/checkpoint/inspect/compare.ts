// Two checkpoints side by side: which tensors they share, and for each shared one how far apart
// its values are (relative L2 distance, largest absolute difference, cosine similarity), streamed
// from both files. What researchers ask of two training steps, EMA against online weights, a
// re-saved or re-exported file against its source.
import { isExporterName, moduleOf } from './display';
import { tensorElements, throwIfAborted, yieldToEventLoop } from './stats';
import type { ByteSource, CheckpointSummary, TensorEntry } from './types';

const CHUNK_ELEMENTS = 1 << 20;

export interface TensorDiff {
  /** Elements compared (pairs where both values are finite). */
  count: number;
  /** Pairs where either value is NaN or infinite. */
  nonFinite: number;
  /** ||a - b|| / ||a|| (0 when both are zero; Infinity when only a is zero). */
  relative: number;
  maxAbs: number;
  /** a . b / (||a|| ||b||); NaN when either is all zero. */
  cosine: number;
  /** Whether every compared pair is exactly equal. */
  identical: boolean;
}

export interface TensorMatch {
  /** Indices into the two summaries' tensors. */
  a: number;
  b: number;
  /** A 2-D weight stored transposed on one side (ONNX MatMul weights are the PyTorch Linear weight's transpose). */
  transposed?: true;
  /** Set when the shapes differ otherwise: no values are compared. */
  shapeMismatch?: true;
}

export interface Matching {
  pairs: TensorMatch[];
  onlyA: number[];
  onlyB: number[];
}

/** Wrappers that rename every key: DataParallel's module., torch.compile's _orig_mod. */
const WRAPPER_PREFIXES = /^(module\.|_orig_mod\.)+/;
/**
 * Wrapper modules inside a name: the official pMF PyTorch code keeps its JAX port's Flax layers
 * as ._flax_linear / ._flax_embedding submodules, which convert-official drops.
 */
const WRAPPER_SEGMENTS = /\._flax_[a-z_]+(?=\.)/g;

/**
 * The names tensors are paired by: the name without wrapper prefixes and segments; for a weight an exporter
 * named itself (onnx::MatMul_1914), the module of the node that reads it plus '.weight'
 * (net.shared_blocks.0.attn.q_proj.weight); and without a first component that (almost) every
 * tensor of this side has and the other side's do not (the 'net.' an ONNX export adds).
 */
function pairingKeys(side: CheckpointSummary, other: CheckpointSummary): string[] {
  const base = (t: TensorEntry) => (isExporterName(t.name) && t.usedBy?.[0]?.startsWith('/') ? `${moduleOf(t)}.weight` : t.name)
    .replace(WRAPPER_PREFIXES, '').replace(WRAPPER_SEGMENTS, '');
  const keys = side.tensors.map(base);
  const first = (k: string) => (k.includes('.') ? k.slice(0, k.indexOf('.') + 1) : '');
  const share = (ks: string[], prefix: string) => ks.filter((k) => k.startsWith(prefix)).length / Math.max(1, ks.length);
  const prefix = first(keys[0] ?? '');
  if (prefix && share(keys, prefix) >= 0.9 && share(other.tensors.map(base), prefix) < 0.1) {
    return keys.map((k) => (k.startsWith(prefix) ? k.slice(prefix.length) : k));
  }
  return keys;
}

/** Pairs the tensors of two checkpoints by name (see pairingKeys), and tells how their shapes relate. */
export function matchTensors(a: CheckpointSummary, b: CheckpointSummary): Matching {
  const keysA = pairingKeys(a, b);
  const keysB = pairingKeys(b, a);
  // An ONNX MatMul's weight input is the transpose of the PyTorch Linear weight it came from,
  // square ones included (shapes alone cannot tell those).
  const viaMatMul = (t: TensorEntry) => isExporterName(t.name) && t.shape.length === 2 && !!t.usedBy?.[0]?.endsWith('/MatMul');
  const inB = new Map<string, number>();
  keysB.forEach((k, j) => {
    if (!inB.has(k)) inB.set(k, j);
  });
  const pairs: TensorMatch[] = [];
  const matchedB = new Set<number>();
  const onlyA: number[] = [];
  a.tensors.forEach((t, i) => {
    const j = inB.get(keysA[i]);
    if (j === undefined || matchedB.has(j)) {
      onlyA.push(i);
      return;
    }
    matchedB.add(j);
    const sa = t.shape;
    const sb = b.tensors[j].shape;
    const transposable = sa.length === 2 && sb.length === 2 && sa[0] === sb[1] && sa[1] === sb[0];
    const same = sa.length === sb.length && sa.every((d, k) => d === sb[k]);
    if (transposable && (!same || viaMatMul(t) !== viaMatMul(b.tensors[j]))) pairs.push({ a: i, b: j, transposed: true });
    else if (same) pairs.push({ a: i, b: j });
    else pairs.push({ a: i, b: j, shapeMismatch: true });
  });
  const onlyB = b.tensors.map((_, j) => j).filter((j) => !matchedB.has(j));
  return { pairs, onlyA, onlyB };
}

/** Largest 2-D tensor compared transposed (it is read whole). */
const MAX_TRANSPOSED_ELEMENTS = 1 << 24;

/**
 * How far tensor `tb` of `b` is from tensor `ta` of `a`: the same shape, or with `transposed` a 2-D
 * tb that is ta's transpose (dtypes may differ).
 */
export async function tensorDiff(
  a: ByteSource,
  ta: TensorEntry,
  b: ByteSource,
  tb: TensorEntry,
  opts: { transposed?: boolean; signal?: AbortSignal } = {},
): Promise<TensorDiff> {
  const { signal } = opts;
  if (ta.numel !== tb.numel) throw new RangeError(`${ta.name}: ${ta.numel} elements against ${tb.numel}`);
  const ea = tensorElements(a, ta, 'Comparisons');
  let eb = tensorElements(b, tb, 'Comparisons');
  if (opts.transposed) {
    if (ta.shape.length !== 2 || tb.shape[0] !== ta.shape[1] || tb.shape[1] !== ta.shape[0]) {
      throw new RangeError(`${tb.name} [${tb.shape.join(', ')}] is not the transpose of ${ta.name} [${ta.shape.join(', ')}]`);
    }
    if (tb.numel > MAX_TRANSPOSED_ELEMENTS) throw new RangeError(`${tb.name}: too large to compare transposed (${tb.numel} elements)`);
    // tb read whole, then served in ta's element order: a[i, j] pairs with b[j, i]
    const whole = await eb.read(0, tb.numel);
    const [rows, cols] = ta.shape;
    eb = {
      size: eb.size,
      read: async (start, count) => {
        const out = new Float64Array(count);
        for (let k = 0; k < count; k++) {
          const flat = start + k;
          out[k] = whole[(flat % cols) * rows + Math.floor(flat / cols)];
        }
        return out;
      },
    };
  }
  let count = 0;
  let nonFinite = 0;
  let maxAbs = 0;
  let aa = 0;
  let bb = 0;
  let ab = 0;
  let dd = 0;
  let identical = true;
  for (let pos = 0; pos < ta.numel; pos += CHUNK_ELEMENTS) {
    throwIfAborted(signal);
    if (pos > 0) await yieldToEventLoop();
    const n = Math.min(CHUNK_ELEMENTS, ta.numel - pos);
    const [x, y] = await Promise.all([ea.read(pos, n), eb.read(pos, n)]);
    for (let i = 0; i < n; i++) {
      const p = x[i];
      const q = y[i];
      if (p - p !== 0 || q - q !== 0) {
        nonFinite++;
        if (!Object.is(p, q)) identical = false;
        continue;
      }
      const d = p - q;
      if (d !== 0) identical = false;
      const ad = d < 0 ? -d : d;
      if (ad > maxAbs) maxAbs = ad;
      aa += p * p;
      bb += q * q;
      ab += p * q;
      dd += d * d;
      count++;
    }
  }
  throwIfAborted(signal);
  return {
    count,
    nonFinite,
    relative: aa > 0 ? Math.sqrt(dd / aa) : dd > 0 ? Infinity : 0,
    maxAbs,
    cosine: aa > 0 && bb > 0 ? Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb))) : NaN,
    identical,
  };
}

/** A checkpoint opened for comparison: its summary, and its bytes (or an external-data file's). */
export interface OpenedCheckpoint {
  summary: CheckpointSummary;
  source(file?: string): Promise<ByteSource>;
}

/** One tensor of `a` (its index) against its namesake in `b`: the distance, or why there is none. */
export interface PairResult {
  index: number;
  other: string;
  transposed: boolean;
  diff?: TensorDiff;
  error?: string;
}

/** Computes each pair's distance in turn and reports it; rethrows only a cancellation. */
export async function comparePairs(
  a: OpenedCheckpoint,
  b: OpenedCheckpoint,
  pairs: TensorMatch[],
  onResult: (r: PairResult) => void,
  signal?: AbortSignal,
): Promise<void> {
  for (const p of pairs) {
    const ta = a.summary.tensors[p.a];
    const tb = b.summary.tensors[p.b];
    const head = { index: p.a, other: tb.name, transposed: p.transposed === true };
    if (p.shapeMismatch) {
      onResult({ ...head, error: `shape [${ta.shape.join(', ')}] against [${tb.shape.join(', ')}]` });
      continue;
    }
    try {
      onResult({ ...head, diff: await tensorDiff(await a.source(ta.data?.file), ta, await b.source(tb.data?.file), tb,
        { transposed: p.transposed, signal }) });
    } catch (e) {
      if (signal?.aborted) throw e;
      onResult({ ...head, error: e instanceof Error ? e.message : String(e) });
    }
  }
}

/**
 * Two opened checkpoints compared: `onStart` gets the pairing (all of it), then `onResult` the
 * distance of each pair whose tensor in `a` passes `keep`, in turn.
 */
export async function compareCheckpoints(
  a: OpenedCheckpoint,
  b: OpenedCheckpoint,
  onStart: (m: Matching) => void,
  onResult: (r: PairResult) => void,
  opts: { keep?: (t: TensorEntry) => boolean; signal?: AbortSignal } = {},
): Promise<void> {
  const m = matchTensors(a.summary, b.summary);
  onStart(m);
  const pairs = opts.keep ? m.pairs.filter((p) => opts.keep!(a.summary.tensors[p.a])) : m.pairs;
  await comparePairs(a, b, pairs, onResult, opts.signal);
}
