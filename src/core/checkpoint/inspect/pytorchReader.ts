// PyTorch checkpoints, read without unpickling them in Python:
//   zip:         torch.save since PyTorch 1.6: <folder>/data.pkl (the object, tensors as persistent
//                references to storages) and <folder>/data/<key> (each storage's raw bytes, stored);
//   torchscript: torch.jit.save: the same layout plus code/ and constants.pkl;
//   legacy:      older torch.save: consecutive pickles (magic number, protocol 1001, system info,
//                the object, the list of storage keys), then each storage as an int64 element count
//                followed by its bytes. A file that is just a pickle is read as one object.
// Tensors point into the file where their bytes lie, so statistics can stream them in place.
import { truncatedError } from './byteSource';
import { itemSize, isContiguous, product } from './dtypes';
import { tarVerdict } from './legacyTar';
import { PickleError, type PickleBudget } from './pickleMachine';
import type { ReaderResult } from './readerResult';
import { describeUnsafe, GlobalLog, StorageRef, TensorRef, unpickle, type Unpickled } from './safeUnpickler';
import { describe, findTensors, MAX_NAMES_PER_TENSOR, NdArray, type FoundTensors } from './tensorTree';
import { InspectError, type ByteSource, type Finding, type PickleDetails, type TensorEntry } from './types';
import { openTorchArchive, type ZipEntryLike } from './zipArchive';

const MAX_PICKLE_BYTES = 1 << 30;
/** torch.serialization.MAGIC_NUMBER and PROTOCOL_VERSION: the first two pickles of a legacy file. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;

type Layout = PickleDetails['layout'];

/** Where each storage's bytes begin in the file (absolute offset), or why they cannot be read in place. */
type StorageData = { offset: number; byteLength: number; bigEndian?: boolean } | { note: string };

// ---- zip and TorchScript archives ---------------------------------------------------------------

export async function readPytorchZip(source: ByteSource, fileName: string, budget: PickleBudget): Promise<ReaderResult> {
  const archive = await openTorchArchive(source, fileName);
  const { prefix } = archive;
  const pkl = archive.get(`${prefix}data.pkl`);
  if (!pkl) {
    const names = archive.entries.slice(0, 5).map((e) => e.name).join(', ');
    throw new InspectError(
      'unsupported',
      `${fileName} is a ZIP archive but not a PyTorch checkpoint: it has no ${prefix}data.pkl ` +
        `(it holds ${archive.entries.length} entr${archive.entries.length === 1 ? 'y' : 'ies'}: ${names}${archive.entries.length > 5 ? ', ...' : ''}).`,
    );
  }
  const layout: Layout = archive.entries.some((e) => e.name.toLowerCase().startsWith(`${prefix}code/`.toLowerCase())) || archive.get(`${prefix}constants.pkl`) ? 'torchscript' : 'zip';
  const byteorder = archive.get(`${prefix}byteorder`);
  const bigEndian = byteorder ? new TextDecoder().decode(await entryBytes(byteorder, fileName)).trim() === 'big' : false;

  const log = new GlobalLog();
  const main = await readEntryPickle(pkl, log, new Map(), fileName, budget);
  // Every other pickle in the archive is checked too, whether or not torch.load reads it.
  const constantsEntry = archive.get(`${prefix}constants.pkl`);
  const constants = constantsEntry ? await readEntryPickle(constantsEntry, log, new Map(), fileName, budget) : undefined;
  for (const e of archive.entries) {
    if (e !== pkl && e !== constantsEntry && /\.pkl$/i.test(e.name)) await readEntryPickle(e, log, new Map(), fileName, budget);
  }
  if (!('value' in main)) throw pickleError(main.error, pkl.name, fileName, log, true);
  const found = findTensors(main.value, fileName);

  /** Where storage `key` of an archive folder lies. */
  const storageData = async (folder: string, s: StorageRef): Promise<StorageData> => {
    const entry = archive.get(`${prefix}${folder}/${s.key}`);
    if (!entry) return { note: `its storage ${folder}/${s.key} is missing from the archive` };
    if (entry.compressionMethod !== 0) return { note: 'its storage is compressed in the archive: statistics need it stored' };
    return { offset: await archive.dataStart(entry), byteLength: entry.size, bigEndian };
  };

  const tensors = await tensorEntries(found, main, pkl.compressionMethod === 0 ? await archive.dataStart(pkl) : undefined, (s) =>
    storageData('data', s),
  );
  if (constants) {
    if (!('value' in constants)) throw pickleError(constants.error, constantsEntry!.name, fileName, log, true);
    // Constants of the scripted code (tensors it uses that are not parameters), stored under constants/.
    const c = findTensors(constants.value, fileName);
    for (const t of await tensorEntries(c, constants, undefined, (s) => storageData('constants', s))) {
      tensors.push({ ...t, name: `constants.${t.name}` });
    }
  }
  return summarise(layout, main.protocol, found, tensors, log, fileName);
}

