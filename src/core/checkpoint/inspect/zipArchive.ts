// A torch.save ZIP archive's table of contents, read with unzipit and then held to one reading:
// PyTorch reads the archive with miniz, pMF Lab with unzipit, and an archive that the two could
// read differently is refused as ambiguous rather than explained. That covers two entries of the
// same name (miniz finds names case-insensitively, by binary search, so either may be the one
// torch.load unpickles), entries outside the archive's folder (torch takes the folder from the
// first entry), local headers that disagree with the central directory, and bytes after the
// end-of-central-directory record (where a second directory could hide).
import { plainView, readRange, truncatedError } from './byteSource';
import { InspectError, type ByteSource } from './types';

export interface ZipEntryLike {
  name: string;
  size: number;
  compressedSize: number;
  compressionMethod: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface TorchArchive {
  entries: ZipEntryLike[];
  /** The folder every entry is in, with its slash ("archive/"), as torch.load derives it. */
  prefix: string;
  /** An entry by name as miniz finds it (case-insensitively). */
  get(name: string): ZipEntryLike | undefined;
  /** Where an entry's data begins in the file. */
  dataStart(entry: ZipEntryLike): Promise<number>;
}

const EOCD_SIGNATURE = 0x06054b50;

/**
 * The file starts with a ZIP local file header (PK\x03\x04): torch.load's test (_is_zipfile) for
 * opening a file as a ZIP archive rather than through its legacy path.
 */
export function isZipArchive(head: Uint8Array): boolean {
  return head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

function ambiguous(fileName: string, why: string): InspectError {
  return new InspectError(
    'ambiguous',
    `${fileName} is refused: ${why}. PyTorch and pMF Lab could read different contents from this archive, so pMF Lab ` +
      'cannot vouch for what torch.load would load. Do not load it; get the file again from its source.',
  );
}

export async function openTorchArchive(source: ByteSource, fileName: string): Promise<TorchArchive> {
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
    if (e instanceof RangeError || /end of central directory|past the end|short read|invalid.*length/i.test(msg)) {
      throw truncatedError(fileName, 'it is an incomplete ZIP archive whose table of contents (central directory) is missing or cut off');
    }
    throw new InspectError('corrupt', `${fileName} starts like a ZIP archive but its table of contents cannot be read. Download or copy it again.`);
  }
  await checkEnd(source, fileName);
  if (!entries.length) throw new InspectError('unsupported', `${fileName} is an empty ZIP archive, not a PyTorch checkpoint.`);

  // torch.load: every record is looked up under the first entry's folder.
  const slash = entries[0].name.indexOf('/');
  if (slash < 0) {
    throw new InspectError(
      'unsupported',
      `${fileName} is a ZIP archive but not a PyTorch checkpoint: its first entry (${entries[0].name}) is not in a folder, ` +
        'so torch.load refuses it too.',
    );
  }
  const prefix = entries[0].name.slice(0, slash + 1);
  const byName = new Map<string, ZipEntryLike>();
  for (const e of entries) {
    const key = e.name.toLowerCase();
    if (byName.has(key)) throw ambiguous(fileName, `it holds two entries named ${e.name}${byName.get(key)!.name !== e.name ? ` and ${byName.get(key)!.name}` : ''}`);
    if (!key.startsWith(prefix.toLowerCase())) throw ambiguous(fileName, `its entry ${e.name} lies outside the archive's folder ${prefix}`);
    if (e.compressionMethod !== 0 && e.compressionMethod !== 8) {
      throw new InspectError(
        'unsupported',
        `${fileName}: its entry ${e.name} is compressed with ZIP method ${e.compressionMethod}` +
          `${e.compressionMethod === 99 ? ' (AES encryption)' : ''}, which neither PyTorch nor pMF Lab reads. Save it again with torch.save.`,
      );
    }
    byName.set(key, e);
  }
  const headers = new LocalHeaders(source, fileName);
  for (const e of entries) await headers.dataStart(e); // every local header agrees with the directory
  return {
    entries,
    prefix,
    get: (name) => byName.get(name.toLowerCase()),
    dataStart: (e) => headers.dataStart(e),
  };
}

/** The end-of-central-directory record must end the file: bytes after it could be read as another archive. */
async function checkEnd(source: ByteSource, fileName: string): Promise<void> {
  const tail = Math.min(source.size, 22 + 0xffff);
  const bytes = await source.read(source.size - tail, tail);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = bytes.length - 22; i >= 0; i--) {
    if (view.getUint32(i, true) !== EOCD_SIGNATURE) continue;
    const commentLength = view.getUint16(i + 20, true);
    if (i + 22 + commentLength !== bytes.length) {
      throw ambiguous(fileName, `${bytes.length - i - 22 - commentLength} bytes follow the end of its table of contents`);
    }
    return;
  }
}

/** Offsets of entries' data, from their local file headers, which must agree with the central directory. */
class LocalHeaders {
  private readonly cache = new Map<ZipEntryLike, number>();

  constructor(private readonly source: ByteSource, private readonly fileName: string) {}

  async dataStart(entry: ZipEntryLike): Promise<number> {
    const known = this.cache.get(entry);
    if (known !== undefined) return known;
    // unzipit keeps the local header's offset in the entry's raw central-directory record.
    const raw = (entry as unknown as { _rawEntry?: { relativeOffsetOfLocalHeader?: unknown; generalPurposeBitFlag?: unknown; crc32?: unknown } })._rawEntry;
    const at = raw?.relativeOffsetOfLocalHeader;
    if (typeof at !== 'number') throw new Error('unzipit no longer exposes local header offsets (ZipEntry._rawEntry)');
    const h = await readRange(this.source, at, 30, `the local header of ${entry.name}`, this.fileName);
    const view = new DataView(h.buffer, h.byteOffset, 30);
    if (view.getUint32(0, true) !== 0x04034b50) {
      throw new InspectError('corrupt', `${this.fileName}: the ZIP entry ${entry.name} has no local file header where the directory says. Download or copy it again.`);
    }
    const nameLength = view.getUint16(26, true);
    const start = at + 30 + nameLength + view.getUint16(28, true);
    const nameBytes = await readRange(this.source, at + 30, nameLength, `the name of ${entry.name}`, this.fileName);
    const cdName = (entry as unknown as { nameBytes?: Uint8Array }).nameBytes;
    const sameName = cdName ? cdName.length === nameBytes.length && cdName.every((b, i) => b === nameBytes[i]) : true;
    const flags = view.getUint16(6, true);
    const sizesInDescriptor = (flags & 0x08) !== 0;
    const disagree =
      !sameName ? `its local header names ${JSON.stringify(new TextDecoder().decode(nameBytes))}`
      : view.getUint16(8, true) !== entry.compressionMethod ? 'its local header gives another compression method'
      : !sizesInDescriptor && view.getUint32(18, true) !== 0xffffffff && view.getUint32(18, true) !== entry.compressedSize ? 'its local header gives another size'
      : !sizesInDescriptor && typeof raw?.crc32 === 'number' && view.getUint32(14, true) !== raw.crc32 ? 'its local header gives another checksum'
      : undefined;
    if (disagree) throw ambiguous(this.fileName, `the central directory lists ${entry.name} but ${disagree}`);
    if (start + entry.compressedSize > this.source.size) {
      throw truncatedError(this.fileName, `the data of its entry ${entry.name} runs past the end of the file`);
    }
    this.cache.set(entry, start);
    return start;
  }
}
