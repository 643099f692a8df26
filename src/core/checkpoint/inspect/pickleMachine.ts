// The pickle virtual machine, written here rather than taken from a library because it is the
// checkpoint gate's ground truth and must hold three properties no pickle library for JavaScript
// promises:
//   1. It never stops before CPython's _pickle would. The gate's verdict rests on every global
//      the Python unpickler would reach; stopping early on an input CPython reads on (an integer
//      written as '0x1f', an odd string escape, a call on something we cannot model) would let
//      whatever follows slip past. So it stops only where CPython certainly stops (an unknown
//      opcode, the end of the data, stack or mark underflow, a memo miss, PROTO > 5, STOP) and
//      elsewhere carries on with a placeholder value. Going on past a CPython error can only add
//      findings, never hide one.
//   2. Linear cost in its input: shared values are references (GET pushes the object, it never
//      copies), containers receive each item once, integers beyond MAX_INT_BYTES are not decoded,
//      and every operation and moved item counts against a work budget with a deadline.
//   3. It runs nothing: every global, persistent id and extension code goes to the caller's
//      resolvers, which return inert stand-ins (safeUnpickler.ts).
// Opcode semantics follow CPython's Modules/_pickle.c (load_*) and Lib/pickletools.py.
// One piece: the opcode table is one switch, which splitting would only scatter.

/** Work units of an opcode that allocates a container or a call record (a plain opcode costs 1): memory stays near 100 bytes per unit. */
const ALLOCATES = 3;

/** Integers longer than this (in bytes, or in digits for the text forms) are not decoded. */
export const MAX_INT_BYTES = 1024;

/** An integer too long to decode (a LONG4 of a megabyte); CPython would decode it, so reading goes on. */
export class BigIntPlaceholder {
  constructor(readonly byteLength: number) {}
}

/** A value this machine cannot know without running Python (an integer it could not parse, ...). */
export class Unknown {
  constructor(readonly why: string) {}
}

export interface PickleHooks {
  /** GLOBAL, STACK_GLOBAL and INST: the object for module.name (never imported: a stand-in). */
  global(module: string, name: string): unknown;
  /** PERSID and BINPERSID. */
  persistent(pid: unknown): unknown;
  /** EXT1, EXT2, EXT4: a copyreg extension code. */
  extension(code: number): unknown;
  /** Something a Python load would do that no state dict needs (BUILD on a class, a computed global, ...). */
  hazard(message: string): void;
  /** BUILD: apply `state` to `inst`; the default calls inst.__setstate__ when it has one. */
  build?(inst: unknown, state: unknown): void;
}

export interface PickleBudget {
  /** Operations plus items moved into containers, at most. */
  work: number;
  /** Date.now() after which reading stops. */
  deadline: number;
}

export type PickleStop = 'truncated' | 'invalid' | 'budget';

/** Why a pickle could not be read to its STOP, and where (offset of the opcode). */
export class PickleError extends Error {
  constructor(readonly kind: PickleStop, message: string, readonly offset: number) {
    super(message);
    this.name = 'PickleError';
  }
}

export interface PickleResult {
  value: unknown;
  /** The PROTO opcode's version, 0 when there is none (protocols 0 and 1). */
  protocol: number;
  /** Offset just past the STOP opcode. */
  end: number;
}

const textDecoder = new TextDecoder('utf-8');
const latin1Decoder = new TextDecoder('latin1');

/**
 * Runs one pickle from `start` to its STOP. Throws PickleError where CPython would stop (or the
 * budget runs out); the hooks have then seen everything the pickle referenced up to that point.
 */