/** One pickle of an archive: its value, or the error that stopped it (the log keeps what it referenced). */
async function readEntryPickle(
  entry: ZipEntryLike,
  log: GlobalLog,
  storages: Map<string, StorageRef>,
  fileName: string,
  budget: PickleBudget,
): Promise<(Unpickled & { bytes: Uint8Array }) | { error: unknown }> {
  if (entry.size > MAX_PICKLE_BYTES) {
    throw new InspectError('too-large', `${fileName}: its ${entry.name} is ${entry.size} bytes; pickles over 1 GB are not read.`);
  }
  const bytes = await entryBytes(entry, fileName);
  try {
    return { ...unpickle(bytes, { log, storages, budget }), bytes };
  } catch (e) {
    return { error: e };
  }
}

/** An entry's bytes, decompressed; damaged data is an InspectError that names the entry. */
async function entryBytes(entry: ZipEntryLike, fileName: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await entry.arrayBuffer());
  } catch {
    throw new InspectError('corrupt', `${fileName}: its entry ${entry.name} cannot be decompressed (its data is damaged or its size is wrong). Download or copy it again.`);
  }
}

// ---- legacy torch.save files and plain pickles --------------------------------------------------

/**
 * What torch.load unpickles from a file that is not a ZIP archive, read in the same order and
 * with the same checks: the tar format of PyTorch before 0.4 (refused: pMF Lab does not read it);
 * else a first pickle, which must be the magic number for torch.load to read on (else the file
 * is a plain pickle, of which torch.load has already run that one), the protocol version, the
 * system info, the object itself and the list of storage keys. Every global any of them
 * references is in `log`, including those before an error.
 */
export interface TorchPickles {
  log: GlobalLog;
  /** 'tar': a pre-0.4 tar checkpoint; 'plain': one pickle, not torch.save's; 'legacy': torch.save's sequence. */
  kind: 'tar' | 'plain' | 'legacy' | 'none';
  /** The pickles read, in order (for 'legacy': magic, version, system info, object, storage keys). */
  pickles: Unpickled[];
  bytes: Uint8Array;
  storages: Map<string, StorageRef>;
  /** Why reading stopped before the sequence was complete. */
  error?: PickleError;
  /** The tar verdict said 'tar-no-storages': torch.load fails on it before unpickling anything. */
  tarWithoutStorages?: boolean;
}

