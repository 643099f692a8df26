// The inputs of the checkpoint fuzzer (bench/fuzz.ts): mutations of the real fixtures of every
// format and hostile structures built from scratch, each a pure function of (seed, format, index)
// so that any input can be rebuilt from its number. Mutations know the formats' structure:
//   onnx:           the protobuf wire tree (ModelProto > graph > node / initializer / value_info):
//                   varints (dims, data_type, data_location, versions), lengths, raw_data,
//                   external_data entries, duplicated / dropped / moved messages, wire types;
//   safetensors:    the header length, the JSON header (dtype, shape, data_offsets, __metadata__,
//                   names, duplicate keys, deep nesting) and the data;
//   pytorch-zip,
//   torchscript:    the archive's entries (renamed, duplicated, case-folded, dropped, reordered,
//                   compressed, outside the folder), the pickles in it, the storages, and every
//                   numeric field of the local headers, central directory and end record;
//   pytorch-legacy: each of the five pickles of a legacy torch.save file, the storages after
//                   them, and tar headers (the pre-0.4 format);
//   pickle:         opcodes (deleted, repeated, swapped, replaced, inserted, arguments and lengths
//                   changed, globals swapped) and hostile streams: random opcodes, memo-sharing
//                   bombs, deep nesting, huge LONG4 / BINUNICODE8 / FRAME lengths, state dicts of
//                   hostile tensors.
// On top of any of these, byte-level mutations: bit flips, interesting integers, truncation,
// chunks cut, repeated or inserted, splices with another fixture.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';

export const FORMATS = ['onnx', 'safetensors', 'pytorch-zip', 'torchscript', 'pytorch-legacy', 'pickle'] as const;
export type Format = (typeof FORMATS)[number];

const EXTENSION: Record<Format, string> = {
  onnx: 'onnx', safetensors: 'safetensors', 'pytorch-zip': 'pt', torchscript: 'pt', 'pytorch-legacy': 'pt', pickle: 'pkl',
};

/** The file name an input is inspected under: distinctive, so that a message naming it cannot do so by chance. */
export function inputName(format: Format, index: number): string {
  return `fz-${format}-${String(index).padStart(6, '0')}.${EXTENSION[format]}`;
}

export interface FuzzInput {
  bytes: Uint8Array;
  /** The mutations applied, e.g. "pmfdit.pt: zip entry renamed; bit flips". */
  how: string;
}

// ---- randomness ----------------------------------------------------------------------------

/** mulberry32: small, fast, and the same on every machine. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  float(): number {
    return this.u32() / 2 ** 32;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.float() * n);
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  weighted<T>(items: ReadonlyArray<readonly [number, T]>): T {
    let total = 0;
    for (const [w] of items) total += w;
    let r = this.float() * total;
    for (const [w, v] of items) {
      if ((r -= w) < 0) return v;
    }
    return items[items.length - 1][1];
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
  /** A small count, mostly 1 or 2. */
  few(max = 8): number {
    return 1 + Math.min(max - 1, Math.floor(-Math.log2(1 - this.float() * 0.999)));
  }
}

