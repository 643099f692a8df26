// Which reader a file needs, from its first bytes (never from its extension), and what a file
// that no reader takes looks like, for the error message. The formats and their signatures are
// in formats.ts; the signatures here are those of common files that are not checkpoints.
import { FORMATS } from './formats';
import type { FormatReader } from './readerResult';

export type Detected = FormatReader | { unknown: string };

/** Bytes needed by detect(). */
export const HEAD_BYTES = 512;

/**
 * The format whose signature the file starts with ('magic' ones first, in the order of
 * FORMATS); else, unless it is a known kind of file that is no checkpoint, the first 'weak' one
 * that allows its first bytes; else what the file looks like.
 */
export function detect(head: Uint8Array): Detected {
  const magic = FORMATS.find((f) => f.signature === 'magic' && f.sniff(head));
  if (magic) return magic;
  const other = knownOther(head);
  if (other) return { unknown: other };
  return FORMATS.find((f) => f.signature === 'weak' && f.sniff(head)) ?? { unknown: textOrBinary(head) };
}

/** Common files that are not checkpoints, by their signatures. */
function knownOther(head: Uint8Array): string | undefined {
  const starts = (...sig: number[]) => sig.every((b, i) => head[i] === b);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) if (head[at + i] !== s.charCodeAt(i)) return false;
    return true;
  };
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'a PNG image';
  if (starts(0xff, 0xd8, 0xff)) return 'a JPEG image';
  if (ascii(0, 'GIF8')) return 'a GIF image';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'a WebP image';
  if (ascii(0, '%PDF')) return 'a PDF document';
  if (starts(0x1f, 0x8b)) return 'gzip-compressed data: decompress it first';
  if (ascii(0, 'BZh')) return 'bzip2-compressed data: decompress it first';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz-compressed data: decompress it first';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd-compressed data: decompress it first';
  if (ascii(257, 'ustar')) return 'a tar archive: extract the checkpoint from it first';
  if (starts(0x50, 0x4b, 0x05, 0x06)) return 'an empty ZIP archive';
  if (starts(0x89, 0x48, 0x44, 0x46)) return 'an HDF5 file (e.g. a Keras .h5 model), which pMF Lab does not read';
  if (starts(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59)) return 'a numpy .npy array, not a model';
  if (ascii(0, 'GGUF')) return 'a GGUF (llama.cpp) model, which pMF Lab does not read';
  if (starts(0x7f, 0x45, 0x4c, 0x46)) return 'an executable (ELF)';
  return undefined;
}

/** What a file that is none of the formats looks like: "a PNG image", "a JSON file", ... */
export function describeUnknown(head: Uint8Array): string {
  return knownOther(head) ?? textOrBinary(head);
}

function textOrBinary(head: Uint8Array): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, Math.max(0, head.length - 4)));
  } catch {
    return 'unrecognised binary data';
  }
  // control characters other than whitespace: binary, not text
  if (/[\u0000-\u0008\u000e-\u001f]/.test(text)) return 'unrecognised binary data';
  const first = text.trimStart()[0];
  if (first === '{' || first === '[') return 'a JSON file';
  if (text.trimStart().startsWith('<')) return 'an XML or HTML file (a web page saved instead of the download?)';
  return 'a text file';
}