export async function readTorchPickles(source: ByteSource, budget: PickleBudget): Promise<TorchPickles> {
  const tar = await tarVerdict(source);
  if (tar === 'tar-checkpoint') return { log: new GlobalLog(), kind: 'tar', pickles: [], bytes: new Uint8Array(0), storages: new Map() };
  if (tar === 'tar-no-storages') return { log: new GlobalLog(), kind: 'none', pickles: [], bytes: new Uint8Array(0), storages: new Map(), tarWithoutStorages: true };
  // The pickles come first; read a growing prefix of the file until they parse.
  let length = Math.min(source.size, 1 << 20);
  for (;;) {
    // Each attempt reads from the start: it gets the whole work budget (the deadline is shared).
    const attempt = { ...budget };
    const r = readPickleSequence(await source.read(0, length), attempt);
    const more = r.error?.kind === 'truncated' && length < source.size && length < MAX_PICKLE_BYTES;
    if (!more) {
      budget.work = attempt.work;
      return r;
    }
    length = Math.min(source.size, length * 4, MAX_PICKLE_BYTES);
  }
}

/** A value that is certainly not `expected` (so torch.load stops there); a value we cannot know is not. */
function surelyNot(v: unknown, expected: bigint | number): boolean {
  if (typeof v === 'number') return !Number.isInteger(v) || BigInt(v) !== BigInt(expected);
  if (typeof v === 'bigint') return v !== BigInt(expected);
  return v === null || typeof v === 'string' || typeof v === 'boolean' || v instanceof Map || Array.isArray(v) || v instanceof Uint8Array;
}

function readPickleSequence(bytes: Uint8Array, budget: PickleBudget): TorchPickles {
  const log = new GlobalLog();
  const storages = new Map<string, StorageRef>();
  const out: TorchPickles = { log, kind: 'none', pickles: [], bytes, storages };
  try {
    const next = (withStorages = false) => {
      const start = out.pickles.length ? out.pickles[out.pickles.length - 1].end : 0;
      const p = unpickle(bytes, { start, log, budget, ...(withStorages ? { storages } : {}) });
      out.pickles.push(p);
      return p;
    };
    const magic = next(true);
    out.kind = 'plain';
    if (surelyNot(magic.value, LEGACY_MAGIC)) return out;
    // A first value we cannot know (a call's result) is almost surely not the magic number, but
    // reading on costs nothing: if the next bytes are no pickle, the file is a plain pickle.
    const certain = magic.value === LEGACY_MAGIC;
    if (certain) out.kind = 'legacy';
    try {
      const version = next();
      if (surelyNot(version.value, LEGACY_PROTOCOL_VERSION)) {
        if (!certain) return { ...out, pickles: out.pickles.slice(0, 1) };
        throw new PickleError('invalid', `legacy torch.save protocol version ${describe(version.value)}, expected ${LEGACY_PROTOCOL_VERSION}`, magic.end);
      }
      out.kind = 'legacy';
      next(); // system info
      next(true); // the object
      next(); // the storage keys
    } catch (e) {
      if (certain || !(e instanceof PickleError) || e.kind === 'budget') throw e;
      out.kind = 'plain';
      out.pickles = out.pickles.slice(0, 1);
    }
  } catch (e) {
    if (!(e instanceof PickleError)) throw e;
    out.error = e;
  }
  return out;
}

