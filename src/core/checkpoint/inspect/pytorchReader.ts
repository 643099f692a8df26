// PyTorch checkpoints, read without unpickling them in Python:
//   zip:         torch.save since PyTorch 1.6: <folder>/data.pkl (the object, tensors as persistent
//                references to storages) and <folder>/data/<key> (each storage's raw bytes, stored);
//   torchscript: torch.jit.save: the same layout plus code/ and constants.pkl;
//   legacy:      older torch.save: consecutive pickles (magic number, protocol 1001, system info,
//                the object, the list of storage keys), then each storage as an int64 element count
//                followed by its bytes. A file that is just a pickle is read as one object.
// Tensors point into the file where their bytes lie, so statistics can stream them in place.
import { plainView, readRange } from './byteSource';
import { isContiguous, itemSize, product } from './dtypes';
import type { ReaderResult } from './readerResult';
import { describeUnsafe, GlobalLog, StorageRef, TensorRef, unpickle, type Unpickled } from './safeUnpickler';
import { findTensors, NdArray, type FoundTensors } from './tensorTree';
import { InspectError, type ByteSource, type Finding, type PickleDetails, type TensorEntry } from './types';

const MAX_PICKLE_BYTES = 1 << 30;
/** The first pickle of a legacy torch.save file: the magic number 0x1950a86a20f9469cfc6c (protocol 2). */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];
const LEGACY_PROTOCOL_VERSION = 1001;

type Layout = PickleDetails['layout'];

/** Where each storage's bytes begin in the file (absolute offset), or why they cannot be read in place. */
type StorageData = { offset: number; byteLength: number; bigEndian?: boolean } | { note: string };

// ---- zip and TorchScript archives ---------------------------------------------------------------

interface ZipEntryLike {
  name: string;
  size: number;
  compressionMethod: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export async function readPytorchZip(source: ByteSource, fileName: string): Promise<ReaderResult> {
  const { unzipRaw } = await import('unzipit');
  let entries: ZipEntryLike[];
  try {
    entries = (
      await unzipRaw({
        getLength: async () => source.size,
        // unzipit copies stored entries with slice(): the view must be a plain Uint8Array (ByteSource's contract).
        read: async (offset: number, length: number) => plainView(await source.read(offset, length)) as Uint8Array<ArrayBuffer>,
      })
    ).entries;
  } catch (e) {
    const msg = (e as Error).message;
    if (e instanceof RangeError || /end of central directory|past the end|short read/i.test(msg)) {
      throw new InspectError(
        'truncated',
        `${fileName} is an incomplete ZIP archive: its table of contents (central directory) is missing or cut off. ` +
          'The file is truncated (an interrupted download or copy?).',
      );
    }
    throw new InspectError('corrupt', `${fileName} starts like a ZIP archive but cannot be read as one (${msg}).`);
  }

  const pkl = entries
    .filter((e) => /(^|\/)data\.pkl$/.test(e.name))
    .sort((a, b) => a.name.split('/').length - b.name.split('/').length)[0];
  if (!pkl) {
    const names = entries.slice(0, 5).map((e) => e.name).join(', ');
    throw new InspectError(
      'unsupported',
      `${fileName} is a ZIP archive but not a PyTorch checkpoint: it has no data.pkl ` +
        `(it holds ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}${names ? `: ${names}${entries.length > 5 ? ', ...' : ''}` : ''}).`,
    );
  }
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const layout: Layout = entries.some((e) => e.name.startsWith(`${prefix}code/`)) || byName.has(`${prefix}constants.pkl`) ? 'torchscript' : 'zip';
  const locator = new LocalHeaders(source, fileName);

  const byteorder = byName.get(`${prefix}byteorder`);
  const bigEndian = byteorder ? new TextDecoder().decode(await byteorder.arrayBuffer()).trim() === 'big' : false;

  const log = new GlobalLog();
  const storages = new Map<string, StorageRef>();
  const main = await readEntryPickle(pkl, locator, log, storages, fileName);
  const found = findTensors(main.value, fileName);

  /** Where storage `key` of an archive folder lies. */
  const storageData = async (folder: string, s: StorageRef): Promise<StorageData> => {
    const entry = byName.get(`${prefix}${folder}/${s.key}`);
    if (!entry) return { note: `its storage ${folder}/${s.key} is missing from the archive` };
    if (entry.compressionMethod !== 0) return { note: 'its storage is compressed in the archive: statistics need it stored' };
    return { offset: await locator.dataStart(entry), byteLength: entry.size, bigEndian };
  };

  const tensors = await tensorEntries(found, main, pkl.compressionMethod === 0 ? await locator.dataStart(pkl) : undefined, (s) =>
    storageData('data', s),
  );
  if (layout === 'torchscript' && byName.has(`${prefix}constants.pkl`)) {
    // Constants of the scripted code (tensors it uses that are not parameters), stored under constants/.
    const constants = await readEntryPickle(byName.get(`${prefix}constants.pkl`)!, locator, log, new Map(), fileName);
    const c = findTensors(constants.value, fileName);
    for (const t of await tensorEntries(c, constants, undefined, (s) => storageData('constants', s))) {
      tensors.push({ ...t, name: `constants.${t.name}` });
    }
  }
  return summarise(layout, main.protocol, found, tensors, log, fileName);
}

/** Offsets of entries' data, from their local file headers (their extra fields may differ from the central directory's). */
class LocalHeaders {
  private readonly cache = new Map<string, number>();

