// A ByteSource over a file on disk: random-access reads through one open file handle, so a
// multi-gigabyte checkpoint is never read whole (src/core/checkpoint/inspect reads what it needs).
import { dirname, resolve, sep } from 'node:path';
import { plainView, type ByteSource } from '../core/checkpoint/inspect';
import { openRegularFile } from './regularFile';

export async function openFileSource(path: string): Promise<FileSource> {
  const { handle, size } = await openRegularFile(path);
  let closed = false;
  return {
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (closed) throw new Error(`${path}: read after close`);
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
        throw new RangeError(`${path}: invalid read of ${length} bytes at offset ${offset}`);
      }
      if (offset + length > size) {
        throw new RangeError(`${path}: read of ${length} bytes at offset ${offset} runs past the end of the file (${size} bytes)`);
      }
      const buf = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) throw new Error(`${path}: the file ended at ${offset + done} bytes while reading (was it changed?)`);
        done += bytesRead;
      }
      return plainView(buf);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

export type FileSource = ByteSource & { close(): Promise<void> };

/**
 * A checkpoint on disk and the ONNX external-data files beside it, each opened once and closed
 * together, for reading tensors' bytes (statistics). External data must stay in the model's
 * folder: a location such as ../../x is refused, not followed.
 */
export class CheckpointFiles {
  private readonly sources = new Map<string, Promise<FileSource>>();

  constructor(readonly modelPath: string) {}

  /** The model file itself (file undefined) or the external-data file `file` beside it. */
  source(file?: string): Promise<FileSource> {
    const key = file ?? '';
    let s = this.sources.get(key);
    if (!s) {
      s = openFileSource(file === undefined ? this.modelPath : besideModel(this.modelPath, file));
      this.sources.set(key, s);
      s.catch(() => this.sources.delete(key));
    }
    return s;
  }

  async close(): Promise<void> {
    const open = [...this.sources.values()];
    this.sources.clear();
    for (const s of open) await s.then((f) => f.close(), () => undefined);
  }
}

/** The path of ONNX external data `file` of the model at modelPath; throws when it lies outside the model's folder. */
export function besideModel(modelPath: string, file: string): string {
  const folder = dirname(resolve(modelPath));
  const target = resolve(folder, file);
  if (!target.startsWith(folder + sep)) {
    throw new Error(`external data location '${file}' points outside the model's folder; not read`);
  }
  return target;
}