export function runPickle(bytes: Uint8Array, start: number, hooks: PickleHooks, budget: PickleBudget): PickleResult {
  let pos = start;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let protocol = 0;
  let op = start;
  let ops = 0;

  const fail = (kind: PickleStop, what: string): never => {
    throw new PickleError(kind, `${what} (opcode 0x${(bytes[op] ?? 0).toString(16).padStart(2, '0')} at byte ${op})`, op);
  };
  const need = (n: number) => {
    if (n > bytes.length - pos) fail('truncated', 'the pickle ends in the middle of an opcode');
  };
  const u8 = () => {
    need(1);
    return bytes[pos++];
  };
  const uint = (n: 2 | 4 | 8): number => {
    need(n);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + bytes[pos + i];
    pos += n;
    return v;
  };
  const int32 = () => {
    const v = uint(4);
    return v >= 2 ** 31 ? v - 2 ** 32 : v;
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const b = bytes.subarray(pos, pos + n);
    pos += n;
    charge(n >>> 12);
    return b;
  };
  const line = (): Uint8Array => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) fail('truncated', 'the pickle ends before the end of a text line');
    const b = bytes.subarray(pos, nl);
    pos = nl + 1;
    charge(b.length >>> 12);
    return b;
  };
  const charge = (n: number) => {
    budget.work -= n;
    if (budget.work < 0) fail('budget', 'the pickle needs more work than any checkpoint does');
  };
  const pop = (): unknown => {
    if (!stack.length) fail('invalid', 'unpickling stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (!stack.length) fail('invalid', 'unpickling stack underflow');
    return stack[stack.length - 1];
  };
  /** The items since the last MARK, which is removed. */
  const popMark = (): unknown[] => {
    const items = stack;
    const outer = metastack.pop();
    if (!outer) fail('invalid', 'no MARK before this opcode');
    stack = outer!;
    charge(items.length);
    return items;
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) fail('invalid', `memo key ${i} was never stored`);
    stack.push(memo.get(i));
  };
  const memoPut = (i: number) => {
    if (i < 0) fail('invalid', 'negative PUT argument');
    memo.set(i, top());
  };

  for (;;) {
    op = pos;
    if (++ops > 0xffff) {
      ops = 0;
      if (Date.now() > budget.deadline) fail('budget', 'the pickle takes longer to read than the time allowed');
    }
    charge(1);
    const code = u8();
    switch (code) {
      case 0x80: { // PROTO
        protocol = u8();
        if (protocol > 5) fail('invalid', `unsupported pickle protocol ${protocol}`);
        break;
      }
      case 0x95: // FRAME: a hint for buffered reading; the data is read in place either way
        uint(8);
        break;
      case 0x2e: // STOP
        return { value: pop(), protocol, end: pos };
      case 0x28: // MARK
        charge(ALLOCATES);
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP: the top item, or the mark when nothing lies above it
        if (stack.length) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;

      // ---- numbers
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(uint(2)); break; // BININT2
      case 0x4a: stack.push(int32()); break; // BININT
      case 0x49: { // INT (text)
        const s = latin1Decoder.decode(line());
        stack.push(s === '00' ? false : s === '01' ? true : cInt(s));
        break;
      }
      case 0x4c: // LONG (text, 'L' suffix from Python 2)
        stack.push(pyInt(latin1Decoder.decode(line()).replace(/L$/, '')));
        break;
      case 0x8a: // LONG1
        stack.push(twosComplement(take(u8())));
        break;
      case 0x8b: { // LONG4
        const n = int32();
        if (n < 0) fail('invalid', 'LONG4 with a negative byte count');
        stack.push(twosComplement(take(n)));
        break;
      }
      case 0x46: { // FLOAT (text)
        const s = latin1Decoder.decode(line()).trim().replace(/_/g, '');
        const v = /^[-+]?(inf(inity)?|nan)$/i.test(s) ? (s.toLowerCase().includes('nan') ? NaN : s.startsWith('-') ? -Infinity : Infinity) : Number(s);
        stack.push(Number.isNaN(v) && !/nan/i.test(s) ? new Unknown(`float '${s.slice(0, 40)}'`) : v);
        break;
      }
      case 0x47: { // BINFLOAT (big-endian double)
        const b = take(8);
        stack.push(new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false));
        break;
      }

      // ---- strings and bytes
      case 0x53: // STRING: a quoted Python 2 str literal; torch.load decodes str as UTF-8
        stack.push(quotedString(line()));
        break;
      case 0x54: { // BINSTRING
        const n = int32();
        if (n < 0) fail('invalid', 'BINSTRING with a negative length');
        stack.push(textDecoder.decode(take(n)));
        break;
      }
      case 0x55: stack.push(textDecoder.decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x56: stack.push(rawUnicodeEscape(line())); break; // UNICODE (raw-unicode-escape)
      case 0x58: stack.push(textDecoder.decode(take(uint(4)))); break; // BINUNICODE
      case 0x8c: stack.push(textDecoder.decode(take(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(textDecoder.decode(take(uint(8)))); break; // BINUNICODE8
      case 0x42: stack.push(take(uint(4))); break; // BINBYTES
      case 0x43: stack.push(take(u8())); break; // SHORT_BINBYTES
      case 0x8e: stack.push(take(uint(8))); break; // BINBYTES8
      case 0x96: stack.push(take(uint(8))); break; // BYTEARRAY8
      case 0x97: // NEXT_BUFFER: torch.load passes no out-of-band buffers, so CPython stops here
        fail('invalid', 'the pickle refers to out-of-band buffers');
        break;
      case 0x98: // READONLY_BUFFER
        top();
        break;

      // ---- containers
      case 0x5d: charge(ALLOCATES); stack.push([]); break; // EMPTY_LIST
      case 0x29: charge(ALLOCATES); stack.push([]); break; // EMPTY_TUPLE
      case 0x7d: charge(ALLOCATES); stack.push(new Map()); break; // EMPTY_DICT
      case 0x8f: charge(ALLOCATES); stack.push([]); break; // EMPTY_SET (sets are read as lists)
      case 0x6c: // LIST
      case 0x74: // TUPLE
      case 0x91: { // FROZENSET
        const items = popMark(); // (before `stack.`, which popMark replaces)
        stack.push(items);
        break;
      }
      case 0x85: charge(ALLOCATES); stack.push([pop()]); break; // TUPLE1
      case 0x86: { // TUPLE2
        charge(ALLOCATES);
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: { // TUPLE3
        charge(ALLOCATES);
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        const list = top();
        if (Array.isArray(list)) list.push(v);
        break;
      }
      case 0x65: // APPENDS
      case 0x90: { // ADDITEMS
        const items = popMark();
        const list = top();
        if (Array.isArray(list)) for (const v of items) list.push(v);
        break;
      }
      case 0x64: { // DICT
        const items = popMark();
        const d = new Map<unknown, unknown>();
        for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        const d = top();
        if (d instanceof Map) d.set(k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        const d = top();
        if (d instanceof Map) for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
        break;
      }

      // ---- memo
      case 0x67: memoGet(lineInt(line())); break; // GET
      case 0x68: memoGet(u8()); break; // BINGET
      case 0x6a: memoGet(uint(4)); break; // LONG_BINGET
      case 0x70: memoPut(lineInt(line())); break; // PUT
      case 0x71: memoPut(u8()); break; // BINPUT
      case 0x72: memoPut(uint(4)); break; // LONG_BINPUT
      case 0x94: memoPut(memo.size); break; // MEMOIZE

      // ---- objects: globals, calls, state
      case 0x63: { // GLOBAL: module and name on two text lines
        const module = textDecoder.decode(line());
        const nl = bytes.indexOf(0x0a, pos);
        // CPython imports the module before it looks the name up: a file that ends here still imports it.
        if (nl < 0) hooks.global(module, textDecoder.decode(bytes.subarray(pos)));
        stack.push(hooks.global(module, textDecoder.decode(line())));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module === 'string' && typeof name === 'string') stack.push(hooks.global(module, name));
        else {
          hooks.hazard('a global whose module or name is computed while loading (STACK_GLOBAL on values that are not plain strings): what it imports cannot be known without running the load');
          stack.push(new Unknown('computed global'));
        }
        break;
      }
      case 0x69: { // INST: module and name lines, arguments since the mark
        const module = textDecoder.decode(line());
        const cls = hooks.global(module, textDecoder.decode(line()));
        const args = popMark();
        stack.push(instantiate(cls, args));
        break;
      }
      case 0x6f: { // OBJ: class and arguments since the mark
        const items = popMark();
        if (!items.length) fail('invalid', 'OBJ without a class');
        stack.push(instantiate(items[0], items.slice(1)));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(instantiate(cls, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        pop(); // kwargs
        const args = pop();
        const cls = pop();
        stack.push(instantiate(cls, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x52: { // REDUCE
        charge(ALLOCATES);
        const args = pop();
        const f = pop();
        stack.push(call(f, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const inst = top();
        if (hooks.build) hooks.build(inst, state);
        else defaultBuild(inst, state);
        break;
      }
      case 0x50: // PERSID
        stack.push(hooks.persistent(latin1Decoder.decode(line())));
        break;
      case 0x51: // BINPERSID
        stack.push(hooks.persistent(pop()));
        break;
      case 0x82: stack.push(extension(u8())); break; // EXT1
      case 0x83: stack.push(extension(uint(2))); break; // EXT2
      case 0x84: stack.push(extension(int32())); break; // EXT4
      default:
        fail('invalid', 'not a pickle opcode');
    }
  }

  function extension(c: number): unknown {
    if (c <= 0) fail('invalid', 'extension code <= 0');
    return hooks.extension(c);
  }
}

function call(f: unknown, args: unknown[]): unknown {
  // A stand-in records the call; anything else (CPython raises on most) becomes an unknown value.
  return typeof f === 'function' ? (f as (...a: unknown[]) => unknown)(...args) : new Unknown('call of a value that is not a global');
}

function instantiate(cls: unknown, args: unknown[]): unknown {
  return typeof cls === 'function' ? new (cls as new (...a: unknown[]) => unknown)(...args) : new Unknown('instance of a value that is not a global');
}

function defaultBuild(inst: unknown, state: unknown): void {
  const setstate = (inst as { __setstate__?: unknown } | null)?.__setstate__;
  if (typeof setstate === 'function') (setstate as (s: unknown) => void).call(inst, state);
}

/** Two's-complement little-endian bytes (LONG1, LONG4) as a number or bigint. */
function twosComplement(b: Uint8Array): number | bigint | BigIntPlaceholder {
  if (b.length === 0) return 0;
  if (b.length > MAX_INT_BYTES) return new BigIntPlaceholder(b.length);
  let hex = '';
  for (let i = b.length - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, '0');
  let v = BigInt(`0x${hex}`);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return toNumber(v);
}

/**
 * INT's argument as _pickle.c reads it: C's strtol(s, 0) first (so a leading 0 means octal:
 * '01751' is 1001), and when that fails or overflows, Python's int(s, 0).
 */
function cInt(s: string): number | bigint | BigIntPlaceholder | Unknown {
  const m = /^[ \t\n\v\f\r]*([-+]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (m && s.length < 64) {
    const digits = m[2];
    let v = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits[0] === '0' ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
    if (m[1] === '-') v = -v;
    if (v >= -(2n ** 63n) && v < 2n ** 63n) return toNumber(v);
  }
  return pyInt(s);
}

/** int(s, 0) as Python reads LONG lines: signs, 0x/0o/0b prefixes, underscores, surrounding spaces. */
function pyInt(s: string): number | bigint | BigIntPlaceholder | Unknown {
  if (s.length > MAX_INT_BYTES * 3) return new BigIntPlaceholder(s.length);
  const m = /^\s*([-+]?)(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|0(?:_?0)*|[1-9](?:_?[0-9])*)\s*$/.exec(s);
  if (!m) return new Unknown(`integer '${s.slice(0, 40)}'`);
  let v = BigInt(m[2].replace(/_/g, ''));
  if (m[1] === '-') v = -v;
  return toNumber(v);
}

function toNumber(v: bigint): number | bigint {
  return Number.isSafeInteger(Number(v)) ? Number(v) : v;
}

/** The argument of PUT and GET lines, int(s, 10) as _pickle.c reads it; -1 when it is none. */
function lineInt(b: Uint8Array): number {
  const m = /^\s*\+?([0-9](?:_?[0-9])*)\s*$/.exec(latin1Decoder.decode(b));
  const v = m ? Number(m[1].replace(/_/g, '')) : -1;
  return Number.isSafeInteger(v) ? v : -1;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' };

/** STRING's argument: a repr()'d Python 2 str ('...' or "..."), escapes decoded, the bytes read as UTF-8. */
function quotedString(b: Uint8Array): string | Unknown {
  const s = latin1Decoder.decode(b);
  const q = s[0];
  if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) return new Unknown('STRING argument not quoted');
  const body = s.slice(1, -1);
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\' || i + 1 >= body.length) {
      out.push(c.charCodeAt(0) & 0xff);
      continue;
    }
    const e = body[++i];
    if (e in SIMPLE_ESCAPES) for (const ch of SIMPLE_ESCAPES[e]) out.push(ch.charCodeAt(0));
    else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      out.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (/[0-7]/.test(e)) {
      const oct = /^[0-7]{1,3}/.exec(body.slice(i))![0];
      out.push(parseInt(oct, 8) & 0xff);
      i += oct.length - 1;
    } else out.push(0x5c, e.charCodeAt(0) & 0xff);
  }
  return textDecoder.decode(Uint8Array.from(out));
}

/** UNICODE's argument: raw-unicode-escape (only \uXXXX and \UXXXXXXXX are escapes). */
function rawUnicodeEscape(b: Uint8Array): string {
  return latin1Decoder.decode(b).replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (m, u4: string | undefined, u8: string | undefined) => {
    const cp = parseInt(u4 ?? u8 ?? '', 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
  });
}

/** Work units for a file at most, whatever its size: 16M is hundreds of times what a checkpoint's pickles take (a B/16 state dict about 9k operations) and holds memory to a few hundred MB. */
export const MAX_WORK = 16_000_000;

/** A budget for reading `bytes` bytes of pickles: linear in their size, capped, with a wall-clock deadline. */
export function pickleBudget(bytes: number, ms: number): PickleBudget {
  return { work: Math.min(2_000_000 + 16 * bytes, MAX_WORK), deadline: Date.now() + ms };
}