  constructor(private readonly source: ByteSource, private readonly fileName: string) {}

  async dataStart(entry: ZipEntryLike): Promise<number> {
    const known = this.cache.get(entry.name);
    if (known !== undefined) return known;
    // unzipit keeps the local header's offset in the entry's raw central-directory record.
    const raw = (entry as unknown as { _rawEntry?: { relativeOffsetOfLocalHeader?: unknown } })._rawEntry;
    const at = raw?.relativeOffsetOfLocalHeader;
    if (typeof at !== 'number') throw new Error('unzipit no longer exposes local header offsets (ZipEntry._rawEntry)');
    const h = await readRange(this.source, at, 30, `the local header of ${entry.name}`, this.fileName);
    const view = new DataView(h.buffer, h.byteOffset, 30);
    if (view.getUint32(0, true) !== 0x04034b50) {
      throw new InspectError('corrupt', `${this.fileName}: the ZIP entry ${entry.name} has no local file header where the directory says.`);
    }
    const start = at + 30 + view.getUint16(26, true) + view.getUint16(28, true);
    this.cache.set(entry.name, start);
    return start;
  }
}

async function readEntryPickle(
  entry: ZipEntryLike,
  locator: LocalHeaders,
  log: GlobalLog,
  storages: Map<string, StorageRef>,
  fileName: string,
): Promise<Unpickled & { bytes: Uint8Array }> {
  if (entry.size > MAX_PICKLE_BYTES) {
    throw new InspectError('too-large', `${fileName}: its ${entry.name} is ${entry.size} bytes; pickles over 1 GB are not read.`);
  }
  if (entry.compressionMethod === 0) await locator.dataStart(entry); // checks the local header
  const bytes = new Uint8Array(await entry.arrayBuffer());
  try {
    return { ...unpickle(bytes, { log, storages }), bytes };
  } catch (e) {
    throw pickleError(e, entry.name, fileName, true);
  }
}

// ---- legacy torch.save files and plain pickles --------------------------------------------------

export async function readPickleFile(source: ByteSource, fileName: string): Promise<ReaderResult> {
  // The pickles come first; read a growing prefix of the file until they parse.
  let length = Math.min(source.size, 1 << 20);
  for (;;) {
    const prefix = await source.read(0, length);
    try {
      return await readPickles(source, prefix, fileName);
    } catch (e) {
      const eof = e instanceof Error && !(e instanceof InspectError) && isEndOfData(e);
      if (!eof) throw e instanceof InspectError ? e : pickleError(e, 'the pickle', fileName);
      if (length >= source.size) throw pickleError(e, 'the pickle', fileName);
      if (length >= MAX_PICKLE_BYTES) {
        throw new InspectError('too-large', `${fileName}: its pickled object is over 1 GB; not read.`);
      }
      length = Math.min(source.size, length * 4);
    }
  }
}

async function readPickles(source: ByteSource, bytes: Uint8Array, fileName: string): Promise<ReaderResult> {
  const log = new GlobalLog();
  const storages = new Map<string, StorageRef>();
  const legacy = LEGACY_MAGIC.every((b, i) => bytes[i] === b);
  if (!legacy) {
    const obj = unpickle(bytes, { log, storages });
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

  const version = unpickle(bytes, { start: LEGACY_MAGIC.length, log });
  if (version.value !== LEGACY_PROTOCOL_VERSION) {
    throw new InspectError('corrupt', `${fileName}: legacy torch.save protocol version ${String(version.value)}, expected ${LEGACY_PROTOCOL_VERSION}.`);
  }
  const sysInfo = unpickle(bytes, { start: version.end, log });
  const bigEndian = sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false;
  const obj = unpickle(bytes, { start: sysInfo.end, log, storages });
  const keys = unpickle(bytes, { start: obj.end, log });
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string' || typeof k === 'number')) {
    throw new InspectError('corrupt', `${fileName}: the list of storage keys of this legacy torch.save file is missing or malformed.`);
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
      stop = 'the file ends before its storage data: it is truncated';
      where.set(key, { note: stop });
    } else {
      const head = await source.read(pos, 8);
      const v = new DataView(head.buffer, head.byteOffset, 8);
      const count = v.getUint32(0, true) + v.getUint32(4, true) * 2 ** 32;
      if (count !== s.numel) {
        stop = `storage ${key} declares ${count} elements where the pickle says ${s.numel}: the storage layout is not understood`;
        where.set(key, { note: stop });
      } else if (pos + 8 + count * size > source.size) {
        stop = 'the file ends in the middle of its storage data: it is truncated';
        where.set(key, { note: stop });
      } else {
        where.set(key, { offset: pos + 8, byteLength: count * size, bigEndian });
        pos += 8 + count * size;
      }
    }
  }
  const found = findTensors(obj.value, fileName);
  const tensors = await tensorEntries(found, { ...obj, bytes }, 0, async (s) => where.get(s.key) ?? { note: `storage ${s.key} is not in the file` });
  const result = summarise('legacy', obj.protocol, found, tensors, log, fileName);
  result.findings.push({ severity: 'info', message: 'Saved in the legacy torch.save format (PyTorch before 1.6, or _use_new_zipfile_serialization=False).' });
  if (stop?.includes('truncated')) result.findings.push({ severity: 'warning', message: `${fileName}: ${stop}.` });
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
  const findings: Finding[] = [];
  const after = 'loading this file with torch.load(weights_only=False) would call it; pMF Lab only parsed it, nothing ran.';
  const scriptClasses: string[] = [];
  const numpy: string[] = [];
  for (const g of log.list) {
    const full = `${g.module}.${g.name}`;
    if (g.class === 'allowed') continue;
    if (g.class === 'torchscript' && layout === 'torchscript') scriptClasses.push(full);
    else if (g.class === 'numpy') numpy.push(full);
    else {
      const what = describeUnsafe(g.module, g.name);
      findings.push({
        severity: 'danger',
        message: `Unsafe global ${full}${what ? ` (${what})` : ''}: it is not part of a PyTorch state dict; ${after} ` +
          'torch.load(weights_only=True), the default since PyTorch 2.6, refuses it.',
      });
    }
  }
  if (numpy.length) {
    findings.push({
      severity: 'warning',
      message: `numpy globals (${numpy.join(', ')}): numpy's own data constructors, not code from the file, but ` +
        'torch.load(weights_only=True) refuses them unless allowed with torch.serialization.add_safe_globals, and ' +
        'loading this file with torch.load(weights_only=False) would call them; pMF Lab only parsed them, nothing ran.',
    });
  }
  if (layout === 'torchscript') {
    findings.push({
      severity: 'warning',
      message: 'A TorchScript archive: torch.jit.load compiles and runs the program in its code/ folder' +
        `${scriptClasses.length ? ` (classes ${scriptClasses.slice(0, 4).join(', ')}${scriptClasses.length > 4 ? ', ...' : ''})` : ''}. ` +
        'pMF Lab only read its data; load it only if you trust its source.',
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

function isEndOfData(e: Error): boolean {
  return /end of file|more bytes|end of line/i.test(e.message) || e instanceof RangeError;
}

/**
 * A pickle the parser could not read. Running out of data means a truncated file, unless the
 * pickle's bytes are known to be whole (a ZIP entry of the size its directory gives): then the
 * pickle itself is broken.
 */
function pickleError(e: unknown, what: string, fileName: string, whole = false): InspectError {
  const msg = e instanceof Error ? e.message : String(e);
  if (!whole && e instanceof Error && isEndOfData(e)) {
    return new InspectError('truncated', `${fileName}: ${what} ends early (${msg}); the file is truncated.`);
  }
  return new InspectError('corrupt', `${fileName}: ${what} is not a readable pickle (${msg}).`);
}