/** A ReaderResult for a plain pickle or a legacy torch.save file whose pickles were all read. */
export async function readPickleFile(source: ByteSource, fileName: string, read: TorchPickles): Promise<ReaderResult> {
  const { log, pickles, bytes, storages } = read;
  if (read.error) throw pickleError(read.error, read.kind === 'plain' ? 'its pickle' : 'its pickled data', fileName, log);
  if (read.kind === 'plain') {
    const obj = pickles[0];
    const found = findTensors(obj.value, fileName);
    const tensors = await tensorEntries(found, { ...obj, bytes }, 0, async () => ({
      note: 'a plain pickle refers to storages it does not hold',
    }));
    const result = summarise('legacy', obj.protocol, found, tensors, log, fileName);
    result.findings.push({
      severity: 'warning',
      message: 'A plain Python pickle, not a file written by torch.save: whatever it holds, loading it in Python unpickles it.',
    });
    return result;
  }

  const [, , sysInfo, obj, keys] = pickles;
  const bigEndian = sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false;
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string' || typeof k === 'number')) {
    throw new InspectError('corrupt', `${fileName}: the list of storage keys of this legacy torch.save file is missing or malformed. Download or copy it again.`);
  }

  // The storages follow in the order of the keys: an int64 element count, then the elements.
  const where = new Map<string, StorageData>();
  let pos = keys.end;
  let stop: string | undefined;
  for (const key of keys.value.map(String)) {
    const s = storages.get(key);
    const size = s?.dtype ? itemSize(s.dtype) : undefined;
    if (stop) where.set(key, { note: stop });
    else if (!s || size === undefined) {
      stop = `the bytes of storage ${key}${s ? ` (${s.dtype ?? s.typeName})` : ''} have no known size, so the storages after it cannot be located`;
      where.set(key, { note: stop });
    } else if (pos + 8 > source.size) {
      stop = 'truncated';
    } else {
      const head = await source.read(pos, 8);
      const v = new DataView(head.buffer, head.byteOffset, 8);
      const count = v.getUint32(0, true) + v.getUint32(4, true) * 2 ** 32;
      if (count !== s.numel) {
        stop = `storage ${key} declares ${count} elements where the pickle says ${s.numel}: the storage layout is not understood`;
        where.set(key, { note: stop });
      } else if (pos + 8 + count * size > source.size) {
        stop = 'truncated';
      } else {
        where.set(key, { offset: pos + 8, byteLength: count * size, bigEndian });
        pos += 8 + count * size;
      }
    }
    if (stop === 'truncated') {
      throw truncatedError(fileName, `it ends in the middle of its tensor data (storage ${key})`);
    }
  }
  const found = findTensors(obj.value, fileName);
  const tensors = await tensorEntries(found, { ...obj, bytes }, 0, async (s) => where.get(s.key) ?? { note: `storage ${s.key} is not in the file` });
  const result = summarise('legacy', obj.protocol, found, tensors, log, fileName);
  result.findings.push({ severity: 'info', message: 'Saved in the legacy torch.save format (PyTorch before 1.6, or _use_new_zipfile_serialization=False).' });
  return result;
}

// ---- tensors and findings -----------------------------------------------------------------------

/**
 * Entries for the tensors found: dtype, shape and, where possible, the absolute offset of their bytes.
 * `pickleBase` is the file offset of the pickle's first byte when the pickle lies in the file as is
 * (numpy arrays keep their bytes inside the pickle).
 */
async function tensorEntries(
  found: FoundTensors,
  pickle: Unpickled & { bytes: Uint8Array },
  pickleBase: number | undefined,
  storageData: (s: StorageRef) => Promise<StorageData>,
): Promise<TensorEntry[]> {
  const cache = new Map<StorageRef, StorageData>();
  const out: TensorEntry[] = [];
  for (const { name, leaf } of found.tensors) {
    const base: TensorEntry = { name, dtype: leaf.dtype, shape: leaf.shape, numel: product(leaf.shape) };
    if (leaf instanceof NdArray) {
      out.push(ndArrayEntry(base, leaf, pickle.bytes, pickleBase));
      continue;
    }
    let where = cache.get(leaf.storage);
    if (!where) {
      where = await storageData(leaf.storage);
      cache.set(leaf.storage, where);
    }
    out.push(torchTensorEntry(base, leaf, where));
  }
  return out;
}

