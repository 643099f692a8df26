// Reads a Python pickle without running it. pickleMachine.ts interprets the opcodes; every global
// the pickle names (GLOBAL, STACK_GLOBAL, INST) goes through our name resolver, which records it
// and returns a stand-in. Only a handful of stand-ins do anything, and only with data: the tensor
// rebuilders build a TensorRef, OrderedDict builds a Map, torch.Size a list. Every other global
// (os.system included) becomes an inert "opaque" function that, when the pickle calls it, just
// records the call: its arguments, and any state a later BUILD sets. No Python and no code from
// the file runs; the result is a tree of plain values that the caller walks.
import { PickleError, runPickle, type PickleBudget } from './pickleMachine';
import { TORCH_DTYPES, TORCH_STORAGE_DTYPES } from './dtypes';
import type { PickleGlobal } from './types';

/** A storage of a torch.save file: persistent id ('storage', type, key, location, numel[, view]). */
export class StorageRef {
  constructor(
    readonly key: string,
    /** Element type from the storage class (FloatStorage -> float32); 'uint8' for UntypedStorage. */
    readonly dtype: string | undefined,
    readonly typeName: string,
    readonly location: string,
    /** Elements (bytes for an untyped storage). */
    readonly numel: number,
    /** Set by pre-1.0 legacy files for storage views: (root key, offset, size). */
    readonly view?: unknown,
  ) {}
}

/** A tensor rebuilt by torch._utils._rebuild_tensor[_v2|_v3]: a strided view of a storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
    /** _rebuild_tensor_v3 names the dtype itself (the storage may be untyped). */
    readonly dtypeOverride?: string,
  ) {}

  get dtype(): string {
    return this.dtypeOverride ?? this.storage.dtype ?? 'unknown';
  }

  /** Tensors are never rebuilt from BUILD state; ignore it rather than let it touch the object. */
  __setstate__(): void {}
}

/** What an inert stand-in stands for. */
export type Opaque =
  | { kind: 'global'; module: string; name: string }
  | { kind: 'call' | 'new'; callee: Opaque; args: unknown[]; state?: unknown }
  | { kind: 'persistent'; pid: unknown }
  | { kind: 'extension'; code: number };

const OPAQUE = new WeakMap<object, Opaque>();
/** Stand-ins that build data (tensor rebuilders, OrderedDict, ...), as opposed to inert ones. */
const BUILDERS = new WeakSet();

/** The description of a stand-in, or undefined for plain values. */
export function opaqueInfo(v: unknown): Opaque | undefined {
  return typeof v === 'function' ? OPAQUE.get(v) : undefined;
}

/** The global a stand-in's call was made to: os.system for os.system('...'), numpy.dtype for numpy.dtype('f4'). */
export function calleeGlobal(info: Opaque | undefined): { module: string; name: string } | undefined {
  while (info && (info.kind === 'call' || info.kind === 'new')) info = info.callee;
  return info?.kind === 'global' ? info : undefined;
}

/**
 * An inert stand-in: callable (REDUCE), constructible (NEWOBJ, OBJ, INST) and BUILD-able, each of
 * which returns or records another description, never anything that acts.
 */
function opaque(info: Opaque): (...args: unknown[]) => unknown {
  const f = function (this: unknown, ...args: unknown[]): unknown {
    return opaque({ kind: new.target ? 'new' : 'call', callee: info, args });
  };
  Object.defineProperty(f, '__setstate__', {
    value: (state: unknown) => {
      if (info.kind === 'call' || info.kind === 'new') info.state = state;
    },
  });
  OPAQUE.set(f, info);
  return f;
}

// ---- the allowlist ------------------------------------------------------------------------------

