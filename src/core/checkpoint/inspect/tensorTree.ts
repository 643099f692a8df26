// Finds the weights in an unpickled object: the state dict among training state, configs and
// whatever else a checkpoint holds. Starting at the top, it descends through dicts and lists
// towards the container of the model's tensors: into a child with a conventional name
// (state_dict, model, ema, ...) when that holds more tensors than the current level, into the only
// child that holds tensors, or into the first tensor-holding item of a list (EMA shadows). The
// tensors below the chosen container are then listed with dotted names, also through objects'
// state (TorchScript modules). Also describes the other top-level entries and collects JSON
// configuration strings as metadata.
import { NUMPY_DTYPES } from './dtypes';
import { calleeGlobal, opaqueInfo, TensorRef } from './safeUnpickler';
import { InspectError } from './types';

/** A numpy array rebuilt by numpy.core.multiarray._reconstruct plus its BUILD state. */
export class NdArray {
  constructor(
    readonly dtype: string,
    readonly shape: number[],
    readonly fortran: boolean,
    readonly bigEndian: boolean,
    /** The raw bytes, when the pickle holds them as bytes (a view into the pickle's buffer). */
    readonly data?: Uint8Array,
  ) {}
}

export type Leaf = TensorRef | NdArray;

export interface FoundTensors {
  /** e.g. "state_dict", "ema.shadows[0]", or "" for the top level. */
  path: string;
  tensors: Array<{ name: string; leaf: Leaf }>;
  /** Tensors elsewhere in the object (optimizer state, other EMA copies, ...). */
  outside: number;
  /** Names not listed because their tensor already had MAX_NAMES_PER_TENSOR (a pickle that names one tensor 400,000 times). */
  namesDropped: number;
  topLevel: Record<string, string>;
  metadata: Record<string, string>;
}

/** Conventional names of the entry that holds a model's weights, most specific first. */
const WEIGHT_KEYS = [
  'state_dict', 'model_state_dict', 'model_state', 'model', 'module', 'net', 'network', 'params', 'weights',
  'ema', 'model_ema', 'ema_model', 'ema_state_dict', 'generator', 'shadows',
];
/** Top-level entries whose plain-data value is a configuration worth showing as metadata. */
const CONFIG_KEYS = new Set(['run', 'config', 'cfg', 'hparams', 'hyper_parameters', 'hyperparameters', 'args', 'model_config', 'model_args']);
const MAX_DEPTH = 64;
/** Tensors listed at most (pMF-H/16 with its v head has about 800; big language models a few thousand). */
const MAX_TENSORS = 200_000;
/** Names one tensor is listed under at most (tied weights have two or three). */
export const MAX_NAMES_PER_TENSOR = 16;
/** Characters of a tensor's name at most; a longer one is cut with an ellipsis. */
const MAX_NAME_LENGTH = 1024;
/** Values copied into a configuration's JSON at most. */
const MAX_PLAIN_VALUES = 10_000;

export function findTensors(root: unknown, fileName: string): FoundTensors {
  let node = root;
  let path = '';
  const firstKeys: unknown[] = [];
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (!(node instanceof Map) && !Array.isArray(node)) break;
    const entries = entriesOf(node);
    const direct = entries.filter(([, v]) => leafOf(v)).length;
    const kids = entries
      .filter(([, v]) => v instanceof Map || Array.isArray(v))
      .map(([k, v]) => ({ k, v, n: countLeaves(v) }))
      .filter((c) => c.n > 0);
    const preferred = WEIGHT_KEYS.map((w) => kids.find((c) => typeof c.k === 'string' && c.k.toLowerCase() === w)).find(Boolean);
    const next =
      preferred && preferred.n > direct ? preferred
      : direct === 0 && (kids.length === 1 || Array.isArray(node)) ? kids[0]
      : undefined;
    if (!next) break;
    if (depth === 0) firstKeys.push(next.k);
    path = Array.isArray(node) ? `${path}[${String(next.k)}]` : path ? `${path}.${String(next.k)}` : String(next.k);
    node = next.v;
  }

  const tensors: Array<{ name: string; leaf: Leaf }> = [];
  const names = { perLeaf: new Map<Leaf, number>(), dropped: 0 };
  flatten(node, '', tensors, new Set(), 0, fileName, names);
  const listed = new Set(tensors.map((t) => t.leaf));
  const all = new Set<Leaf>();
  collectLeaves(root, all, new Set(), 0);
  const outside = [...all].filter((l) => !listed.has(l)).length;

  const topLevel: Record<string, string> = {};
  const metadata: Record<string, string> = {};
  if (root instanceof Map) {
    for (const [k, v] of entriesOf(root)) {
      const key = String(k);
      if (typeof v === 'string' && isJsonText(v)) metadata[key] = v;
      else if (CONFIG_KEYS.has(key.toLowerCase())) {
        const plain = toPlain(v, 0, { left: MAX_PLAIN_VALUES });
        if (plain !== undefined && typeof plain === 'object') metadata[key] = JSON.stringify(plain);
      }
      if (firstKeys.includes(k) || (path === '' && leafOf(v))) continue;
      topLevel[key] = describe(v);
    }
  }
  return { path, tensors, outside, namesDropped: names.dropped, topLevel, metadata };
}

