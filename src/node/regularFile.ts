// Checkpoints are read from regular files only. Opening a FIFO named x.onnx blocks until someone
// writes to it (forever, for a reader), and a device or a folder is no checkpoint; so files are
// opened with O_NONBLOCK (which changes nothing for a regular file) and checked with fstat on the
// open handle before anything is read, which also leaves no gap for the path to change between
// the check and the read.
import { constants, promises as fs, type Stats } from 'node:fs';
import { InspectError } from '../core/checkpoint/inspect/types';

/** What a path that is not a regular file is, for the message. */
export function fileKind(st: Stats): string {
  return st.isDirectory() ? 'a folder'
    : st.isFIFO() ? 'a FIFO (named pipe)'
    : st.isCharacterDevice() ? 'a character device'
    : st.isBlockDevice() ? 'a block device'
    : st.isSocket() ? 'a socket'
    : 'not a regular file';
}

export function notAFile(path: string, st: Stats): InspectError {
  return new InspectError('not-a-file', `${path} is ${fileKind(st)}, not a file: pMF Lab reads checkpoints from regular files only. Give the path of the file itself.`);
}

/** Opens `path` for reading if it is a regular file, with its size; throws InspectError('not-a-file') otherwise. */
export async function openRegularFile(path: string): Promise<{ handle: fs.FileHandle; size: number }> {
  const handle = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw notAFile(path, st);
    return { handle, size: st.size };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/** The whole of a regular file (for the engine and the checkpoint contract), refusing FIFOs, devices and folders. */
export async function readRegularFile(path: string): Promise<{ bytes: Buffer; mtimeMs: number }> {
  const { handle } = await openRegularFile(path);
  try {
    const st = await handle.stat();
    return { bytes: await handle.readFile(), mtimeMs: st.mtimeMs };
  } finally {
    await handle.close();
  }
}