// Every entry and the reason for it: docs/pickle-allowlist.md. Names are matched exactly (a name
// with dots reaches an attribute of the global in protocol 4, so it is another global).
const TORCH_REBUILDERS = new Set([
  '_rebuild_tensor', '_rebuild_tensor_v2', '_rebuild_tensor_v3', '_rebuild_parameter', '_rebuild_parameter_with_state',
  '_rebuild_qtensor', '_rebuild_sparse_tensor', '_rebuild_meta_tensor_no_storage', '_rebuild_nested_tensor',
  '_rebuild_wrapper_subclass', '_rebuild_device_tensor_from_numpy', '_rebuild_device_tensor_from_cpu_tensor',
]);
const TORCH_MISC = new Set([
  'Size', 'device', 'strided', 'sparse_coo', 'sparse_csr', 'sparse_csc', 'sparse_bsr', 'sparse_bsc', '_mkldnn',
  'contiguous_format', 'channels_last', 'channels_last_3d', 'preserve_format',
  'per_tensor_affine', 'per_channel_affine', 'per_tensor_symmetric', 'per_channel_symmetric', 'per_channel_affine_float_qparams',
  'UntypedStorage', 'TypedStorage', 'Tensor',
]);
const BUILTINS = new Set(['set', 'frozenset', 'slice', 'bytearray', 'complex', 'bytes', 'int', 'float', 'str', 'bool', 'list', 'tuple', 'dict']);
/** numpy's array, scalar and dtype constructors, under numpy 1.x (numpy.core) and 2.x (numpy._core) names. */
const NUMPY_DATA = new Set([
  'numpy.ndarray', 'numpy.dtype',
  'numpy.core.multiarray._reconstruct', 'numpy._core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar', 'numpy._core.multiarray.scalar',
  'numpy.core.numeric._frombuffer', 'numpy._core.numeric._frombuffer',
  'numpy.random._pickle.__randomstate_ctor', 'numpy.random._pickle.__generator_ctor', 'numpy.random._pickle.__bit_generator_ctor',
]);

export type GlobalClass = 'allowed' | 'numpy' | 'torchscript' | 'unsafe';

const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/**
 * allowed: what a PyTorch state dict legitimately references and torch.load(weights_only=True)
 * accepts (tensor rebuilders, storages, dtypes, OrderedDict, ...). numpy: numpy's own array,
 * scalar and dtype constructors (data, not code, but weights_only loading refuses them unless
 * allowed). torchscript: TorchScript classes (__torch__.*), compiled from the archive's code/ by
 * torch.jit.load. unsafe: anything else, numpy's other functions included.
 */
export function classifyGlobal(module: string, name: string): GlobalClass {
  if (module === 'torch._utils' && TORCH_REBUILDERS.has(name)) return 'allowed';
  if (module === 'torch._tensor' && name === '_rebuild_from_type_v2') return 'allowed';
  if (module === 'torch' && (own(TORCH_STORAGE_DTYPES, name) || own(TORCH_DTYPES, name) || TORCH_MISC.has(name))) return 'allowed';
  if (module === 'torch.storage' && (name === 'UntypedStorage' || name === 'TypedStorage')) return 'allowed';
  if (module === 'torch.nn.parameter' && name === 'Parameter') return 'allowed';
  if (module === 'torch.serialization' && name === '_get_layout') return 'allowed';
  if (module === 'collections' && (name === 'OrderedDict' || name === 'Counter')) return 'allowed';
  if ((module === 'builtins' || module === '__builtin__') && BUILTINS.has(name)) return 'allowed';
  if (module === '_codecs' && name === 'encode') return 'allowed';
  if (NUMPY_DATA.has(`${module}.${name}`) || (module === 'numpy.dtypes' && /^[A-Za-z0-9]+DType$/.test(name))) return 'numpy';
  if (module === '__torch__' || module.startsWith('__torch__.')) return 'torchscript';
  return 'unsafe';
}

/** What some well-known dangerous globals do, for the finding that names them. */
const KNOWN_UNSAFE: Readonly<Record<string, string>> = {
  'posix.system': 'os.system: runs a shell command',
  'nt.system': 'os.system: runs a shell command',
  'os.system': 'runs a shell command',
  'os.popen': 'runs a shell command',
  'os.execv': 'replaces the process with a program',
  'os.remove': 'deletes a file',
  'os.unlink': 'deletes a file',
  'shutil.rmtree': 'deletes a folder tree',
  'subprocess.Popen': 'runs a program',
  'subprocess.run': 'runs a program',
  'subprocess.call': 'runs a program',
  'subprocess.check_output': 'runs a program',
  'subprocess.check_call': 'runs a program',
  'builtins.eval': 'evaluates Python code',
  'builtins.exec': 'executes Python code',
  'builtins.compile': 'compiles Python code',
  'builtins.__import__': 'imports any module',
  'builtins.getattr': 'reaches any attribute, e.g. a module function',
  'builtins.open': 'opens a file',
  'runpy._run_code': 'executes Python code',
  'runpy.run_path': 'runs a Python file',
  'runpy.run_module': 'runs a Python module',
  'importlib.import_module': 'imports any module',
  'webbrowser.open': 'opens a URL',
  'pty.spawn': 'runs a program',
  'numpy.testing._private.utils.runstring': 'executes a string as Python code',
  'numpy.load': 'loads another file, pickles included',
  'torch.load': 'loads another file with its own pickles',
  'torch.storage._load_from_bytes': 'loads nested torch.save bytes with weights_only=False, unchecked',
  'builtins.setattr': 'changes an attribute of any object',
  'operator.attrgetter': 'reaches any attribute, e.g. a module function',
  'operator.methodcaller': 'calls any method',
};

