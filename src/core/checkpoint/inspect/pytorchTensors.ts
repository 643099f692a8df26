// What the PyTorch readers (pytorchZip.ts, pytorchPickle.ts) share: the entries of the tensors a
// pickle references, located where their bytes lie in the file so statistics can stream them in
// place, the pickle's details and findings, and the errors and danger findings of pickles.
import { truncatedError } from './byteSource';
import { itemSize, isContiguous, product } from './dtypes';
import { PickleError } from './pickleMachine';
import type { ReaderResult } from './readerResult';
import { describeUnsafe, type GlobalLog, type StorageRef, type TensorRef, type Unpickled } from './safeUnpickler';
import { MAX_NAMES_PER_TENSOR, NdArray, type FoundTensors } from './tensorTree';
import { InspectError, type Finding, type PickleDetails, type TensorEntry } from './types';

/** Pickles larger than this are not read. */
export const MAX_PICKLE_BYTES = 1 << 30;

export type Layout = PickleDetails['layout'];

/** Where each storage's bytes begin in the file (absolute offset), or why they cannot be read in place. */
export type StorageData = { offset: number; byteLength: number; bigEndian?: boolean } | { note: string };

/**
 * Entries for the tensors found: dtype, shape and, where possible, the absolute offset of their bytes.
 * `pickleBase` is the file offset of the pickle's first byte when the pickle lies in the file as is
 * (numpy arrays keep their bytes inside the pickle).
 */
export async function tensorEntries(
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

export function pickleResult(
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
