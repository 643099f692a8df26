// PyTorch files that are not ZIP archives, read without unpickling them in Python:
//   legacy: older torch.save: consecutive pickles (magic number, protocol 1001, system info, the
//           object, the list of storage keys), then each storage as an int64 element count
//           followed by its bytes;
//   plain:  a file that is just a pickle, read as one object.
// readTorchPickles reads a file as torch.load's legacy path would, whatever the file looks like:
// inspectCheckpoint runs it on every file that is not a ZIP archive (index.ts).
import { truncatedError } from './byteSource';
import { itemSize } from './dtypes';
import { tarVerdict } from './legacyTar';
import { PickleError, type PickleBudget } from './pickleMachine';
import { MAX_PICKLE_BYTES, pickleError, pickleResult, tensorEntries, type StorageData } from './pytorchTensors';
import type { FormatReader, ReaderResult } from './readerResult';
import { GlobalLog, unpickle, type StorageRef, type Unpickled } from './safeUnpickler';
import { describe, findTensors } from './tensorTree';
import { InspectError, type ByteSource } from './types';

/** torch.serialization.MAGIC_NUMBER and PROTOCOL_VERSION: the first two pickles of a legacy file. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;

/**
 * Pickles with a PROTO opcode of a protocol torch.save and pickle use (2 to 5). Pickles of
 * protocols 0 and 1 have no signature: inspectCheckpoint reads a file that no format claims as
 * a pickle when torch.load's legacy path reads it whole.
 */
export const pytorchPickleFormat: FormatReader = {
  name: 'pytorch-pickle',
  format: 'pytorch',
  signature: 'magic',
  sniff: (head) => head[0] === 0x80 && head[1] >= 2 && head[1] <= 5,
  readsTorchPickles: true,
  read: (source, fileName, ctx) => {
    const torch = ctx.torch;
    if (!torch || !isWholePickle(torch)) throw pickleError(torch?.error, 'its pickle', fileName, torch?.log ?? new GlobalLog());
    return readPickleFile(source, fileName, torch);
  },
};

/** torch.load's legacy path read the file as a plain pickle or a legacy torch.save sequence. */
export function isWholePickle(read: TorchPickles): boolean {
  return read.kind === 'plain' || read.kind === 'legacy';
}

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
    const result = pickleResult('legacy', obj.protocol, found, tensors, log, fileName);
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
  const result = pickleResult('legacy', obj.protocol, found, tensors, log, fileName);
  result.findings.push({ severity: 'info', message: 'Saved in the legacy torch.save format (PyTorch before 1.6, or _use_new_zipfile_serialization=False).' });
  return result;
}
