// PyTorch ZIP archives, read without unpickling them in Python:
//   zip:         torch.save since PyTorch 1.6: <folder>/data.pkl (the object, tensors as persistent
//                references to storages) and <folder>/data/<key> (each storage's raw bytes, stored);
//   torchscript: torch.jit.save: the same layout plus code/ and constants.pkl.
// torch.load opens any file that starts as a ZIP archive this way, so this reader reads what
// torch.load would unpickle (data.pkl) and every other pickle of the archive, and reports their
// dangers itself.
import type { PickleBudget } from './pickleMachine';
import { MAX_PICKLE_BYTES, pickleError, pickleResult, tensorEntries, type Layout, type StorageData } from './pytorchTensors';
import type { FormatReader, ReaderResult } from './readerResult';
import { GlobalLog, unpickle, type StorageRef, type Unpickled } from './safeUnpickler';
import { findTensors } from './tensorTree';
import { InspectError, type ByteSource } from './types';
import { isZipArchive, openTorchArchive, type ZipEntryLike } from './zipArchive';

export const pytorchZipFormat: FormatReader = {
  name: 'pytorch-zip',
  format: 'pytorch',
  signature: 'magic',
  sniff: isZipArchive,
  readsTorchPickles: true,
  read: (source, fileName, ctx) => readPytorchZip(source, fileName, ctx.budget),
};

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
  return pickleResult(layout, main.protocol, found, tensors, log, fileName);
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