function torchTensorEntry(base: TensorEntry, t: TensorRef, where: StorageData): TensorEntry {
  const size = itemSize(t.dtype);
  if (t.storage.view !== undefined) return { ...base, note: 'a view into another storage (pre-1.0 legacy format): not located' };
  if ('note' in where) return { ...base, note: where.note };
  if (where.bigEndian) return { ...base, note: 'stored big-endian: statistics read little-endian data only' };
  if (size === undefined) return { ...base, note: `no byte layout known for ${t.dtype}` };
  if (!isContiguous(t.shape, t.stride)) {
    return {
      ...base,
      note: `non-contiguous (strides [${t.stride.join(', ')}]): a strided view of its storage; ` +
        'statistics need its elements in order',
    };
  }
  const byteLength = base.numel * size;
  const start = t.storageOffset * size;
  if (start + byteLength > where.byteLength) {
    return { ...base, note: `its storage has ${where.byteLength} bytes, too few for offset ${t.storageOffset} and ${base.numel} elements` };
  }
  return { ...base, data: { offset: where.offset + start, byteLength } };
}

function ndArrayEntry(base: TensorEntry, a: NdArray, pickle: Uint8Array, pickleBase: number | undefined): TensorEntry {
  const size = itemSize(a.dtype);
  if (!a.data) return { ...base, note: 'numpy array whose bytes the pickle holds as text (protocol 2): not located' };
  if (a.fortran && a.shape.length > 1) return { ...base, note: 'numpy array in Fortran order: statistics need C order' };
  if (a.bigEndian) return { ...base, note: 'stored big-endian: statistics read little-endian data only' };
  if (size === undefined || a.data.length !== base.numel * size) return { ...base, note: `numpy ${a.dtype} data of unexpected size` };
  if (pickleBase === undefined || a.data.buffer !== pickle.buffer) return { ...base, note: 'its bytes lie in a compressed pickle' };
  return { ...base, data: { offset: pickleBase + a.data.byteOffset - pickle.byteOffset, byteLength: a.data.length } };
}

function summarise(
  layout: Layout,
  protocol: number,
  found: FoundTensors,
  tensors: TensorEntry[],
  log: GlobalLog,
  fileName: string,
): ReaderResult {
  const findings: Finding[] = dangerFindings(log, layout);
  const scriptClasses = log.list.filter((g) => g.class === 'torchscript' && layout === 'torchscript').map((g) => `${g.module}.${g.name}`);
  const numpy = log.list.filter((g) => g.class === 'numpy').map((g) => `${g.module}.${g.name}`);
  if (numpy.length) {
    findings.push({
      severity: 'warning',
      message: `numpy globals (${numpy.join(', ')}): numpy's own data constructors, not code from the file, but ` +
        'torch.load(weights_only=True) refuses them unless allowed with torch.serialization.add_safe_globals, and ' +
        'loading this file with torch.load(weights_only=False) would call them; pMF Lab only parsed them, nothing ran.',
    });
  }
  if (layout === 'torchscript') {
    // Code from the file runs: torch.load hands the archive to torch.jit.load, which compiles code/ and runs its classes' __setstate__ while loading.
    findings.push({
      severity: 'danger',
      message: 'A TorchScript archive: torch.load passes it to torch.jit.load, which compiles the program in its code/ folder' +
        `${scriptClasses.length ? ` (classes ${scriptClasses.slice(0, 4).join(', ')}${scriptClasses.length > 4 ? ', ...' : ''})` : ''} ` +
        "and runs its __setstate__ methods while loading; torch.load(weights_only=True) refuses it. pMF Lab only read its data; " +
        'load it only if you trust its source.',
    });
  }
  if (!tensors.length) findings.push({ severity: 'warning', message: `${fileName} holds no tensors that pMF Lab could find.` });
  findings.push(...containerFindings(found));
  const pickle: PickleDetails = {
    layout,
    protocol,
    globals: log.list.map(({ module, name, allowed }) => ({ module, name, allowed })),
    tensorPath: found.path,
    topLevel: found.topLevel,
  };
  return { format: 'pytorch', tensors, metadata: found.metadata, findings, pickle };
}

