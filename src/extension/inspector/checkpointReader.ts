// Where the inspector reads a checkpoint: a file on disk is parsed and its statistics streamed in
// a worker thread (src/node/inspectJobs.ts), so the extension host stays responsive whatever the
// file; a file that is not on a local disk (a virtual file system) is read into memory through
// VS Code and parsed here (external ONNX data cannot be reached then).
import { basename } from 'node:path';
import * as vscode from 'vscode';
import {
  bufferSource,
  compareCheckpoints,
  inspectCheckpoint,
  statsEach,
  type ByteSource,
  type CheckpointSummary,
  type StatsResult,
  type TensorEntry,
} from '../../core/checkpoint/inspect';
import {
  compareInWorker,
  compareOutline,
  inspectInWorker,
  statsInWorker,
  type CompareResult,
  type CompareStart,
} from '../../node/inspectJobs';

export interface CheckpointReader {
  inspect(signal: AbortSignal): Promise<CheckpointSummary>;
  /** Statistics of each tensor, reported one by one; rejects with an AbortError when cancelled. */
  stats(tensors: Array<{ index: number; tensor: TensorEntry }>, onResult: (r: StatsResult) => void, signal: AbortSignal,
    onProgress?: (bytesDone: number, bytesTotal: number) => void): Promise<void>;
  /** This checkpoint against `other`: the pairing first, then each pair's distance. */
  compare(other: vscode.Uri, onStart: (s: CompareStart) => void, onResult: (r: CompareResult) => void, signal: AbortSignal): Promise<void>;
}

/** Files above this size are not read into memory when they are not on the local disk. */
const MAX_IN_MEMORY = 2 ** 31 - 1;

export function readerFor(uri: vscode.Uri, extensionUri: vscode.Uri): CheckpointReader {
  const fileName = basename(uri.path);
  if (uri.scheme === 'file') {
    const worker = vscode.Uri.joinPath(extensionUri, 'dist', 'inspectWorker.js').fsPath;
    return {
      inspect: (signal) => inspectInWorker(worker, uri.fsPath, fileName, signal),
      stats: (tensors, onResult, signal, onProgress) => statsInWorker(worker, uri.fsPath, tensors, onResult, signal, onProgress),
      compare: (other, onStart, onResult, signal) => other.scheme === 'file'
        ? compareInWorker(worker, { path: uri.fsPath, fileName, other: other.fsPath, otherName: basename(other.path) }, onStart, onResult, signal)
        : compareInMemory(uri, other, onStart, onResult, signal),
    };
  }
  const load = () => loadIntoMemory(uri);
  return {
    compare: (other, onStart, onResult, signal) => compareInMemory(uri, other, onStart, onResult, signal),
    inspect: async () => inspectCheckpoint(await load(), fileName),
    stats: async (tensors, onResult, signal, onProgress) => statsEach(memorySource(await load()), tensors, onResult, signal, onProgress),
  };
}

async function loadIntoMemory(uri: vscode.Uri): Promise<ByteSource> {
  const stat = await vscode.workspace.fs.stat(uri);
  if (stat.size > MAX_IN_MEMORY) throw new Error(`${basename(uri.path)} is not on a local disk and too large to read into memory`);
  return bufferSource(await vscode.workspace.fs.readFile(uri));
}

/** The bytes of a file read into memory; the external-data files of an ONNX model are out of reach then. */
function memorySource(source: ByteSource): (file?: string) => Promise<ByteSource> {
  return async (file) => {
    if (file !== undefined) throw new Error('external tensor data can be read only from files on disk');
    return source;
  };
}

/** A comparison where either file is not on a local disk: both are read into memory and compared here. */
async function compareInMemory(
  uri: vscode.Uri,
  other: vscode.Uri,
  onStart: (s: CompareStart) => void,
  onResult: (r: CompareResult) => void,
  signal: AbortSignal,
): Promise<void> {
  const opened = async (u: vscode.Uri) => {
    const source = await loadIntoMemory(u);
    return { summary: await inspectCheckpoint(source, basename(u.path)), source: memorySource(source) };
  };
  const a = await opened(uri);
  const b = await opened(other);
  await compareCheckpoints(a, b, (m) => onStart(compareOutline(m, b.summary)), onResult, { signal });
}