/** A short description of a value: "int 4600", "dict (12 keys)", "str 'abc'", "tensor float32 [3]", ... */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return `bool ${v ? 'True' : 'False'}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `int ${v}` : `float ${v}`;
  if (typeof v === 'bigint') return `int ${v}`;
  if (typeof v === 'string') {
    if (isJsonText(v)) return `str (JSON, ${v.length} chars)`;
    return `str '${v.length > 40 ? `${v.slice(0, 40)}...` : v}'`;
  }
  if (v instanceof Uint8Array) return `bytes (${v.length})`;
  const leaf = leafOf(v);
  if (leaf instanceof TensorRef) return `tensor ${leaf.dtype} [${leaf.shape.join(', ')}]`;
  if (leaf instanceof NdArray) return `numpy ${leaf.dtype} [${leaf.shape.join(', ')}]`;
  if (v instanceof Map || Array.isArray(v)) {
    const n = countLeaves(v);
    const size = v instanceof Map ? `${entriesOf(v).length} keys` : String(v.length);
    return `${v instanceof Map ? 'dict' : 'list'} (${size}${n ? `, ${n} tensors` : ''})`;
  }
  const info = opaqueInfo(v);
  if (info) {
    const g = calleeGlobal(info);
    const name = g ? `${g.module}.${g.name}` : info.kind === 'persistent' ? 'persistent reference' : 'object';
    if (info.kind === 'global') return name;
    if (info.kind === 'call') return `${name}(...)`;
    if (info.kind === 'new') return `${name} object`;
    return name;
  }
  return typeof v;
}

// ---- walking ------------------------------------------------------------------------------------

/** Entries of a dict, list, or an object's dict state (TorchScript modules, Namespaces, ...). */
function entriesOf(v: unknown): Array<[unknown, unknown]> {
  if (v instanceof Map) return [...v.entries()];
  if (Array.isArray(v)) return v.map((x, i) => [i, x]);
  const info = opaqueInfo(v);
  if (info && (info.kind === 'new' || info.kind === 'call') && info.state instanceof Map && !leafOf(v)) return entriesOf(info.state);
  return [];
}

/**
 * Lists the tensors below v with dotted names. A container is expanded once, under the first name
 * that reaches it: a pickle can share one list among many (its memo), and 300 bytes of lists that
 * hold the next one twice, 40 deep, would otherwise name 2^40 paths. A tensor itself may be listed
 * under several names (tied weights in a state dict).
 */
function flatten(
  v: unknown,
  prefix: string,
  out: Array<{ name: string; leaf: Leaf }>,
  expanded: Set<unknown>,
  depth: number,
  fileName: string,
  names: { perLeaf: Map<Leaf, number>; dropped: number },
): void {
  const leaf = leafOf(v);
  if (leaf) {
    const seen = names.perLeaf.get(leaf) ?? 0;
    if (seen >= MAX_NAMES_PER_TENSOR) {
      names.dropped++;
      return;
    }
    names.perLeaf.set(leaf, seen + 1);
    if (out.length >= MAX_TENSORS) {
      // more names than any checkpoint has: a pickle built to exhaust the reader
      throw new InspectError('too-large', `${fileName} names more than ${MAX_TENSORS} tensors; it is not read further. A checkpoint has at most a few thousand.`);
    }
    out.push({ name: prefix.length > MAX_NAME_LENGTH ? `${prefix.slice(0, MAX_NAME_LENGTH)}…` : prefix, leaf });
    return;
  }
  if (depth > MAX_DEPTH || expanded.has(v)) return;
  const entries = entriesOf(v);
  if (!entries.length) return;
  expanded.add(v);
  for (const [k, x] of entries) {
    const key = String(k);
    const name = prefix.length > MAX_NAME_LENGTH ? prefix : prefix ? `${prefix}.${key}` : key;
    flatten(x, name, out, expanded, depth + 1, fileName, names);
  }
}

function collectLeaves(v: unknown, out: Set<Leaf>, seen: Set<unknown>, depth: number): void {
  const leaf = leafOf(v);
  if (leaf) {
    out.add(leaf);
    return;
  }
  if (depth > MAX_DEPTH || seen.has(v)) return;
  seen.add(v);
  for (const [, x] of entriesOf(v)) collectLeaves(x, out, seen, depth + 1);
}

function countLeaves(v: unknown): number {
  const s = new Set<Leaf>();
  collectLeaves(v, s, new Set(), 0);
  return s.size;
}

const ND_CACHE = new WeakMap<object, NdArray | null>();

/** The tensor a value is, if it is one. */
export function leafOf(v: unknown): Leaf | undefined {
  if (v instanceof TensorRef) return v;
  if (typeof v !== 'function') return undefined;
  let nd = ND_CACHE.get(v);
  if (nd === undefined) {
    nd = ndArray(v) ?? null;
    ND_CACHE.set(v, nd);
  }
  return nd ?? undefined;
}

/** numpy.core.multiarray._reconstruct(ndarray, (0,), b'b') with BUILD state (version, shape, dtype, fortran, data). */
function ndArray(v: unknown): NdArray | undefined {
  const info = opaqueInfo(v);
  if (!info || info.kind !== 'call') return undefined;
  const g = calleeGlobal(info);
  if (!g || !/^numpy\.(_?core\.)?multiarray$/.test(g.module) || g.name !== '_reconstruct') return undefined;
  const state = info.state;
  if (!Array.isArray(state) || state.length < 5) return undefined;
  const [, shape, dtypeObj, fortran, data] = state as unknown[];
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number')) return undefined;
  const d = opaqueInfo(dtypeObj);
  if (!d || d.kind !== 'call' || typeof d.args[0] !== 'string') return undefined;
  const descr = d.args[0].replace(/^[<>|=]/, '');
  const order = Array.isArray(d.state) && typeof d.state[1] === 'string' ? d.state[1] : '<';
  const dtype = NUMPY_DTYPES[descr] ?? `numpy ${descr}`;
  return new NdArray(dtype, shape, fortran === true, order === '>', data instanceof Uint8Array ? data : undefined);
}

function isJsonText(s: string): boolean {
  const t = s.trimStart();
  if (!t.startsWith('{') && !t.startsWith('[')) return false;
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === 'object' && v !== null;
  } catch {
    return false;
  }
}

/**
 * A JSON-able copy of plain data (numbers, strings, lists, string-keyed dicts, objects' dict state),
 * else undefined; also undefined past `budget.left` values (shared containers would be copied
 * once per reference).
 */
function toPlain(v: unknown, depth: number, budget: { left: number }): unknown {
  if (depth > 16 || --budget.left < 0) return undefined;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : String(v);
  if (Array.isArray(v)) {
    const out = v.map((x) => toPlain(x, depth + 1, budget));
    return out.includes(undefined) ? undefined : out;
  }
  if (v instanceof Map || opaqueInfo(v)) {
    if (leafOf(v)) return undefined;
    const entries = entriesOf(v);
    if (!(v instanceof Map) && !entries.length) return undefined;
    const out: Record<string, unknown> = {};
    for (const [k, x] of entries) {
      const p = toPlain(x, depth + 1, budget);
      if (p === undefined || (typeof k !== 'string' && typeof k !== 'number')) return undefined;
      out[String(k)] = p;
    }
    return out;
  }
  return undefined;
}