/** The seed of one input: FNV-1a over (seed, format, index). */
export function inputSeed(seed: number, format: Format, index: number): number {
  let h = 0x811c9dc5;
  for (const c of `${seed}:${format}:${index}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

// ---- bytes -----------------------------------------------------------------------------------

function concat(parts: ReadonlyArray<Uint8Array | number[]>): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

function u16(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff];
}
function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}
function u64(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  for (let i = 0; i < 8; i++, v >>= 8n) out.push(Number(v & 0xffn));
  return out;
}

/** Integers that break length and offset arithmetic. */
const INTERESTING: readonly bigint[] = [
  0n, 1n, 2n, 3n, 4n, 7n, 8n, 15n, 16n, 31n, 32n, 63n, 64n, 65n, 100n, 127n, 128n, 255n, 256n, 1000n, 0x7fffn, 0x8000n,
  0xffffn, 0x10000n, 0x7fffffffn, 0x80000000n, 0xfffffffen, 0xffffffffn, 0x100000000n, 1n << 40n, (1n << 53n) - 1n, 1n << 53n,
  (1n << 53n) + 2n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n, -1n, -2n, -128n, -(1n << 31n), -(1n << 63n),
];

function interesting(rng: Rng): bigint {
  return rng.pick(INTERESTING);
}

/** Writes `v` at `at` in `width` bytes, little- or big-endian (in place). */
function writeInt(b: Uint8Array, at: number, width: number, v: bigint, bigEndian = false): void {
  let x = BigInt.asUintN(width * 8, v);
  for (let i = 0; i < width && at + i < b.length; i++, x >>= 8n) b[bigEndian ? at + width - 1 - i : at + i] = Number(x & 0xffn);
}

function readU32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}
function readU16(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8);
}

// ---- byte-level mutations (every format) -------------------------------------------------------

/** A position, biased to the start and the end of the data, where the structure is. */
function position(rng: Rng, n: number, hot?: readonly [number, number]): number {
  if (n <= 1) return 0;
  const r = rng.float();
  if (hot && r < 0.35) return Math.min(n - 1, hot[0] + rng.int(Math.max(1, hot[1] - hot[0])));
  if (r < 0.6) return rng.int(Math.min(n, 1024));
  if (r < 0.8) return n - 1 - rng.int(Math.min(n, 1024));
  return rng.int(n);
}

type ByteMutation = (b: Uint8Array, rng: Rng, others: readonly Uint8Array[], hot?: readonly [number, number]) => [Uint8Array, string];

const BYTE_MUTATIONS: ReadonlyArray<readonly [number, ByteMutation]> = [
  [4, (b, rng, _o, hot) => {
    const out = Uint8Array.from(b);
    const k = rng.few(16);
    for (let i = 0; i < k && out.length; i++) out[position(rng, out.length, hot)] ^= 1 << rng.int(8);
    return [out, `${k} bit flip${k > 1 ? 's' : ''}`];
  }],
  [2, (b, rng, _o, hot) => {
    const out = Uint8Array.from(b);
    const k = rng.few(8);
    for (let i = 0; i < k && out.length; i++) out[position(rng, out.length, hot)] = rng.pick([0, 1, 0x7f, 0x80, 0xff, 0x2e, 0x28, 0x50]);
    return [out, `${k} byte${k > 1 ? 's' : ''} set`];
  }],
  [3, (b, rng, _o, hot) => {
    const out = Uint8Array.from(b);
    const width = rng.pick([1, 2, 4, 8]);
    const at = position(rng, out.length, hot);
    const v = interesting(rng);
    const be = rng.chance(0.2);
    writeInt(out, at, width, v, be);
    return [out, `${width}-byte ${v} at ${at}${be ? ' (big-endian)' : ''}`];
  }],
  [3, (b, rng, _o, hot) => {
    const n = rng.chance(0.5) ? position(rng, b.length, hot) : rng.chance(0.5) ? Math.max(0, b.length - rng.few(64)) : rng.int(b.length);
    return [b.slice(0, n), `truncated to ${n} bytes`];
  }],
  [1, (b, rng) => {
    const n = rng.few(12) ** 3;
    return [concat([b, rng.chance(0.5) ? new Uint8Array(n) : rng.bytes(n)]), `${n} bytes appended`];
  }],
  [2, (b, rng, _o, hot) => {
    const at = position(rng, b.length, hot);
    const n = Math.min(b.length - at, rng.few(10) ** 3);
    return [concat([b.subarray(0, at), b.subarray(at + n)]), `${n} bytes cut at ${at}`];
  }],
  [2, (b, rng, _o, hot) => {
    const at = position(rng, b.length, hot);
    const n = rng.few(10) ** 3;
    const chunk = rng.chance(0.5) ? rng.bytes(n) : b.subarray(rng.int(b.length), Math.min(b.length, rng.int(b.length) + n));
    return [concat([b.subarray(0, at), chunk, b.subarray(at)]), `${chunk.length} bytes inserted at ${at}`];
  }],
  [1, (b, rng, _o, hot) => {
    const at = position(rng, b.length, hot);
    const n = Math.min(b.length - at, rng.few(10) ** 3);
    const times = rng.few(64);
    const chunk = b.subarray(at, at + n);
    return [concat([b.subarray(0, at + n), ...Array<Uint8Array>(times).fill(chunk), b.subarray(at + n)]), `${n} bytes at ${at} repeated ${times} times`];
  }],
  [1, (b, rng, others) => {
    const other = rng.pick(others) ?? b;
    const at = rng.int(b.length);
    const from = rng.int(other.length);
    return [concat([b.subarray(0, at), other.subarray(from)]), `spliced at ${at} with another fixture from ${from}`];
  }],
];

function byteMutations(b: Uint8Array, rng: Rng, others: readonly Uint8Array[], hot?: readonly [number, number], count = rng.few(3)): [Uint8Array, string] {
  const how: string[] = [];
  for (let i = 0; i < count; i++) {
    const [out, h] = rng.weighted(BYTE_MUTATIONS)(b, rng, others, hot);
    b = out;
    how.push(h);
  }
  return [b, how.join('; ')];
}

// ---- pickles ---------------------------------------------------------------------------------

type ArgKind = 'none' | 1 | 2 | 4 | 8 | 'len1' | 'len4' | 'len8' | 'line' | 'line2';

/** Every opcode of pickle protocols 0 to 5 and how its argument is encoded (Lib/pickletools.py). */
const OPCODES: ReadonlyMap<number, ArgKind> = new Map<number, ArgKind>([
  [0x28, 'none'], [0x2e, 'none'], [0x30, 'none'], [0x31, 'none'], [0x32, 'none'], [0x4e, 'none'], [0x88, 'none'], [0x89, 'none'],
  [0x5d, 'none'], [0x29, 'none'], [0x7d, 'none'], [0x8f, 'none'], [0x6c, 'none'], [0x74, 'none'], [0x91, 'none'], [0x85, 'none'],
  [0x86, 'none'], [0x87, 'none'], [0x61, 'none'], [0x65, 'none'], [0x90, 'none'], [0x64, 'none'], [0x73, 'none'], [0x75, 'none'],
  [0x94, 'none'], [0x93, 'none'], [0x6f, 'none'], [0x81, 'none'], [0x92, 'none'], [0x52, 'none'], [0x62, 'none'], [0x51, 'none'],
  [0x97, 'none'], [0x98, 'none'],
  [0x4b, 1], [0x68, 1], [0x71, 1], [0x80, 1], [0x82, 1],
  [0x4d, 2], [0x83, 2],
  [0x4a, 4], [0x6a, 4], [0x72, 4], [0x84, 4],
  [0x47, 8], [0x95, 8],
  [0x55, 'len1'], [0x43, 'len1'], [0x8c, 'len1'], [0x8a, 'len1'],
  [0x54, 'len4'], [0x58, 'len4'], [0x42, 'len4'], [0x8b, 'len4'],
  [0x8d, 'len8'], [0x8e, 'len8'], [0x96, 'len8'],
  [0x49, 'line'], [0x4c, 'line'], [0x46, 'line'], [0x53, 'line'], [0x56, 'line'], [0x67, 'line'], [0x70, 'line'], [0x50, 'line'],
  [0x63, 'line2'], [0x69, 'line2'],
]);
const CODES = [...OPCODES.keys()];
const CODES_BY_KIND = new Map<ArgKind, number[]>();
for (const [c, k] of OPCODES) CODES_BY_KIND.set(k, [...(CODES_BY_KIND.get(k) ?? []), c]);

interface Op {
  code: number;
  /** The argument's bytes as they follow the opcode (length prefix and data, or the lines). */
  arg: Uint8Array;
}

/** One pickle's opcodes from `start` to its STOP (or to where they stop parsing: `tail` keeps the rest). */
function parsePickle(b: Uint8Array, start = 0): { ops: Op[]; end: number; complete: boolean } {
  const ops: Op[] = [];
  let pos = start;
  while (pos < b.length) {
    const code = b[pos];
    const kind = OPCODES.get(code);
    if (kind === undefined) break;
    let n: number;
    if (kind === 'none') n = 0;
    else if (typeof kind === 'number') n = kind;
    else if (kind === 'len1') n = 1 + (b[pos + 1] ?? 0);
    else if (kind === 'len4') n = 4 + readU32(b, pos + 1);
    else if (kind === 'len8') n = 8 + readU32(b, pos + 1) + readU32(b, pos + 5) * 2 ** 32;
    else {
      let lines = kind === 'line2' ? 2 : 1;
      let e = pos + 1;
      while (lines > 0 && e < b.length) if (b[e++] === 0x0a) lines--;
      if (lines > 0) break;
      n = e - pos - 1;
    }
    if (pos + 1 + n > b.length) break;
    ops.push({ code, arg: b.subarray(pos + 1, pos + 1 + n) });
    pos += 1 + n;
    if (code === 0x2e) return { ops, end: pos, complete: true };
  }
  return { ops, end: pos, complete: false };
}

function serialize(ops: readonly Op[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const op of ops) parts.push(Uint8Array.of(op.code), op.arg);
  return concat(parts);
}

/** Builds pickles opcode by opcode, into a growing buffer (hostile pickles run to millions of opcodes). */
class PickleWriter {
  private buf = new Uint8Array(256);
  private n = 0;
  private memo = 0;
  op(code: number, arg: Uint8Array | number[] = []): this {
    if (this.n + 1 + arg.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.n + 1 + arg.length));
      grown.set(this.buf.subarray(0, this.n));
      this.buf = grown;
    }
    this.buf[this.n++] = code;
    this.buf.set(arg, this.n);
    this.n += arg.length;
    return this;
  }
  /** The opcodes written so far (for splicing into a parsed pickle). */
  get ops(): Op[] {
    return parsePickle(this.bytes()).ops;
  }
  proto(v = 2): this {
    return this.op(0x80, [v]);
  }
  mark(): this {
    return this.op(0x28);
  }
  stop(): this {
    return this.op(0x2e);
  }
  str(s: string): this {
    const b = utf8(s);
    return b.length < 256 && this.n % 2 ? this.op(0x8c, concat([[b.length], b])) : this.op(0x58, concat([u32(b.length), b]));
  }
  int(v: number | bigint): this {
    const n = BigInt(v);
    if (n >= 0n && n < 256n) return this.op(0x4b, [Number(n)]);
    if (n >= 0n && n < 65536n) return this.op(0x4d, u16(Number(n)));
    if (n >= -(1n << 31n) && n < 1n << 31n) return this.op(0x4a, u32(Number(BigInt.asUintN(32, n))));
    const bytes: number[] = [];
    let x = n;
    do {
      bytes.push(Number(BigInt.asUintN(8, x)));
      x >>= 8n;
    } while (!((x === 0n && (bytes[bytes.length - 1] & 0x80) === 0) || (x === -1n && (bytes[bytes.length - 1] & 0x80) !== 0)));
    return this.op(0x8a, [bytes.length, ...bytes]);
  }
  float(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v);
    return this.op(0x47, b);
  }
  global(module: string, name: string, stack = false): this {
    if (stack) return this.str(module).str(name).op(0x93);
    return this.op(0x63, latin1(`${module}\n${name}\n`));
  }
  /** A Python value: numbers, bigints, strings, null, booleans, arrays as tuples, {list} as lists. */
  value(v: unknown): this {
    if (v === null || v === undefined) return this.op(0x4e);
    if (typeof v === 'boolean') return this.op(v ? 0x88 : 0x89);
    if (typeof v === 'bigint') return this.int(v);
    if (typeof v === 'number') return Number.isInteger(v) ? this.int(BigInt(v)) : this.float(v);
    if (typeof v === 'string') return this.str(v);
    if (Array.isArray(v)) {
      if (v.length === 1) return this.value(v[0]).op(0x85);
      this.mark();
      for (const x of v) this.value(x);
      return this.op(0x74);
    }
    if (typeof v === 'object' && 'list' in v) {
      this.op(0x5d).mark();
      for (const x of (v as { list: unknown[] }).list) this.value(x);
      return this.op(0x65);
    }
    return this.op(0x4e);
  }
  put(): number {
    this.op(0x71, [this.memo & 0xff]);
    return this.memo++ & 0xff;
  }
  get(i: number): this {
    return this.op(0x68, [i & 0xff]);
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

/** Globals worth swapping in: what a state dict uses, what the gate must refuse, and JavaScript property names. */
const GLOBALS: ReadonlyArray<readonly [string, string]> = [
  ['torch._utils', '_rebuild_tensor_v2'], ['torch._utils', '_rebuild_tensor'], ['torch._utils', '_rebuild_tensor_v3'],
  ['torch._utils', '_rebuild_parameter'], ['torch._utils', '_rebuild_parameter_with_state'], ['torch._tensor', '_rebuild_from_type_v2'],
  ['torch', 'FloatStorage'], ['torch', 'HalfStorage'], ['torch', 'BFloat16Storage'], ['torch', 'LongStorage'], ['torch', 'BoolStorage'],
  ['torch', 'ByteStorage'], ['torch', 'QInt8Storage'], ['torch', 'float32'], ['torch', 'bfloat16'], ['torch', 'Size'], ['torch', 'device'],
  ['torch.storage', 'UntypedStorage'], ['torch.storage', 'TypedStorage'], ['torch.nn.parameter', 'Parameter'],
  ['collections', 'OrderedDict'], ['collections', 'Counter'], ['builtins', 'set'], ['__builtin__', 'set'], ['builtins', 'bytearray'],
  ['_codecs', 'encode'], ['torch.serialization', '_get_layout'],
  ['numpy.core.multiarray', '_reconstruct'], ['numpy._core.multiarray', '_reconstruct'], ['numpy', 'ndarray'], ['numpy', 'dtype'],
  ['numpy.core.multiarray', 'scalar'], ['numpy.dtypes', 'Float32DType'], ['numpy', 'load'],
  ['os', 'system'], ['posix', 'system'], ['builtins', 'eval'], ['builtins', 'exec'], ['builtins', 'getattr'], ['__builtin__', 'eval'],
  ['subprocess', 'Popen'], ['torch.storage', '_load_from_bytes'], ['torch', 'load'], ['runpy', '_run_code'],
  ['__torch__', 'Net'], ['__torch__.torch.nn.modules.linear', 'Linear'],
  ['', ''], ['a\u0000b', 'c'], ['__proto__', 'constructor'], ['torch._utils', '__proto__'], ['collections', 'hasOwnProperty'],
  ['constructor', 'prototype'], ['torch', 'toString'], ['torch', 'valueOf'], ['Object', '__defineGetter__'],
];

const LINE_VALUES = [
  '0', '-0', '01', '0x1f', '1_000', '+5', ' 7', '1e309', 'nan', 'inf', '-inf', '1.5', 'True', 'False', '00', 'L', '9'.repeat(5000),
  "'abc'", '"a\\x00b"', "'\\u1234'", "'unterminated", 'x'.repeat(70000), '', '\u0000', '-9223372036854775809', '123L', '4294967296',
];

const STRINGS = [
  '', 'storage', 'cpu', 'cuda:0', '0', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'state_dict', 'model', 'ema',
  'a'.repeat(2000), 'x.'.repeat(600), '\u202egnp.exe', '\u0000', '\u001b[2J', 'numpy', 'torch', 'data.pkl', '../x', 'code/x.py',
];

function randomArg(rng: Rng, kind: ArgKind): Uint8Array {
  switch (kind) {
    case 'none': return new Uint8Array(0);
    case 1: return Uint8Array.of(rng.chance(0.5) ? rng.int(8) : rng.int(256));
    case 2: return Uint8Array.from(u16(rng.chance(0.5) ? rng.int(8) : rng.int(65536)));
    case 4: {
      const b = new Uint8Array(4);
      writeInt(b, 0, 4, rng.chance(0.5) ? BigInt(rng.int(16)) : interesting(rng));
      return b;
    }
    case 8: {
      const b = new Uint8Array(8);
      writeInt(b, 0, 8, interesting(rng));
      return b;
    }
    case 'len1': {
      const s = rng.chance(0.5) ? utf8(rng.pick(STRINGS)).subarray(0, 255) : rng.bytes(rng.int(12));
      return concat([[s.length], s]);
    }
    case 'len4':
    case 'len8': {
      const s = rng.chance(0.5) ? utf8(rng.pick(STRINGS)) : rng.bytes(rng.int(12));
      return concat([kind === 'len4' ? u32(s.length) : u64(s.length), s]);
    }
    case 'line': return latin1(`${rng.pick(LINE_VALUES)}\n`);
    case 'line2': {
      const [m, n] = rng.pick(GLOBALS);
      return latin1(`${m}\n${n}\n`);
    }
  }
}

type OpMutation = (ops: Op[], rng: Rng) => string;

const OP_MUTATIONS: ReadonlyArray<readonly [number, OpMutation]> = [
  [3, (ops, rng) => {
    const i = rng.int(ops.length);
    const n = rng.few(4);
    ops.splice(i, n);
    return `${n} opcode(s) deleted at ${i}`;
  }],
  [2, (ops, rng) => {
    const i = rng.int(ops.length);
    const times = rng.few(8);
    ops.splice(i, 0, ...Array<Op>(times).fill(ops[i] ?? { code: 0x4e, arg: new Uint8Array(0) }));
    return `opcode ${i} repeated ${times} times`;
  }],
  [2, (ops, rng) => {
    if (ops.length < 2) return 'nothing to swap';
    const i = rng.int(ops.length);
    const j = rng.int(ops.length);
    [ops[i], ops[j]] = [ops[j], ops[i]];
    return `opcodes ${i} and ${j} swapped`;
  }],
  [3, (ops, rng) => {
    const i = rng.int(ops.length + 1);
    const code = rng.pick(CODES);
    ops.splice(i, 0, { code, arg: randomArg(rng, OPCODES.get(code)!) });
    return `opcode 0x${code.toString(16)} inserted at ${i}`;
  }],
  [3, (ops, rng) => {
    // Another opcode with the same kind of argument (BINPUT -> BINGET, TUPLE -> LIST, ...).
    const i = rng.int(ops.length);
    if (!ops[i]) return 'nothing';
    const code = rng.pick(CODES_BY_KIND.get(OPCODES.get(ops[i].code)!)!);
    ops[i] = { code, arg: ops[i].arg };
    return `opcode ${i} replaced by 0x${code.toString(16)}`;
  }],
  [4, (ops, rng) => {
    const i = rng.int(ops.length);
    if (!ops[i]) return 'nothing';
    const kind = OPCODES.get(ops[i].code)!;
    if (kind === 'len4' || kind === 'len8' || kind === 'len1') {
      // Keep the data, lie about its length.
      const arg = Uint8Array.from(ops[i].arg);
      const width = kind === 'len1' ? 1 : kind === 'len4' ? 4 : 8;
      const v = rng.chance(0.5) ? interesting(rng) : BigInt(Math.max(0, arg.length - width + rng.range(-4, 4)));
      writeInt(arg, 0, width, v);
      ops[i] = { code: ops[i].code, arg };
      return `length of opcode ${i} set to ${v}`;
    }
    ops[i] = { code: ops[i].code, arg: randomArg(rng, kind) };
    return `argument of opcode ${i} replaced`;
  }],
  [2, (ops, rng) => {
    // Swap a global for another (GLOBAL's lines, or the two strings before a STACK_GLOBAL).
    const globals = ops.flatMap((op, i) => (op.code === 0x63 || op.code === 0x69 || op.code === 0x93 ? [i] : []));
    if (!globals.length) return 'no global';
    const i = rng.pick(globals);
    const [m, n] = rng.pick(GLOBALS);
    if (ops[i].code === 0x93) {
      ops.splice(i, 1, ...new PickleWriter().str(m).str(n).op(0x93).ops);
      // the two strings already pushed are left for the stack: a common CPython stop, or a computed global
      if (rng.chance(0.7)) ops.splice(Math.max(0, i - 2), 2);
    } else {
      ops[i] = { code: ops[i].code, arg: latin1(`${m}\n${n}\n`) };
    }
    return `global ${i} replaced by ${m}.${n}`;
  }],
  [2, (ops, rng) => {
    const memo = ops.flatMap((op, i) => ([0x68, 0x71, 0x6a, 0x72, 0x67, 0x70].includes(op.code) ? [i] : []));
    if (!memo.length) return 'no memo';
    const i = rng.pick(memo);
    const kind = OPCODES.get(ops[i].code)!;
    ops[i] = { code: ops[i].code, arg: randomArg(rng, kind) };
    return `memo index of opcode ${i} changed`;
  }],
  [1, (ops, rng) => {
    const i = rng.int(ops.length + 1);
    const hazard = new PickleWriter().global(...(rng.pick(GLOBALS) as [string, string])).mark().str('echo pwned').op(0x74).op(0x52).ops;
    ops.splice(i, 0, ...hazard);
    return `a call inserted at ${i}`;
  }],
  [1, (ops, rng) => {
    const i = rng.int(ops.length + 1);
    const frame = new Uint8Array(8);
    writeInt(frame, 0, 8, interesting(rng));
    ops.splice(i, 0, rng.chance(0.5) ? { code: 0x95, arg: frame } : { code: 0x80, arg: Uint8Array.of(rng.int(256)) });
    return `FRAME or PROTO inserted at ${i}`;
  }],
  [1, (ops, rng) => {
    const n = rng.int(ops.length);
    ops.length = n;
    return `opcodes cut after ${n}`;
  }],
  [1, (ops, rng) => {
    const i = rng.int(ops.length);
    const n = rng.few(16);
    ops.splice(rng.int(ops.length + 1), 0, ...ops.slice(i, i + n));
    return `${n} opcodes from ${i} copied`;
  }],
];

/** Opcode-level mutations of one pickle; the bytes after its STOP are kept. */
function mutatePickle(b: Uint8Array, rng: Rng, count = rng.few(3)): [Uint8Array, string] {
  const { ops, end } = parsePickle(b);
  const how: string[] = [];
  for (let i = 0; i < count; i++) how.push(rng.weighted(OP_MUTATIONS)(ops, rng));
  return [concat([serialize(ops), b.subarray(end)]), how.join('; ')];
}

// hostile pickles ------------------------------------------------------------------------------

/** A tensor for torch._utils._rebuild_tensor_v2, with fields as given (any Python values). */
interface TensorSpecP {
  key: unknown;
  storageType: readonly [string, string];
  storageKey: unknown;
  location: unknown;
  storageNumel: unknown;
  offset: unknown;
  shape: unknown;
  stride: unknown;
  /** A legacy persistent id's sixth item (view metadata). */
  legacy?: boolean;
}

function writeTensor(w: PickleWriter, t: TensorSpecP): void {
  w.global('torch._utils', '_rebuild_tensor_v2').mark();
  w.mark().str('storage').global(...(t.storageType as [string, string])).value(t.storageKey).value(t.location).value(t.storageNumel);
  if (t.legacy) w.op(0x4e);
  w.op(0x74).op(0x51);
  w.value(t.offset).value(t.shape).value(t.stride).op(0x89).global('collections', 'OrderedDict').op(0x29).op(0x52).op(0x74).op(0x52);
}

const HOSTILE_DIM: readonly unknown[] = [
  0, 1, 2, 3, 4, -1, -2, 2 ** 31, 2 ** 32, 2 ** 53, 2n ** 63n, 2n ** 64n, -(2n ** 63n), 1.5, NaN, Infinity, '3', null, true, [2], { list: [2] },
];

function hostileTensor(rng: Rng, key: unknown, legacy = false): TensorSpecP {
  const dims = rng.chance(0.1) ? rng.pick([65, 100, 1000, 5000]) : rng.int(5);
  const dim = () => (rng.chance(0.7) ? rng.range(0, 8) : rng.pick(HOSTILE_DIM));
  const shape = rng.chance(0.1) ? rng.pick(HOSTILE_DIM) : Array.from({ length: dims }, dim);
  const stride = rng.chance(0.1) ? rng.pick(HOSTILE_DIM) : Array.from({ length: rng.chance(0.8) ? dims : rng.int(6) }, dim);
  return {
    key,
    storageType: rng.chance(0.8) ? rng.pick(GLOBALS.slice(6, 13)) : rng.pick(GLOBALS),
    storageKey: rng.chance(0.8) ? String(rng.int(4)) : rng.pick([...STRINGS, 7, null, -1, [1, 2]]),
    location: rng.chance(0.9) ? 'cpu' : rng.pick(STRINGS),
    storageNumel: rng.chance(0.6) ? rng.range(0, 64) : rng.pick(HOSTILE_DIM),
    offset: rng.chance(0.7) ? rng.range(0, 4) : rng.pick(HOSTILE_DIM),
    shape,
    stride,
    legacy,
  };
}

/** A state dict (an OrderedDict or a dict) of hostile tensors. */
function hostileStateDict(rng: Rng, opts: { legacy?: boolean; count?: number } = {}): Uint8Array {
  const w = new PickleWriter().proto(rng.pick([2, 2, 3, 4, 5]));
  const count = opts.count ?? rng.few(6);
  if (rng.chance(0.5)) w.global('collections', 'OrderedDict').op(0x29).op(0x52);
  else w.op(0x7d);
  w.put();
  w.mark();
  for (let i = 0; i < count; i++) {
    w.value(rng.chance(0.9) ? `layer${i}.weight` : rng.pick([...STRINGS, i, null, [1]]));
    writeTensor(w, hostileTensor(rng, i, opts.legacy));
  }
  w.op(0x75).stop();
  return w.bytes();
}

/** Pickles built to cost: the harness's hostile structures for every pickle reader. */
const HOSTILE_PICKLES: ReadonlyArray<readonly [number, string, (rng: Rng) => Uint8Array]> = [
  [4, 'random opcode stream', (rng) => {
    const w = new PickleWriter();
    if (rng.chance(0.8)) w.proto(rng.range(0, 6));
    const n = rng.few(10) ** 2 * 4;
    for (let i = 0; i < n; i++) {
      const code = rng.chance(0.3) ? rng.pick([0x28, 0x5d, 0x7d, 0x29, 0x4e, 0x61, 0x73, 0x75, 0x65, 0x74, 0x52, 0x62, 0x94, 0x68, 0x93]) : rng.pick(CODES);
      if (code === 0x2e && rng.chance(0.9)) continue;
      w.op(code, randomArg(rng, OPCODES.get(code)!));
    }
    return w.stop().bytes();
  }],
  [2, 'memo-sharing bomb (lists)', (rng) => {
    const w = new PickleWriter().proto(2).op(0x7d);
    w.put();
    w.str('state_dict');
    const depth = rng.range(20, 60);
    const fan = rng.range(2, 16);
    writeTensor(w, hostileTensor(rng, 'w'));
    w.op(0x72, u32(1000));
    for (let d = 0; d < depth; d++) {
      w.mark();
      for (let i = 0; i < fan; i++) w.op(0x6a, u32(1000 + d));
      w.op(rng.chance(0.5) ? 0x6c : 0x74).op(0x72, u32(1001 + d));
    }
    return w.op(0x73).stop().bytes();
  }],
  [2, 'memo-sharing bomb (dicts)', (rng) => {
    const w = new PickleWriter().proto(2);
    const depth = rng.range(20, 60);
    const fan = rng.range(2, 12);
    writeTensor(w, hostileTensor(rng, 'w'));
    w.op(0x72, u32(1000));
    for (let d = 0; d < depth; d++) {
      w.op(0x7d).mark();
      for (let i = 0; i < fan; i++) w.str(`k${i}`).op(0x6a, u32(1000 + d));
      w.op(0x75).op(0x72, u32(1001 + d));
    }
    return w.stop().bytes();
  }],
  [2, 'deep nesting', (rng) => {
    const w = new PickleWriter().proto(2);
    const depth = rng.pick([100, 1000, 10_000, 100_000, 300_000]);
    const kind = rng.int(5);
    if (kind === 0) {
      for (let i = 0; i < depth; i++) w.op(0x5d);
      if (rng.chance(0.5)) writeTensor(w, hostileTensor(rng, 'w'));
      else w.op(0x4e);
      for (let i = 0; i < depth; i++) w.op(0x61);
    } else if (kind === 1) {
      for (let i = 0; i < depth; i++) w.op(0x7d).str('model');
      writeTensor(w, hostileTensor(rng, 'w'));
      for (let i = 0; i < depth; i++) w.op(0x73);
    } else if (kind === 2) {
      for (let i = 0; i < depth; i++) w.mark();
      for (let i = 0; i < depth; i++) w.op(0x74);
    } else if (kind === 3) {
      for (let i = 0; i < depth; i++) w.mark();
    } else {
      // nested calls: OrderedDict(OrderedDict(...)) and _rebuild_from_type_v2 chains
      w.op(0x4e);
      for (let i = 0; i < depth; i++) w.global('collections', 'OrderedDict').op(0x5d).mark().op(0x29).op(0x74).op(0x61).op(0x85).op(0x52).op(0x85);
    }
    return w.stop().bytes();
  }],
  [2, 'huge declared length', (rng) => {
    const w = new PickleWriter().proto(rng.range(2, 5));
    const code = rng.pick([0x8b, 0x8d, 0x8e, 0x96, 0x58, 0x42, 0x54, 0x95]);
    const width = code === 0x8b || code === 0x58 || code === 0x42 || code === 0x54 ? 4 : 8;
    const len = new Uint8Array(width);
    writeInt(len, 0, width, rng.pick([0x7fffffffn, 0xffffffffn, 1n << 40n, (1n << 63n) - 1n, (1n << 64n) - 1n, 1n << 53n, 100n]));
    w.op(code, concat([len, rng.bytes(rng.int(64))]));
    return w.stop().bytes();
  }],
  [1, 'long integers', (rng) => {
    const w = new PickleWriter().proto(2).mark();
    const n = rng.pick([255, 1024, 1025, 100_000, 1 << 20]);
    w.op(0x8b, concat([u32(n), rng.bytes(n)]));
    w.op(0x8a, concat([[255], rng.bytes(255)]));
    w.op(0x49, latin1(`${'9'.repeat(rng.pick([10, 1024, 1025, 100_000]))}\n`));
    w.op(0x4c, latin1(`-${'7'.repeat(rng.pick([10, 1024, 5000]))}L\n`));
    return w.op(0x74).stop().bytes();
  }],
  [2, 'hostile state dict', (rng) => hostileStateDict(rng)],
  [1, 'many tensors, one storage', (rng) => {
    const w = new PickleWriter().proto(2).op(0x7d).mark();
    const n = rng.pick([1000, 50_000, 210_000]);
    writeTensor(w, hostileTensor(rng, 't'));
    w.op(0x72, u32(5000));
    for (let i = 0; i < n; i++) w.str(rng.chance(0.5) ? `m.${i}` : `t`).op(0x6a, u32(5000));
    return w.op(0x75).stop().bytes();
  }],
  [1, 'shared list in many calls', (rng) => {
    const w = new PickleWriter().proto(2).op(0x5d).mark();
    for (let i = 0; i < 100_000; i++) w.op(0x4e);
    w.op(0x65).op(0x72, u32(7));
    const g = rng.pick(GLOBALS);
    w.op(0x5d).mark();
    for (let i = 0; i < rng.pick([100, 10_000, 100_000]); i++) w.global(...(g as [string, string])).op(0x6a, u32(7)).op(0x85).op(0x52);
    return w.op(0x65).stop().bytes();
  }],
  [1, 'text protocol 0', (rng) => {
    const parts = [`(dp0\nS'${rng.pick(STRINGS)}'\np1\n`, `c${rng.pick(GLOBALS).join('\n')}\n`, `(${rng.pick(LINE_VALUES)}\n`, `I${rng.pick(LINE_VALUES)}\n`, `F${rng.pick(LINE_VALUES)}\n`, 'tR', 's.'];
    return latin1(parts.join(''));
  }],
  [1, 'two pickles', (rng) => {
    const first = new PickleWriter().proto(2).value(rng.pick([1, 'x', null, [1, 2]])).stop().bytes();
    return concat([first, hostileStateDict(rng), rng.chance(0.5) ? new PickleWriter().global('os', 'system').str('id').op(0x85).op(0x52).stop().bytes() : []]);
  }],
  [2, 'numpy arrays', (rng) => {
    const w = new PickleWriter().proto(2).op(0x7d).mark();
    for (let i = 0; i < rng.few(4); i++) {
      w.str(`a${i}`).global('numpy.core.multiarray', '_reconstruct').global('numpy', 'ndarray').value([0]).value('b').op(0x87).op(0x52);
      w.mark().value(1).value(rng.chance(0.5) ? [rng.range(0, 4), 3] : rng.pick(HOSTILE_DIM));
      w.global('numpy', 'dtype').value(rng.pick(['f4', 'f8', '<i8', '>f4', 'O', 'U3', 'V', 'x', 'constructor', 'toString', '__proto__', 'valueOf'])).op(0x89).op(0x88).op(0x87).op(0x52);
      w.mark().value(3).value(rng.pick(['<', '>', '|'])).op(0x4e).op(0x4e).op(0x4e).value(-1).value(-1).value(0).op(0x74).op(0x62);
      w.value(rng.pick([false, true])).op(0x43, concat([[rng.int(64)], rng.bytes(rng.int(64))])).op(0x74).op(0x62);
    }
    return w.op(0x75).stop().bytes();
  }],
];

function hostilePickle(rng: Rng): [Uint8Array, string] {
  const [, name, make] = rng.weighted(HOSTILE_PICKLES.map(([w, n, f]) => [w, [w, n, f] as const]));
  return [make(rng), `hostile pickle: ${name}`];
}

// ---- ZIP archives ------------------------------------------------------------------------------

interface ZipEntry {
  name: Uint8Array;
  /** Uncompressed. */
  data: Uint8Array;
  method: number;
  /** The stored bytes when they are not `data` compressed with `method` (a precomputed deflate bomb). */
  stored?: Uint8Array;
  /** The size the directory declares, when it is not data.length. */
  size?: number;
}

/** The entries of an archive, as written (sync; the fixtures are well formed). */
function readZip(b: Uint8Array): ZipEntry[] {
  let eocd = -1;
  for (let i = b.length - 22; i >= 0; i--) {
    if (readU32(b, i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return [];
  const count = readU16(b, eocd + 10);
  let at = readU32(b, eocd + 16);
  const out: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    const method = readU16(b, at + 10);
    const compSize = readU32(b, at + 20);
    const nameLen = readU16(b, at + 28);
    const extraLen = readU16(b, at + 30);
    const commentLen = readU16(b, at + 32);
    const local = readU32(b, at + 42);
    const name = b.slice(at + 46, at + 46 + nameLen);
    const start = local + 30 + readU16(b, local + 26) + readU16(b, local + 28);
    const raw = b.subarray(start, start + compSize);
    out.push({ name, data: method === 8 ? new Uint8Array(inflateRawSync(raw)) : raw.slice(), method });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A numeric field of a written archive, for field-level mutations. */
interface ZipField {
  at: number;
  width: 2 | 4 | 8;
  what: string;
}

/** Writes a ZIP archive (as torch.save does: stored entries, the data aligned to 64 bytes) and where its fields are. */
function writeZip(entries: readonly ZipEntry[], rng: Rng, opts: { align?: boolean; zip64?: boolean } = {}): { bytes: Uint8Array; fields: ZipField[]; cd: [number, number] } {
  const parts: Uint8Array[] = [];
  const fields: ZipField[] = [];
  const central: Uint8Array[] = [];
  let at = 0;
  const locals: number[] = [];
  for (const e of entries) {
    const stored = e.stored ?? (e.method === 8 ? new Uint8Array(deflateRawSync(e.data, { level: rng.chance(0.5) ? 1 : 6 })) : e.data);
    const crc = e.stored ? 0 : crc32(e.data);
    const size = e.size ?? e.data.length;
    const pad = opts.align ? (64 - ((at + 30 + e.name.length + 4) % 64)) % 64 : 0;
    const extra = opts.align ? concat([[0x46, 0x42], u16(pad), new Uint8Array(pad)]) : new Uint8Array(0);
    const local = concat([u32(0x04034b50), u16(20), u16(0), u16(e.method), u16(0), u16(0x21), u32(crc), u32(stored.length), u32(size), u16(e.name.length), u16(extra.length), e.name, extra]);
    fields.push(
      { at: at + 6, width: 2, what: `local flags of entry ${locals.length}` },
      { at: at + 8, width: 2, what: `local method of entry ${locals.length}` },
      { at: at + 14, width: 4, what: `local crc of entry ${locals.length}` },
      { at: at + 18, width: 4, what: `local compressed size of entry ${locals.length}` },
      { at: at + 22, width: 4, what: `local size of entry ${locals.length}` },
      { at: at + 26, width: 2, what: `local name length of entry ${locals.length}` },
      { at: at + 28, width: 2, what: `local extra length of entry ${locals.length}` },
    );
    locals.push(at);
    parts.push(local, stored);
    at += local.length + stored.length;
    central.push(concat([u32(0x02014b50), u16(0x031e), u16(20), u16(0), u16(e.method), u16(0), u16(0x21), u32(crc), u32(stored.length), u32(size), u16(e.name.length), u16(0), u16(0), u16(0), u16(0), u32(0), u32(locals[locals.length - 1]), e.name]));
  }
  const cdStart = at;
  let cdAt = at;
  central.forEach((c, i) => {
    fields.push(
      { at: cdAt + 8, width: 2, what: `flags of entry ${i}` },
      { at: cdAt + 10, width: 2, what: `method of entry ${i}` },
      { at: cdAt + 16, width: 4, what: `crc of entry ${i}` },
      { at: cdAt + 20, width: 4, what: `compressed size of entry ${i}` },
      { at: cdAt + 24, width: 4, what: `size of entry ${i}` },
      { at: cdAt + 28, width: 2, what: `name length of entry ${i}` },
      { at: cdAt + 30, width: 2, what: `extra length of entry ${i}` },
      { at: cdAt + 32, width: 2, what: `comment length of entry ${i}` },
      { at: cdAt + 34, width: 2, what: `disk of entry ${i}` },
      { at: cdAt + 42, width: 4, what: `local header offset of entry ${i}` },
    );
    parts.push(c);
    cdAt += c.length;
  });
  const cdSize = cdAt - cdStart;
  let end = cdAt;
  if (opts.zip64) {
    const eocd64 = concat([u32(0x06064b50), u64(44), u16(45), u16(45), u32(0), u32(0), u64(entries.length), u64(entries.length), u64(cdSize), u64(cdStart)]);
    fields.push(
      { at: end + 24, width: 8, what: 'zip64 entry count' },
      { at: end + 40, width: 8, what: 'zip64 directory size' },
      { at: end + 48, width: 8, what: 'zip64 directory offset' },
    );
    const locator = concat([u32(0x07064b50), u32(0), u64(end), u32(1)]);
    fields.push({ at: end + eocd64.length + 8, width: 8, what: 'zip64 locator offset' });
    parts.push(eocd64, locator);
    end += eocd64.length + locator.length;
  }
  const count = opts.zip64 ? 0xffff : entries.length;
  parts.push(concat([u32(0x06054b50), u16(0), u16(0), u16(count), u16(count), u32(opts.zip64 ? 0xffffffff : cdSize), u32(opts.zip64 ? 0xffffffff : cdStart), u16(0)]));
  fields.push(
    { at: end + 4, width: 2, what: 'disk number' },
    { at: end + 8, width: 2, what: 'entries on this disk' },
    { at: end + 10, width: 2, what: 'entry count' },
    { at: end + 12, width: 4, what: 'directory size' },
    { at: end + 16, width: 4, what: 'directory offset' },
    { at: end + 20, width: 2, what: 'comment length' },
  );
  return { bytes: concat(parts), fields, cd: [cdStart, end + 22] };
}

const nameOf = (e: ZipEntry) => new TextDecoder().decode(e.name);

type EntryMutation = (entries: ZipEntry[], rng: Rng, fx: Fixtures) => string;

const ENTRY_MUTATIONS: ReadonlyArray<readonly [number, EntryMutation]> = [
  [8, (entries, rng) => {
    const pkls = entries.filter((e) => /\.pkl$/.test(nameOf(e)));
    const e = rng.pick(pkls.length ? pkls : entries);
    if (!e) return 'nothing';
    const [data, how] = rng.chance(0.85) ? mutatePickle(e.data, rng) : hostilePickle(rng);
    e.data = data;
    return `${nameOf(e)}: ${how}`;
  }],
  [2, (entries, rng) => {
    const e = rng.pick(entries.filter((x) => /\/data\/|\/constants\//.test(nameOf(x))));
    if (!e) return 'no storage';
    const n = rng.chance(0.5) ? rng.int(e.data.length) : e.data.length + rng.few(8) * 4;
    e.data = n <= e.data.length ? e.data.slice(0, n) : concat([e.data, rng.bytes(n - e.data.length)]);
    return `storage ${nameOf(e)} resized to ${n}`;
  }],
  [2, (entries, rng) => {
    const i = rng.int(entries.length);
    const [gone] = entries.splice(i, 1);
    return `entry ${gone ? nameOf(gone) : i} dropped`;
  }],
  [2, (entries, rng) => {
    const e = rng.pick(entries);
    if (!e) return 'nothing';
    const name = nameOf(e);
    const variants = [name.toUpperCase(), name.replace(/data\.pkl$/, 'DATA.pkl'), name, `${name}/`, `${name}\u0000`];
    const copy: ZipEntry = { name: utf8(rng.pick(variants)), data: rng.chance(0.5) ? e.data : new PickleWriter().proto(2).global('os', 'system').str('id').op(0x85).op(0x52).stop().bytes(), method: e.method };
    entries.splice(rng.int(entries.length + 1), 0, copy);
    return `entry ${name} duplicated as ${nameOf(copy)}`;
  }],
  [3, (entries, rng) => {
    const e = rng.pick(entries);
    if (!e) return 'nothing';
    const name = nameOf(e);
    const folder = name.slice(0, name.indexOf('/') + 1);
    const renamed = rng.pick([
      `../${name}`, `/${name}`, name.replace(folder, 'other/'), name.replace(folder, ''), '', 'x'.repeat(rng.pick([255, 4096, 65535])),
      name.replace(/\//g, '\\'), `${folder}data.pkl`, `${folder}code/__torch__.py`, `${folder}constants.pkl`, `${folder}byteorder`,
      `${folder}.data/version`, name.normalize('NFD') + '\u0301', `${folder}\u202edata.pkl`, `${folder}data/${rng.int(100)}`,
    ]);
    e.name = rng.chance(0.1) ? Uint8Array.from([...e.name.subarray(0, 4), 0xff, 0xfe, ...e.name.subarray(4)]) : utf8(renamed);
    return `entry ${name} renamed`;
  }],
  [2, (entries, rng) => {
    for (let i = entries.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [entries[i], entries[j]] = [entries[j], entries[i]];
    }
    return 'entries shuffled';
  }],
  [2, (entries, rng) => {
    const e = rng.pick(entries);
    if (!e) return 'nothing';
    e.method = rng.weighted([[6, 8], [1, 0], [1, 12], [1, 14], [1, 99], [1, 1], [1, 9], [1, 93]] as const);
    return `entry ${nameOf(e)} method ${e.method}`;
  }],
  [1, (entries, rng) => {
    const folder = entries[0] ? nameOf(entries[0]).split('/')[0] : 'archive';
    const what = rng.pick(['byteorder', 'code/__torch__.py', 'constants.pkl', 'extra.pkl', 'data/99', '.data/serialization_id']);
    const data =
      what === 'byteorder' ? utf8(rng.pick(['big', 'little', 'big\n', '', '\u0000']))
      : what.endsWith('.pkl') ? hostilePickle(rng)[0]
      : rng.bytes(rng.int(64));
    entries.splice(rng.int(entries.length + 1), 0, { name: utf8(`${folder}/${what}`), data, method: 0 });
    return `entry ${what} added`;
  }],
  [1, (entries, rng) => {
    const folder = entries[0] ? nameOf(entries[0]).split('/')[0] : 'archive';
    const n = rng.pick([1000, 20_000]);
    for (let i = 0; i < n; i++) entries.push({ name: utf8(`${folder}/data/x${i}`), data: new Uint8Array(0), method: 0 });
    return `${n} empty entries added`;
  }],
  [1, (entries, rng, fx) => {
    const pkl = entries.find((e) => nameOf(e).endsWith('data.pkl'));
    if (!pkl) return 'no data.pkl';
    // A compressed pickle that inflates to megabytes of MARK/POP_MARK: costs memory, not file size.
    const bomb = fx.bomb(rng.pick([1, 8, 32]));
    pkl.data = new Uint8Array(0);
    pkl.stored = bomb.stored;
    pkl.size = rng.chance(0.8) ? bomb.size : rng.pick([0, 1, bomb.size - 1, bomb.size + 1, 2 ** 31, 2 ** 32 - 1]);
    pkl.method = 8;
    return `data.pkl a deflate bomb of ${bomb.size} bytes (declared ${pkl.size})`;
  }],
];

function mutateZip(fx: Fixtures, base: { name: string; entries: readonly ZipEntry[] }, rng: Rng): [Uint8Array, string] {
  const entries = base.entries.map((e) => ({ ...e }));
  const how: string[] = [];
  const n = rng.chance(0.15) ? 0 : rng.few(3);
  for (let i = 0; i < n; i++) how.push(rng.weighted(ENTRY_MUTATIONS)(entries, rng, fx));
  const zip64 = rng.chance(0.05);
  const written = writeZip(entries, rng, { align: rng.chance(0.7), zip64 });
  let bytes = written.bytes;
  if (zip64) how.push('zip64 end record');
  const r = rng.float();
  if (r < 0.3 || n === 0) {
    const k = rng.few(3);
    bytes = Uint8Array.from(bytes);
    for (let i = 0; i < k; i++) {
      const f = rng.pick(written.fields);
      const old = f.width === 2 ? readU16(bytes, f.at) : readU32(bytes, f.at);
      const v = rng.chance(0.5) ? interesting(rng) : BigInt(old + rng.range(-64, 64));
      writeInt(bytes, f.at, f.width, v);
      how.push(`${f.what} set to ${v}`);
    }
  } else if (r < 0.4) {
    const extra = rng.pick([rng.bytes(rng.few(64)), Uint8Array.from(bytes.subarray(written.cd[0], written.cd[1]))]);
    bytes = rng.chance(0.5) ? concat([bytes, extra]) : concat([rng.bytes(rng.few(64)), bytes]);
    how.push(`${extra.length} bytes added before or after the archive`);
  }
  if (rng.chance(0.3)) {
    const [b, h] = byteMutations(bytes, rng, fx.all, written.cd);
    bytes = b;
    how.push(h);
  }
  return [bytes, `${base.name}: ${how.join('; ') || 'rewritten'}`];
}

function hostileZip(fx: Fixtures, rng: Rng, torchscript: boolean): [Uint8Array, string] {
  const folder = rng.pick(['archive', 'model', 'a', 'x'.repeat(200)]);
  const entries: ZipEntry[] = [{ name: utf8(`${folder}/data.pkl`), data: hostileStateDict(rng), method: 0 }];
  for (let i = 0; i < 4; i++) entries.push({ name: utf8(`${folder}/data/${i}`), data: rng.bytes(rng.pick([0, 4, 16, 64, 256, 4096])), method: 0 });
  if (torchscript) {
    entries.push({ name: utf8(`${folder}/constants.pkl`), data: rng.chance(0.5) ? hostilePickle(rng)[0] : hostileStateDict(rng), method: 0 });
    entries.push({ name: utf8(`${folder}/code/__torch__.py`), data: utf8('class Net(Module):\n  pass\n'), method: 8 });
    entries.push({ name: utf8(`${folder}/constants/0`), data: rng.bytes(64), method: 0 });
  }
  entries.push({ name: utf8(`${folder}/version`), data: utf8('3\n'), method: 0 });
  const [bytes, how] = mutateZip(fx, { name: `hostile ${torchscript ? 'TorchScript ' : ''}archive`, entries }, rng);
  return [bytes, how];
}

// ---- safetensors -----------------------------------------------------------------------------

const ST_DTYPES: readonly unknown[] = [
  'F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'U16', 'U32', 'U64', 'BOOL', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'C64',
  'F4', 'STR', 'f32', '', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 7, null, ['F32'], {},
];
const ST_SHAPES: readonly unknown[] = [
  [], [0], [1], [2, 2], [-1], [1.5], ['2'], [[2]], [2 ** 53], [2 ** 53 + 2], [2 ** 31, 2 ** 31], [2 ** 40, 2 ** 40, 2 ** 40],
  Array(65).fill(1), Array(1000).fill(1), Array(100_000).fill(0), null, '2', {}, [1e308, 1e308], [null],
];
const ST_KEYS = ['__proto__', 'constructor', 'toString', '', 'a'.repeat(100_000), '\u0000', '\u202e.exe', 'x.'.repeat(5000), '\ud800', '__metadata__'];

interface Safetensors {
  header: Record<string, unknown>;
  data: Uint8Array;
}

function readSafetensorsFixture(b: Uint8Array): Safetensors {
  const n = readU32(b, 0);
  return { header: JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n))) as Record<string, unknown>, data: b.slice(8 + n) };
}

function offsetsVariant(rng: Rng, begin: number, end: number, dataSize: number): unknown {
  return rng.pick<unknown>([
    [end, begin], [0, 2 ** 53], [0, 2 ** 53 + 2], [-1, end], [begin + 0.5, end], [String(begin), String(end)], [begin], [begin, end, end],
    null, [2 ** 53, 2 ** 53 + 4], [dataSize, dataSize], [0, dataSize + 1], [0, dataSize], [begin, end + rng.range(-8, 8)],
    [begin + rng.range(-8, 8), end], [0, 0], [1e308, 1e308], [0, 2 ** 32 + end],
  ]);
}

/** A string nested `depth` levels in arrays or objects, as JSON text. */
function deepJson(rng: Rng, depth: number): string {
  const obj = rng.chance(0.5);
  return obj ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + '1' + ']'.repeat(depth);
}

type StMutation = (st: Safetensors, rng: Rng) => string;

const ST_MUTATIONS: ReadonlyArray<readonly [number, StMutation]> = [
  [3, (st, rng) => {
    const k = rng.pick(Object.keys(st.header).filter((x) => x !== '__metadata__'));
    const e = st.header[k] as Record<string, unknown> | undefined;
    if (!e || typeof e !== 'object') return 'nothing';
    e.dtype = rng.pick(ST_DTYPES);
    return `dtype of ${k} set to ${JSON.stringify(e.dtype)}`;
  }],
  [3, (st, rng) => {
    const k = rng.pick(Object.keys(st.header).filter((x) => x !== '__metadata__'));
    const e = st.header[k] as Record<string, unknown> | undefined;
    if (!e || typeof e !== 'object') return 'nothing';
    e.shape = rng.chance(0.3) && Array.isArray(e.shape) ? (e.shape as number[]).map((d) => (rng.chance(0.5) ? d * rng.range(0, 4) : d)) : rng.pick(ST_SHAPES);
    return `shape of ${k} changed`;
  }],
  [4, (st, rng) => {
    const k = rng.pick(Object.keys(st.header).filter((x) => x !== '__metadata__'));
    const e = st.header[k] as Record<string, unknown> | undefined;
    if (!e || typeof e !== 'object') return 'nothing';
    const [b, en] = Array.isArray(e.data_offsets) ? (e.data_offsets as number[]) : [0, 0];
    e.data_offsets = rng.chance(0.2) ? (Object.values(st.header).find((x) => x && typeof x === 'object' && 'data_offsets' in x && x !== e) as Record<string, unknown> | undefined)?.data_offsets ?? [0, 4] : offsetsVariant(rng, b, en, st.data.length);
    return `data_offsets of ${k} set to ${JSON.stringify(e.data_offsets)}`;
  }],
  [2, (st, rng) => {
    const k = rng.pick(Object.keys(st.header));
    const e = st.header[k] as Record<string, unknown> | undefined;
    if (rng.chance(0.5) && e && typeof e === 'object') {
      const f = rng.pick(['dtype', 'shape', 'data_offsets']);
      delete e[f];
      return `${f} of ${k} removed`;
    }
    st.header[k] = rng.pick<unknown>([null, 1, 'x', [], [1, 2], true, {}]);
    return `entry ${k} replaced by a non-object`;
  }],
  [2, (st, rng) => {
    const k = rng.pick(Object.keys(st.header));
    const v = st.header[k];
    delete st.header[k];
    st.header[rng.pick(ST_KEYS)] = v;
    return `entry ${k} renamed`;
  }],
  [2, (st, rng) => {
    st.header.__metadata__ = rng.pick<unknown>([
      null, 'x', [1, 2], { format: 'pt', n: 1 }, { a: { b: [1, 2] } }, { format: 'pt', pmf: JSON.stringify({ hidden_size: 2 ** 60, depth: -1 }) },
      Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, 'v'])), { config: 'x'.repeat(1 << 20) }, { ['__proto__']: 'x' },
    ]);
    return 'metadata replaced';
  }],
  [1, (st, rng) => {
    const n = rng.pick([1000, 50_000, 210_000]);
    for (let i = 0; i < n; i++) st.header[`t${i}`] = { dtype: 'F32', shape: [1], data_offsets: rng.chance(0.5) ? [0, 4] : [4 * i, 4 * i + 4] };
    return `${n} tensors added`;
  }],
];

/** Serialises a header, then mutates the text, the length field and the data. */
function writeSafetensors(st: Safetensors, rng: Rng, how: string[]): Uint8Array {
  let text = JSON.stringify(st.header);
  const r = rng.float();
  if (r < 0.06) {
    // Deep nesting where the JSON allows any value (metadata, an entry, a field).
    // Appended, so that it is the value a repeated key ends with.
    const deep = deepJson(rng, rng.pick([100, 5000, 50_000, 500_000]));
    const body = text.slice(1, -1);
    const add = rng.pick([`"__metadata__":{"x":${deep}}`, `"__metadata__":{"format":"pt","x":${deep}}`, `"__metadata__":${deep}`, `"t":${deep}`, `"t":{"dtype":"F32","shape":${deep},"data_offsets":[0,4]}`]);
    text = `{${body}${body ? ',' : ''}${add}}`;
    how.push('deep nesting in the header');
  } else if (r < 0.12) {
    // A duplicate key: the first entry again, or a second __metadata__.
    const m = /^\{("(?:[^"\\]|\\.)*":\{[^{}]*\})/.exec(text);
    if (m) text = `{${m[1]},${rng.chance(0.5) ? m[1] : '"__metadata__":{"a":"b"}'},${text.slice(1)}`;
    how.push('duplicate key');
  } else if (r < 0.16) {
    text = text.replace(/"\w+":/, (s) => `${s}${' '.repeat(rng.few(8))}`) + ' '.repeat(rng.few(8)) + rng.pick(['', '\u0000', ' ', '\t']);
    how.push('padded header');
  } else if (r < 0.2) {
    text = rng.pick(['\ufeff', ' ', '\n']) + text;
    how.push('header prefixed');
  }
  let header: Uint8Array = utf8(text);
  if (rng.chance(0.1)) {
    [header] = byteMutations(header, rng, [], undefined, rng.few(2));
    how.push('header text mutated');
  }
  const n = BigInt(header.length);
  let declared = n;
  if (rng.chance(0.12)) {
    declared = rng.pick([0n, 1n, 2n, n - 1n, n + 1n, n + BigInt(rng.few(64)), n - BigInt(rng.few(64)), 100n * 1024n * 1024n, 100n * 1024n * 1024n + 1n, 1n << 32n, (1n << 64n) - 1n, 1n << 53n, BigInt(header.length + st.data.length), BigInt(header.length + st.data.length + 1)]);
    how.push(`header length ${declared}`);
  }
  let data = st.data;
  if (rng.chance(0.1)) {
    const m = rng.int(data.length + 16);
    data = m <= data.length ? data.subarray(0, m) : concat([data, rng.bytes(m - data.length)]);
    how.push(`data ${m} bytes`);
  }
  return concat([u64(declared), header, data]);
}

function safetensorsInput(fx: Fixtures, rng: Rng): [Uint8Array, string] {
  let st: Safetensors;
  let base: string;
  if (rng.chance(0.75)) {
    st = readSafetensorsFixture(fx.safetensors);
    base = 'tensors.safetensors';
  } else {
    // From scratch: tensors of every dtype laid out in order.
    const header: Record<string, unknown> = {};
    let off = 0;
    for (let i = 0; i < rng.few(8); i++) {
      const dtype = rng.pick(['F32', 'F16', 'BF16', 'F64', 'I64', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'I32', 'U16']);
      const size = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, I32: 4, U16: 2 }[dtype]!;
      const shape = Array.from({ length: rng.int(4) }, () => rng.range(0, 6));
      const bytes = shape.reduce((a, b) => a * b, 1) * size;
      header[rng.chance(0.9) ? `blocks.${i}.attn.qkv.weight` : rng.pick(ST_KEYS)] = { dtype, shape, data_offsets: [off, off + bytes] };
      off += bytes;
    }
    if (rng.chance(0.5)) header.__metadata__ = { format: 'pt' };
    st = { header, data: rng.bytes(off) };
    base = 'built safetensors';
  }
  const how: string[] = [];
  const k = rng.chance(0.1) ? 0 : rng.few(3);
  for (let i = 0; i < k; i++) how.push(rng.weighted(ST_MUTATIONS)(st, rng));
  let bytes = writeSafetensors(st, rng, how);
  if (rng.chance(0.15) || how.length === 0) {
    const [b, h] = byteMutations(bytes, rng, fx.all, [0, 8 + readU32(bytes, 0)]);
    bytes = b;
    how.push(h);
  }
  return [bytes, `${base}: ${how.join('; ')}`];
}

// ---- ONNX (protobuf) ---------------------------------------------------------------------------

interface PbField {
  no: number;
  wire: number;
  /** varint (as bigint), fixed32/64 and length-delimited leaves as bytes, or a parsed sub-message. */
  v: bigint | Uint8Array | PbField[];
}

/** Which length-delimited fields are messages, per message type (onnx.proto). */
const PB_CHILDREN: Record<string, Record<number, string>> = {
  Model: { 7: 'Graph', 8: 'Opset', 14: 'StringEntry' },
  Graph: { 1: 'Node', 5: 'Tensor', 11: 'ValueInfo', 12: 'ValueInfo', 13: 'ValueInfo' },
  Node: { 5: 'Attribute' },
  Attribute: { 5: 'Tensor' },
  Tensor: { 13: 'StringEntry' },
  ValueInfo: { 2: 'Type' },
  Type: { 1: 'TensorType' },
  TensorType: { 2: 'Shape' },
  Shape: { 1: 'Dim' },
  Opset: {},
  StringEntry: {},
  Dim: {},
};

function readVarint(b: Uint8Array, pos: number): [bigint, number] | undefined {
  let v = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= b.length) return undefined;
    const byte = b[pos++];
    v |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return [v, pos];
    shift += 7n;
  }
  return undefined;
}

function parsePb(b: Uint8Array, type: string): PbField[] | undefined {
  const out: PbField[] = [];
  let pos = 0;
  while (pos < b.length) {
    const t = readVarint(b, pos);
    if (!t) return undefined;
    const [tag, p] = t;
    pos = p;
    const no = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const v = readVarint(b, pos);
      if (!v) return undefined;
      out.push({ no, wire, v: v[0] });
      pos = v[1];
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > b.length) return undefined;
      out.push({ no, wire, v: b.subarray(pos, pos + n) });
      pos += n;
    } else if (wire === 2) {
      const l = readVarint(b, pos);
      if (!l || l[1] + Number(l[0]) > b.length) return undefined;
      const body = b.subarray(l[1], l[1] + Number(l[0]));
      pos = l[1] + Number(l[0]);
      const child = PB_CHILDREN[type]?.[no];
      out.push({ no, wire, v: (child && parsePb(body, child)) || body });
    } else {
      return undefined;
    }
  }
  return out;
}

function varint(v: bigint): number[] {
  let x = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    let byte = Number(x & 0x7fn);
    x >>= 7n;
    if (x) byte |= 0x80;
    out.push(byte);
  } while (x);
  return out;
}

function writePb(fields: readonly PbField[]): Uint8Array {
  const parts: Array<Uint8Array | number[]> = [];
  for (const f of fields) {
    parts.push(varint(BigInt((f.no << 3) | f.wire)));
    if (typeof f.v === 'bigint') parts.push(varint(f.v));
    else {
      const body = Array.isArray(f.v) ? writePb(f.v) : f.v;
      if (f.wire === 2) parts.push(varint(BigInt(body.length)));
      parts.push(body);
    }
  }
  return concat(parts);
}

interface PbSite {
  list: PbField[];
  index: number;
  path: string;
}

/** Every field in the tree with the list that holds it. */
function pbSites(fields: PbField[], path = '', out: PbSite[] = []): PbSite[] {
  fields.forEach((f, index) => {
    const p = `${path}/${f.no}`;
    out.push({ list: fields, index, path: p });
    if (Array.isArray(f.v)) pbSites(f.v, p, out);
  });
  return out;
}

const entry = (k: string, v: string): PbField => ({ no: 13, wire: 2, v: [{ no: 1, wire: 2, v: utf8(k) }, { no: 2, wire: 2, v: utf8(v) }] });

type PbMutation = (model: PbField[], rng: Rng) => string;

function graphOf(model: PbField[]): PbField[] | undefined {
  const g = model.find((f) => f.no === 7 && Array.isArray(f.v));
  return g?.v as PbField[] | undefined;
}

const PB_MUTATIONS: ReadonlyArray<readonly [number, PbMutation]> = [
  [5, (model, rng) => {
    const sites = pbSites(model).filter((s) => typeof s.list[s.index].v === 'bigint');
    const s = rng.pick(sites);
    if (!s) return 'no varint';
    const old = s.list[s.index].v as bigint;
    const v = rng.chance(0.6) ? interesting(rng) : old + BigInt(rng.range(-3, 3));
    s.list[s.index] = { ...s.list[s.index], v };
    return `varint ${s.path} ${old} -> ${v}`;
  }],
  [4, (model, rng) => {
    const sites = pbSites(model).filter((s) => s.list[s.index].v instanceof Uint8Array && s.list[s.index].wire === 2);
    const s = rng.pick(sites);
    if (!s) return 'no bytes';
    const old = s.list[s.index].v as Uint8Array;
    const r = rng.float();
    const v =
      r < 0.3 ? old.subarray(0, rng.int(old.length + 1))
      : r < 0.5 ? concat([old, rng.bytes(rng.few(16))])
      : r < 0.8 ? utf8(rng.pick(STRINGS))
      : rng.bytes(rng.int(32));
    s.list[s.index] = { ...s.list[s.index], v };
    return `bytes ${s.path} (${old.length}) -> ${v.length} bytes`;
  }],
  [3, (model, rng) => {
    const sites = pbSites(model);
    const s = rng.pick(sites);
    if (!s) return 'nothing';
    const r = rng.float();
    if (r < 0.4) {
      s.list.splice(s.index, 1);
      return `field ${s.path} dropped`;
    }
    if (r < 0.8) {
      const f = s.list[s.index];
      const size = typeof f.v === 'bigint' ? 10 : f.v instanceof Uint8Array ? f.v.length : writePb(f.v).length;
      const times = Math.max(1, Math.min(rng.chance(0.1) ? rng.pick([1000, 10_000]) : rng.few(8), Math.floor((4 << 20) / (size + 1))));
      s.list.splice(s.index, 0, ...Array<PbField>(times).fill(s.list[s.index]));
      return `field ${s.path} repeated ${times} times`;
    }
    const t = rng.pick(sites.filter((x) => Array.isArray(x.list[x.index].v)));
    if (t) (t.list[t.index].v as PbField[]).push(s.list[s.index]);
    return `field ${s.path} copied into ${t?.path}`;
  }],
  [3, (model, rng) => {
    // An initializer made hostile: dims, type, location, external data.
    const tensors = pbSites(model).filter((s) => s.path.endsWith('/7/5') && Array.isArray(s.list[s.index].v));
    const s = rng.pick(tensors);
    if (!s) return 'no initializer';
    const t = s.list[s.index].v as PbField[];
    const r = rng.float();
    if (r < 0.3) {
      const dims = t.filter((f) => f.no !== 1);
      const n = rng.chance(0.1) ? rng.pick([65, 1000, 100_000]) : rng.int(5);
      for (let i = 0; i < n; i++) dims.unshift({ no: 1, wire: 0, v: rng.chance(0.6) ? BigInt(rng.range(0, 8)) : interesting(rng) });
      s.list[s.index] = { ...s.list[s.index], v: dims };
      return `initializer dims (${n})`;
    }
    if (r < 0.5) {
      t.push({ no: 2, wire: 0, v: rng.chance(0.7) ? BigInt(rng.range(0, 27)) : interesting(rng) });
      return 'initializer data_type';
    }
    const ext = [entry('location', rng.pick(['weights.bin', '../../etc/passwd', '/etc/passwd', '', 'x\u0000y', 'C:\\w.bin', '.']))];
    if (rng.chance(0.8)) ext.push(entry('offset', rng.pick(['0', '4096', '-1', '1e309', 'abc', '9007199254740993', ' 12', '0x10', ''])));
    if (rng.chance(0.8)) ext.push(entry('length', rng.pick(['0', '16', '-4', '1e309', 'abc', '9007199254740993', '4294967296', '3.5'])));
    if (rng.chance(0.3)) ext.push(entry(rng.pick(['checksum', 'location', '__proto__', 'constructor']), 'x'));
    const kept = t.filter((f) => (rng.chance(0.5) ? f.no !== 9 : true));
    kept.push(...ext, { no: 14, wire: 0, v: rng.chance(0.9) ? 1n : interesting(rng) });
    s.list[s.index] = { ...s.list[s.index], v: kept };
    return 'initializer external data';
  }],
  [1, (model, rng) => {
    const g = graphOf(model);
    if (!g) return 'no graph';
    const n = rng.pick([1000, 30_000, 100_000]);
    const name = utf8(n <= 1000 && rng.chance(0.5) ? 'x'.repeat(1000) : 'w');
    if (rng.chance(0.5)) {
      for (let i = 0; i < n; i++) g.push({ no: 5, wire: 2, v: [{ no: 1, wire: 0, v: 1n }, { no: 2, wire: 0, v: 1n }, { no: 8, wire: 2, v: utf8(`t${i}`) }, { no: 9, wire: 2, v: new Uint8Array(4) }] });
    } else {
      g.push({ no: 5, wire: 2, v: [{ no: 2, wire: 0, v: 1n }, { no: 8, wire: 2, v: name }, { no: 9, wire: 2, v: new Uint8Array(0) }] });
      // (a name of 1000 characters only with few references: 100,000 of them would be 100 MB)
      const inputs = Array.from({ length: Math.min(n, 20_000) }, (): PbField => ({ no: 1, wire: 2, v: name }));
      for (let i = 0; i < n / 100; i++) g.push({ no: 1, wire: 2, v: [...inputs.slice(0, 100), { no: 4, wire: 2, v: utf8('MatMul') }] });
      g.push({ no: 1, wire: 2, v: [...inputs, { no: 4, wire: 2, v: utf8('Add') }] });
    }
    return `${n} initializers or references added`;
  }],
  [1, (model, rng) => {
    const n = rng.pick([10, 10_000, 100_000]);
    const deep = utf8('{"a":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}');
    const values = ['{}', '{"hidden_size":1e309}', 'x', '[[[[[[[[[[]]]]]]]]]]', '{"hidden_size":-1,"depth":1e9}'].map(utf8);
    for (let i = 0; i < n; i++) {
      const key = utf8(rng.pick(['pmf', 'pmf_config', `k${i}`, '__proto__']));
      model.push({ no: 14, wire: 2, v: [{ no: 1, wire: 2, v: key }, { no: 2, wire: 2, v: i < 3 && rng.chance(0.3) ? deep : rng.pick(values) }] });
    }
    return `${n} metadata entries`;
  }],
  [1, (model, rng) => {
    // A wire type that does not match the field.
    const sites = pbSites(model);
    const s = rng.pick(sites);
    if (!s) return 'nothing';
    const f = s.list[s.index];
    const wire = rng.pick([0, 1, 2, 5]);
    s.list[s.index] = wire === 0 ? { no: f.no, wire, v: interesting(rng) } : wire === 2 ? { no: f.no, wire, v: rng.bytes(rng.int(16)) } : { no: f.no, wire, v: rng.bytes(wire === 1 ? 8 : 4) };
    return `field ${s.path} rewritten with wire type ${wire}`;
  }],
];

function onnxInput(fx: Fixtures, rng: Rng): [Uint8Array, string] {
  const base = rng.weighted(fx.onnx.map((o) => [o.weight, o] as const));
  const how: string[] = [];
  let bytes: Uint8Array;
  if (rng.chance(0.8)) {
    const model = parsePb(base.bytes, 'Model')!;
    const k = rng.few(3);
    for (let i = 0; i < k; i++) how.push(rng.weighted(PB_MUTATIONS)(model, rng));
    bytes = writePb(model);
    if (rng.chance(0.2)) {
      const [b, h] = byteMutations(bytes, rng, fx.all);
      bytes = b;
      how.push(h);
    }
  } else {
    const [b, h] = byteMutations(base.bytes, rng, fx.all);
    bytes = b;
    how.push(h);
  }
  return [bytes, `${base.name}: ${how.join('; ')}`];
}

// ---- legacy torch.save files and tar archives -------------------------------------------------

function tarHeader(name: string, size: string | Uint8Array, type = '0', checksumOk = true): Uint8Array {
  const h = new Uint8Array(512);
  h.set(latin1(name).subarray(0, 100), 0);
  h.set(latin1('0000644\0'), 100);
  h.set(typeof size === 'string' ? latin1(size).subarray(0, 12) : size.subarray(0, 12), 124);
  h.set(latin1('00000000000\0'), 136);
  h[156] = type.charCodeAt(0);
  h.set(latin1('ustar\u000000'), 257);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.set(latin1(`${(checksumOk ? sum : sum + 1).toString(8).padStart(6, '0')}\0 `), 148);
  return h;
}

function tarInput(rng: Rng): [Uint8Array, string] {
  const parts: Uint8Array[] = [];
  const names = ['sys_info', 'pickle', 'tensors', 'storages', 'x', 'storages/', 'a/../storages'];
  const members = rng.chance(0.05) ? 10_001 : rng.few(6);
  for (let i = 0; i < members; i++) {
    const size = members > 1000 ? 0 : rng.chance(0.8) ? rng.int(1200) : -1;
    const sizeField = size >= 0 ? `${size.toString(8).padStart(11, '0')}\0` : rng.pick<string | Uint8Array>(['777777777777', 'zz', '-1', Uint8Array.of(0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10), Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe), '1_0', ' 10 ']);
    parts.push(tarHeader(members > 1000 ? 'x' : rng.pick(names), sizeField, rng.chance(0.9) ? '0' : rng.pick(['x', 'g', 'L', 'K', '5', '\0']), rng.chance(0.95)));
    if (size > 0) parts.push(concat([hostilePickle(rng)[0], new Uint8Array(Math.ceil(size / 512) * 512)]).subarray(0, Math.ceil(size / 512) * 512));
  }
  if (rng.chance(0.7)) parts.push(new Uint8Array(1024));
  return [concat(parts), `tar archive of ${members} members`];
}

function legacyInput(fx: Fixtures, rng: Rng): [Uint8Array, string] {
  const r = rng.float();
  if (r < 0.08) return tarInput(rng);
  if (r < 0.2) {
    // A legacy file built from scratch: magic, version, sys info, a hostile object, its keys, storages.
    const magic = new PickleWriter().proto(2).int(rng.chance(0.9) ? 0x1950a86a20f9469cfc6cn : interesting(rng)).stop().bytes();
    const version = new PickleWriter().proto(2).value(rng.chance(0.9) ? 1001 : rng.pick([1000, -1, 'x', null, 2 ** 40])).stop().bytes();
    const sys = new PickleWriter().proto(2).op(0x7d).str('little_endian').op(rng.chance(0.8) ? 0x88 : 0x89).op(0x73).stop().bytes();
    const obj = hostileStateDict(rng, { legacy: true });
    const keys = new PickleWriter().proto(2).value({ list: ['0', '1', '2', '3'].slice(0, rng.int(5)) }).stop().bytes();
    const storages: number[] = [];
    for (let i = 0; i < rng.int(5); i++) {
      const n = rng.chance(0.8) ? rng.int(32) : Number(BigInt.asIntN(53, interesting(rng)));
      storages.push(...u64(n), ...rng.bytes(Math.max(0, Math.min(256, n * 4))));
    }
    return [concat([magic, version, sys, obj, keys, storages]), 'legacy file of a hostile state dict'];
  }
  // The fixture: one of its five pickles mutated, or the storages, or bytes.
  const b = fx.legacy;
  const bounds: number[] = [0];
  for (let i = 0; i < 5; i++) bounds.push(parsePickle(b, bounds[i]).end);
  const which = rng.int(6);
  if (which < 5 && rng.chance(0.8)) {
    const piece = b.subarray(bounds[which], bounds[which + 1]);
    const [m, how] = rng.chance(0.9) ? mutatePickle(piece, rng) : hostilePickle(rng);
    return [concat([b.subarray(0, bounds[which]), m, b.subarray(bounds[which + 1])]), `legacy.pt pickle ${which}: ${how}`];
  }
  if (which === 5 && rng.chance(0.7)) {
    const out = Uint8Array.from(b);
    const at = bounds[5] + 8 * rng.int(Math.max(1, (b.length - bounds[5]) / 8));
    writeInt(out, at, 8, interesting(rng));
    return [out, `legacy.pt storage field at ${at}`];
  }
  const [m, how] = byteMutations(b, rng, fx.all, [0, bounds[5]]);
  return [m, `legacy.pt: ${how}`];
}

// ---- fixtures and the dispatcher -------------------------------------------------------------

export interface Fixtures {
  onnx: Array<{ name: string; bytes: Uint8Array; weight: number }>;
  safetensors: Uint8Array;
  zips: Array<{ name: string; entries: ZipEntry[]; bytes: Uint8Array }>;
  scripted: { name: string; entries: ZipEntry[]; bytes: Uint8Array };
  legacy: Uint8Array;
  pickles: Array<{ name: string; bytes: Uint8Array }>;
  /** Every fixture's bytes, for splices. */
  all: Uint8Array[];
  /** A pickle of `mb` MB of MARK / POP_MARK pairs, deflated (computed once per size). */
  bomb(mb: number): { stored: Uint8Array; size: number };
}

export function loadFixtures(repo: string): Fixtures {
  const cp = (n: string) => new Uint8Array(readFileSync(join(repo, 'test', 'fixtures', 'checkpoints', n)));
  const zip = (n: string) => ({ name: n, bytes: cp(n), entries: readZip(cp(n)) });
  const onnx = [
    { name: 'official-tiny.onnx', bytes: cp('official-tiny.onnx'), weight: 10 },
    { name: 'image-no-cfg.onnx', bytes: new Uint8Array(readFileSync(join(repo, 'test', 'fixtures', 'models', 'image-no-cfg.onnx'))), weight: 6 },
  ];
  try {
    onnx.push({ name: 'fashion-mnist/model.onnx', bytes: new Uint8Array(readFileSync(join(repo, 'models', 'fashion-mnist', 'model.onnx'))), weight: 0.3 });
  } catch {
    // the bundled model is optional here: its mutations are 2 % of the ONNX inputs
  }
  const zips = ['pmfdit.pt', 'training.pt', 'views.pt', 'malicious.pt', 'official-tiny.pt'].map(zip);
  const bombs = new Map<number, { stored: Uint8Array; size: number }>();
  const bomb = (mb: number) => {
    let b = bombs.get(mb);
    if (!b) {
      const p = new Uint8Array(mb << 20);
      p[0] = 0x80;
      p[1] = 2;
      for (let i = 2; i < p.length - 2; i += 2) {
        p[i] = 0x28;
        p[i + 1] = 0x31;
      }
      p[p.length - 2] = 0x4e;
      p[p.length - 1] = 0x2e;
      b = { stored: new Uint8Array(deflateRawSync(p, { level: 9 })), size: p.length };
      bombs.set(mb, b);
    }
    return b;
  };
  const fx: Fixtures = {
    onnx,
    safetensors: cp('tensors.safetensors'),
    zips,
    scripted: zip('scripted.pt'),
    legacy: cp('legacy.pt'),
    pickles: [{ name: 'numpy.pkl', bytes: cp('numpy.pkl') }, ...zips.slice(0, 3).map((z) => ({ name: `${z.name}/data.pkl`, bytes: z.entries.find((e) => nameOf(e).endsWith('data.pkl'))!.data }))],
    all: [],
    bomb,
  };
  fx.all = [...onnx.slice(0, 2).map((o) => o.bytes), fx.safetensors, ...zips.map((z) => z.bytes), fx.scripted.bytes, fx.legacy, cp('numpy.pkl'), cp('truncated.pt')];
  return fx;
}

/** Input `index` of `format` under `seed`: always the same bytes. */
export function makeInput(fx: Fixtures, format: Format, seed: number, index: number): FuzzInput {
  const rng = new Rng(inputSeed(seed, format, index));
  let bytes: Uint8Array;
  let how: string;
  switch (format) {
    case 'onnx':
      [bytes, how] = onnxInput(fx, rng);
      break;
    case 'safetensors':
      [bytes, how] = safetensorsInput(fx, rng);
      break;
    case 'pytorch-zip': {
      const r = rng.float();
      if (r < 0.15) [bytes, how] = hostileZip(fx, rng, false);
      else if (r < 0.2) {
        const [b, h] = byteMutations(fx.all[fx.all.length - 1], rng, fx.all);
        [bytes, how] = [b, `truncated.pt: ${h}`];
      } else if (r < 0.3) {
        const z = rng.pick(fx.zips);
        const [b, h] = byteMutations(z.bytes, rng, fx.all);
        [bytes, how] = [b, `${z.name}: ${h}`];
      } else [bytes, how] = mutateZip(fx, rng.pick(fx.zips), rng);
      break;
    }
    case 'torchscript':
      if (rng.chance(0.15)) [bytes, how] = hostileZip(fx, rng, true);
      else if (rng.chance(0.1)) {
        const [b, h] = byteMutations(fx.scripted.bytes, rng, fx.all);
        [bytes, how] = [b, `scripted.pt: ${h}`];
      } else [bytes, how] = mutateZip(fx, fx.scripted, rng);
      break;
    case 'pytorch-legacy':
      [bytes, how] = legacyInput(fx, rng);
      break;
    case 'pickle': {
      const r = rng.float();
      if (r < 0.4) [bytes, how] = hostilePickle(rng);
      else {
        const p = rng.pick(fx.pickles);
        const [b, h] = r < 0.9 ? mutatePickle(p.bytes, rng) : byteMutations(p.bytes, rng, fx.all);
        [bytes, how] = [b, `${p.name}: ${h}`];
      }
      break;
    }
  }
  return { bytes, how };
}
