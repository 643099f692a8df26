// A model file about to be loaded: it and every external-data file it names are checked to be
// regular files in the model's folder (a FIFO would block onnxruntime for ever), its pMF contract
// is read from its header alone (core/checkpoint scanOnnxLayout: a 3.8 GB model costs a few
// hundred small reads, not 3.8 GB of memory), and its contents get a fast key for the optimised
// model cache (modelCache.ts).
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { readCheckpoint } from '../core/checkpoint';
import { InspectError } from '../core/checkpoint/inspect/types';
import { scanOnnxLayout, type OnnxLayout, type SyncByteSource } from '../core/checkpoint/onnxReader';
import type { PmfModelInfo } from '../core/checkpoint/types';
import { besideModel } from './fileSource';
import { notAFile } from './regularFile';

export interface ModelFilePart {
  /** '' for the model itself, else the external data location as the model writes it. */
  location: string;
  path: string;
  size: number;
  mtimeNs: bigint;
}

export interface OnnxFile<I> {
  path: string;
  fileName: string;
  /** The model first, then its external data files. */
  parts: ModelFilePart[];
  layout: OnnxLayout;
  /** What the file's header says it is (the pMF contract, or a feature network's). */
  info: I;
  /** Bytes of weights: initializer data in the file plus in its external data. */
  weightBytes: number;
  /** The contents' key (contentKey): equal keys, equal files. */
  contentKey: string;
}

/** A pMF generator about to be loaded. */
export type ModelFile = OnnxFile<PmfModelInfo>;

/** A regular file opened for reading without blocking; throws InspectError('not-a-file') for anything else. */
function openRegular(path: string): { fd: number; size: number; mtimeNs: bigint } {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) throw notAFile(path, fstatSync(fd));
    return { fd, size: Number(st.size), mtimeNs: st.mtimeNs };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function fdSource(fd: number, size: number, path: string): SyncByteSource {
  return {
    size,
    read(offset: number, length: number): Uint8Array {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, length - done, offset + done);
        if (n === 0) throw new Error(`${path} ended at ${offset + done} bytes while reading (was it changed?)`);
        done += n;
      }
      return out;
    },
  };
}

const SAMPLE = 1 << 16;
const SAMPLES = 32;
/** Files up to this size are hashed whole (a model whose weights lie beside it, its small tensors). */
const HASH_WHOLE = 16 * 2 ** 20;

/**
 * The sampled hash of a file: all of it up to 16 MB, else its first and last MB and 32 chunks
 * of 64 KB spread evenly between (about 4 MB read, a few ms, whatever the file's size).
 */
function sampledHash(src: SyncByteSource): string {
  const h = createHash('sha256');
  if (src.size <= HASH_WHOLE) {
    h.update(src.read(0, src.size));
  } else {
    const edge = 1 << 20;
    h.update(src.read(0, edge));
    const span = src.size - 2 * edge - SAMPLE;
    for (let i = 0; i < SAMPLES; i++) h.update(src.read(edge + Math.floor((span * i) / (SAMPLES - 1)), SAMPLE));
    h.update(src.read(src.size - edge, edge));
  }
  return h.digest('hex');
}

/**
 * The key of a model's contents: for the model and each external data file, its size, its
 * modification time (ns) and its sampled hash. Any ordinary write changes the time; a copy that
 * keeps the time (cp -p, rsync -t) of different contents changes the sampled bytes, as a
 * retrained or edited model does throughout. It costs a few reads where a full hash of a 3.8 GB
 * model costs seconds on every first load (and, remembered by path, size and time, would trust
 * the same time stamp anyway).
 */
function contentKey(parts: Array<ModelFilePart & { hash: string }>): string {
  return createHash('sha256').update(JSON.stringify(parts.map((p) => [p.location, p.size, String(p.mtimeNs), p.hash])))
    .digest('hex');
}

/**
 * Reads a model for loading: regular files only (the model and its external data, which must lie
 * in the model's folder and hold the bytes the model says), the contract from the header, the
 * weights' size and the content key. Throws InspectError (not a file, external data missing,
 * outside the folder or truncated), CheckpointError (not ONNX, contract broken) or a Node error
 * (ENOENT, EACCES).
 */
export function openModelFile(path: string): ModelFile {
  return openOnnxFile(path, readCheckpoint);
}

/** openModelFile for any ONNX file whose header `readContract` reads (throwing for a file it refuses). */
export function openOnnxFile<I>(path: string, readContract: (header: Uint8Array, fileName: string) => I): OnnxFile<I> {
  const fileName = basename(path);
  const model = openRegular(path);
  let layout: OnnxLayout;
  let hash: string;
  try {
    const src = fdSource(model.fd, model.size, path);
    layout = scanOnnxLayout(src, fileName);
    hash = sampledHash(src);
  } finally {
    closeSync(model.fd);
  }
  const info = readContract(layout.header, fileName);
  const parts: Array<ModelFilePart & { hash: string }> = [{ location: '', path, size: model.size, mtimeNs: model.mtimeNs, hash }];
  for (const ext of layout.external) {
    let target: string;
    try {
      target = besideModel(path, ext.location);
    } catch {
      throw new InspectError('corrupt', `${fileName}: its external data location '${ext.location}' points outside the model's ` +
        `folder; pMF Lab does not read it. Keep the weights file beside the model and name it by its file name.`);
    }
    let f: ReturnType<typeof openRegular>;
    try {
      f = openRegular(target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new InspectError('corrupt', `${fileName}: its weights file ${ext.location} is missing (the model keeps ` +
          `${ext.tensors} tensors in it, beside the model). Copy ${ext.location} next to ${fileName}, or download both again.`);
      }
      throw e;
    }
    try {
      if (f.size < ext.end) {
        throw new InspectError('truncated', `${ext.location} is truncated: ${fileName} keeps weights in it up to byte ${ext.end}, ` +
          `but it has ${f.size} bytes (an interrupted download or copy?). Download or copy it again.`);
      }
      parts.push({ location: ext.location, path: target, size: f.size, mtimeNs: f.mtimeNs, hash: sampledHash(fdSource(f.fd, f.size, target)) });
    } finally {
      closeSync(f.fd);
    }
  }
  return {
    path, fileName, layout, info,
    parts: parts.map(({ hash: _hash, ...p }) => p),
    weightBytes: layout.inlineBytes + layout.external.reduce((a, e) => a + e.bytes, 0),
    contentKey: contentKey(parts),
  };
}
