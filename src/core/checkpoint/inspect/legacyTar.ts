// Whether torch.load would read a file as PyTorch's oldest format (before 0.4): a tar archive
// whose members 'storages', 'tensors' and 'pickle' are unpickled one after another. torch.load
// tries that format first for every file that is not a ZIP archive, with Python's tarfile, which
// accepts any file whose first 512-byte block is a tar header with a valid checksum (no 'ustar'
// magic needed); it then unpickles 'storages' if the archive has such a member, and fails
// before unpickling anything if not. This mirrors tarfile's header checks (Lib/tarfile.py:
// frombuf, nti, calc_chksums).
import type { ByteSource } from './types';

const BLOCK = 512;

export type TarVerdict =
  /** tarfile would not open it: torch.load goes on to read it as pickles. */
  | 'not-tar'
  /** A tar archive without a 'storages' member: torch.load fails before unpickling anything. */
  | 'tar-no-storages'
  /** torch.load would unpickle its members (or pMF Lab cannot tell that it would not). */
  | 'tar-checkpoint';

export async function tarVerdict(source: ByteSource): Promise<TarVerdict> {
  if (source.size < BLOCK) return 'not-tar';
  if (!validHeader(await source.read(0, BLOCK))) return 'not-tar';
  // Walk the members' headers for 'storages' (at most 10,000 members; more, and we cannot tell).
  let at = 0;
  for (let n = 0; n < 10_000 && at + BLOCK <= source.size; n++) {
    const h = await source.read(at, BLOCK);
    if (h.every((b) => b === 0)) return 'tar-no-storages';
    if (!validHeader(h)) return 'tar-no-storages'; // tarfile stops reading members at a bad header
    const type = String.fromCharCode(h[156]);
    // pax and GNU long-name headers name the next member in their data: we do not decode them.
    if ('xgLK'.includes(type)) return 'tar-checkpoint';
    const name = cString(h.subarray(0, 100));
    const prefix = isUstar(h) ? cString(h.subarray(345, 500)) : '';
    const full = (prefix ? `${prefix}/${name}` : name).replace(/\/+$/, '');
    if (full === 'storages') return 'tar-checkpoint';
    const size = nti(h.subarray(124, 136));
    if (size === undefined || size < 0) return 'tar-no-storages';
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return at + BLOCK <= source.size ? 'tar-checkpoint' : 'tar-no-storages';
}

function validHeader(h: Uint8Array): boolean {
  if (h.every((b) => b === 0)) return false;
  const chksum = nti(h.subarray(148, 156));
  if (chksum === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return chksum === unsigned || chksum === signed;
}

/** tarfile.nti: a number field, octal text or GNU base-256; undefined where tarfile raises. */
function nti(f: Uint8Array): number | undefined {
  if (f[0] === 0o200 || f[0] === 0o377) {
    let n = 0;
    for (let i = 1; i < f.length; i++) n = n * 256 + f[i];
    return f[0] === 0o377 ? n - 256 ** (f.length - 1) : n;
  }
  const text = cString(f).trim();
  if (text === '') return 0;
  return /^[-+]?[0-7](_?[0-7])*$/.test(text) ? parseInt(text.replace(/_/g, ''), 8) : undefined;
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder('latin1').decode(end < 0 ? b : b.subarray(0, end));
}

function isUstar(h: Uint8Array): boolean {
  return cString(h.subarray(257, 263)) === 'ustar';
}