export function describeUnsafe(module: string, name: string): string | undefined {
  return KNOWN_UNSAFE[`${module === '__builtin__' ? 'builtins' : module}.${name}`];
}

// ---- unpickling ---------------------------------------------------------------------------------

/** Globals seen across one file's pickles, each once, in order of first use, and hazards besides. */
export class GlobalLog {
  readonly list: Array<PickleGlobal & { class: GlobalClass }> = [];
  /** Things a Python load would do that no state dict needs, each once. */
  readonly hazards: string[] = [];
  private readonly seen = new Set<string>();

  add(module: string, name: string): void {
    const key = `${module}\n${name}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const cls = classifyGlobal(module, name);
    this.list.push({ module, name, allowed: cls === 'allowed', class: cls });
  }

  hazard(message: string): void {
    if (!this.hazards.includes(message) && this.hazards.length < 32) this.hazards.push(message);
  }

}

export interface UnpickleOptions {
  /** Where the pickle starts in `bytes` (several pickles may follow each other, as in legacy torch.save files). */
  start?: number;
  log: GlobalLog;
  /** Storages by key, shared by the pickles of one file. */
  storages?: Map<string, StorageRef>;
  /** Work and time for the whole file, shared by its pickles. */
  budget: PickleBudget;
}

export interface Unpickled {
  value: unknown;
  /** The PROTO opcode's version, 0 when there is none (protocols 0 and 1). */
  protocol: number;
  /** Offset just past the STOP opcode. */
  end: number;
}

/**
 * Parses one pickle; throws pickleMachine's PickleError on malformed or truncated input, after
 * `log` has seen every global the pickle referenced before that point.
 */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): Unpickled {
  const storages = opts.storages ?? new Map<string, StorageRef>();
  return runPickle(bytes, opts.start ?? 0, {
    global: (module, name) => {
      opts.log.add(module, name);
      return standIn(module, name, opts.budget);
    },
    persistent: (pid) => persistent(pid, storages),
    extension: (code) => {
      opts.log.add('copyreg', `extension ${code}`);
      return opaque({ kind: 'extension', code });
    },
    hazard: (m) => opts.log.hazard(m),
    build: (inst, state) => {
      const g = opaqueInfo(inst);
      if (g?.kind === 'global') {
        opts.log.hazard(`BUILD on the global ${g.module}.${g.name} itself: a Python load would set attributes of that class or function`);
        return;
      }
      if (inst instanceof Map || Array.isArray(inst)) return; // a dict's attributes (OrderedDict._metadata) are not its items
      const setstate = (inst as { __setstate__?: unknown } | null)?.__setstate__;
      if (typeof setstate === 'function') (setstate as (s: unknown) => void).call(inst, state);
    },
  }, opts.budget);
}

/** The stand-in for a global: a data-only builder for the few that build data, else an inert opaque. */
function standIn(module: string, name: string, budget: PickleBudget): (...args: unknown[]) => unknown {
  const info: Opaque = { kind: 'global', module, name };
  const build = builder(module, name, budget);
  if (!build) return opaque(info);
  // A builder called as a function or a constructor returns its value; JavaScript keeps a returned
  // object from a constructor call, so `new` works too.
  const f = function (...args: unknown[]): unknown {
    return build(args) ?? opaque({ kind: 'call', callee: info, args });
  };
  OPAQUE.set(f, info);
  BUILDERS.add(f);
  return f;
}

type Builder = (args: unknown[]) => unknown;

/** Builders that read a list charge its length to the budget: a pickle can pass one shared list to a million calls. */
function builder(module: string, name: string, budget: PickleBudget): Builder | undefined {
  const charge = (n: number) => {
    budget.work -= n;
    if (budget.work < 0) throw new PickleError('budget', 'the pickle needs more work than any checkpoint does', -1);
  };
  if (module === 'torch._utils') {
    switch (name) {
      case '_rebuild_tensor':
      case '_rebuild_tensor_v2':
        return (a) => tensorRef(a[0], a[1], a[2], a[3]);
      case '_rebuild_tensor_v3': // (storage, offset, size, stride, requires_grad, hooks, dtype, metadata)
        return (a) => tensorRef(a[0], a[1], a[2], a[3], dtypeOf(a[6]));
      case '_rebuild_parameter':
      case '_rebuild_parameter_with_state':
        return (a) => (a[0] instanceof TensorRef ? a[0] : undefined);
    }
    return undefined;
  }
  if (module === 'torch._tensor' && name === '_rebuild_from_type_v2') {
    // (func, new_type, args, state): a tensor subclass; rebuild the tensor with func when it is ours.
    return (a) => {
      const [func, , args] = a;
      if (typeof func !== 'function' || !Array.isArray(args) || !isBuilder(func)) return undefined;
      const t = (func as (...x: unknown[]) => unknown)(...(args as unknown[]));
      return t instanceof TensorRef ? t : undefined;
    };
  }
  const full = `${module}.${name}`;
  switch (full) {
    case 'collections.OrderedDict':
      return (a) => {
        const m = new Map<unknown, unknown>();
        if (Array.isArray(a[0])) {
          charge(a[0].length);
          for (const p of a[0]) if (Array.isArray(p) && p.length === 2) m.set(p[0], p[1]);
        }
        return m;
      };
    // torch.Size and sets read as the list itself (no copy: the list may be shared by many calls).
    case 'torch.Size':
    case 'builtins.set':
    case 'builtins.frozenset':
    case '__builtin__.set':
    case '__builtin__.frozenset':
      return (a) => (Array.isArray(a[0]) ? (a[0] as unknown[]) : []);
    case '_codecs.encode': // protocol 2 pickles bytes as _codecs.encode(text, 'latin1')
      return (a) => {
        if (typeof a[0] !== 'string') return undefined;
        charge(a[0].length >>> 4);
        return latin1(a[0]);
      };
    case 'builtins.bytearray':
    case '__builtin__.bytearray':
      return (a) => {
        if (typeof a[0] === 'string') charge(a[0].length >>> 4);
        return a[0] instanceof Uint8Array ? a[0] : typeof a[0] === 'string' ? latin1(a[0]) : new Uint8Array(0);
      };
  }
  return undefined;
}

function isBuilder(f: object): boolean {
  return BUILDERS.has(f);
}

function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
}

function toInt(v: unknown): number | undefined {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : undefined;
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : typeof v === 'boolean' ? Number(v) : undefined;
}

/** More dimensions than any tensor has: a list this long is no shape (and could be shared by many calls). */
const MAX_DIMS = 64;

function intList(v: unknown): number[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_DIMS) return undefined;
  const out = v.map(toInt);
  return out.every((x): x is number => x !== undefined && x >= 0) ? out : undefined;
}

function tensorRef(storage: unknown, offset: unknown, size: unknown, stride: unknown, dtype?: string): TensorRef | undefined {
  const off = toInt(offset);
  const shape = intList(size);
  const strides = intList(stride);
  if (!(storage instanceof StorageRef) || off === undefined || off < 0 || !shape || !strides) return undefined;
  return new TensorRef(storage, off, shape, strides, dtype);
}

/** torch.float32 and its aliases (a stand-in) -> 'float32'. */
function dtypeOf(v: unknown): string | undefined {
  const g = calleeGlobal(opaqueInfo(v));
  return g && g.module === 'torch' ? TORCH_DTYPES[g.name] : undefined;
}

function persistent(pid: unknown, storages: Map<string, StorageRef>): unknown {
  if (Array.isArray(pid) && pid[0] === 'storage' && pid.length >= 5) {
    const [, type, key, location, numel, view] = pid as unknown[];
    const g = calleeGlobal(opaqueInfo(type));
    const n = toInt(numel);
    if (g && (typeof key === 'string' || typeof key === 'number') && n !== undefined && n >= 0) {
      const k = String(key);
      const known = storages.get(k);
      if (known) return known;
      const dtype =
        g.name in TORCH_STORAGE_DTYPES ? TORCH_STORAGE_DTYPES[g.name]
        : g.name === 'UntypedStorage' ? 'uint8'
        : g.module === 'torch' ? TORCH_DTYPES[g.name]
        : undefined;
      const ref = new StorageRef(k, dtype, `${g.module}.${g.name}`, typeof location === 'string' ? location : '', n, view ?? undefined);
      storages.set(k, ref);
      return ref;
    }
  }
  return opaque({ kind: 'persistent', pid });
}