/** Training checkpoints: optimizer state, EMA copies and other tensors beside the listed weights. */
function containerFindings(found: FoundTensors): Finding[] {
  const out: Finding[] = [];
  if (found.namesDropped) {
    out.push({
      severity: 'warning',
      message: `${found.namesDropped} more names of tensors already listed under ${MAX_NAMES_PER_TENSOR} names are not listed ` +
        '(tied weights have two or three; this many is unusual).',
    });
  }
  const keys = Object.keys(found.topLevel);
  const where = found.path ? `'${found.path}'` : 'the top level';
  const optimizer = keys.filter((k) => /optim/i.test(k) && !/^(int|str|float|bool|None)/.test(found.topLevel[k]));
  const ema = keys.filter((k) => /(^|_)ema($|_)/i.test(k) && / tensors?\)$/.test(found.topLevel[k]));
  if (optimizer.length) {
    out.push({
      severity: 'info',
      message: `Also holds optimizer state (${optimizer.map((k) => `'${k}'`).join(', ')}): a training checkpoint. ` +
        `The tensors listed are the weights at ${where}.`,
    });
  }
  if (ema.length) {
    out.push({
      severity: 'info',
      message: `Also holds EMA weights (${ema.map((k) => `'${k}': ${found.topLevel[k]}`).join(', ')}), not listed; the tensors listed are at ${where}.`,
    });
  }
  if (!optimizer.length && !ema.length && found.outside > 0) {
    out.push({ severity: 'info', message: `${found.outside} more tensor${found.outside > 1 ? 's' : ''} outside ${where} ${found.outside > 1 ? 'are' : 'is'} not listed.` });
  }
  return out;
}

/**
 * A pickle the machine could not read to its end, as an InspectError; when what it read before
 * that references code a Python load would run, the error is 'dangerous' and carries those findings.
 */
export function pickleError(e: unknown, what: string, fileName: string, log: GlobalLog, whole = false): InspectError {
  if (!(e instanceof PickleError)) return e instanceof InspectError ? e : new InspectError('corrupt', `${fileName}: ${what} cannot be read (${String(e)}).`);
  const danger = dangerFindings(log, 'zip');
  const base =
    // A pickle whose bytes are known to be whole (a ZIP entry of the size its directory gives) that ends early is broken, not cut off.
    e.kind === 'truncated' && !whole
      ? truncatedError(fileName, `${what} is cut off (${e.message})`)
      : e.kind === 'budget'
        ? new InspectError('budget', `${fileName}: reading ${what} was stopped: ${e.message}. A checkpoint does not need this much; the file looks built to exhaust readers.`)
        : new InspectError('corrupt', `${fileName}: ${what} is not a readable pickle (${e.message}). Download or copy it again.`);
  if (!danger.length) return base;
  return new InspectError(
    'dangerous',
    `${fileName}: a Python load would run code from it (see DANGER) before it fails; do not load it. ` +
      `Besides, ${base.message.startsWith(fileName) ? base.message.slice(fileName.length).replace(/^[: ]+/, '') : base.message}`,
    danger,
  );
}

/** Danger findings for the unsafe globals and constructs in `log` (TorchScript classes count only outside an archive of TorchScript). */
export function dangerFindings(log: GlobalLog, layout: Layout): Finding[] {
  const after = 'loading this file with torch.load(weights_only=False) would call it; pMF Lab only parsed it, nothing ran.';
  const out: Finding[] = [];
  for (const g of log.list) {
    if (g.class === 'allowed' || g.class === 'numpy' || (g.class === 'torchscript' && layout === 'torchscript')) continue;
    const full = `${g.module}.${g.name}`;
    const what = describeUnsafe(g.module, g.name);
    out.push({
      severity: 'danger',
      message: `Unsafe global ${full}${what ? ` (${what})` : ''}: it is not part of a PyTorch state dict; ${after} ` +
        'torch.load(weights_only=True), the default since PyTorch 2.6, refuses it.',
    });
  }
  for (const h of log.hazards) out.push({ severity: 'danger', message: `Unsafe construct: ${h}; pMF Lab only parsed it, nothing ran.` });
  return out;
}
