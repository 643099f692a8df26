// ByteSource helpers: a source over bytes in memory, and reads with a clear error when the file
// ends early.
import { InspectError, type ByteSource } from './types';

/**
 * A plain Uint8Array over the same memory. Node's Buffer is a Uint8Array whose slice() does not
 * copy (and small Buffers share one pooled ArrayBuffer), so sources hand out plain views only:
 * code that copies with slice() or reads `.buffer` then sees exactly the bytes it asked for.
 */
export function plainView(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A ByteSource over bytes already in memory (reads return plain views, not copies). */
export function bufferSource(data: Uint8Array): ByteSource {
  const bytes = plainView(data);
  return {
    size: bytes.length,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > bytes.length) {
        throw new RangeError(`read of ${length} bytes at offset ${offset} runs past the end of the data (${bytes.length} bytes)`);
      }
      return bytes.subarray(offset, offset + length);
    },
  };
}

/**
 * The one way every reader says a file is cut off (docs/errors.md): `${fileName} is truncated:
 * <what is missing> (an interrupted download or copy?). Download or copy it again.`
 */
export function truncatedError(fileName: string, what: string): InspectError {
  return new InspectError('truncated', `${fileName} is truncated: ${what} (an interrupted download or copy?). Download or copy it again.`);
}

/** Reads a range that the file's own structure says is there; a shorter file is 'truncated'. */
export async function readRange(source: ByteSource, offset: number, length: number, what: string, fileName: string): Promise<Uint8Array> {
  if (offset < 0 || offset + length > source.size) {
    throw truncatedError(fileName, `${what} (bytes ${offset}-${offset + length}) lies beyond its ${source.size} bytes`);
  }
  return source.read(offset, length);
}
