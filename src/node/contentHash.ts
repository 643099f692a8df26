// The SHA-256 an evaluation's protocol names a model or feature network by: of the .onnx file, or,
// for a model whose weights lie beside it (ONNX external data), of the .onnx and then each weights
// file in the order the model names them, as one stream, so two conversions with other weights
// never share a hash. A full read (a 3.8 GB H/16 takes seconds): it is remembered for the process
// by each part's path, size and modification time, so a guidance sweep's settings, a reference
// and its run hash a file once.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { openOnnxFile } from './modelFile';

const remembered = new Map<string, { key: string; sha256: Promise<string> }>();

async function hashParts(paths: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const p of paths) for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** sha256 of an ONNX file and its external data (see above); throws as openOnnxFile does (missing weights, not ONNX). */
export function onnxContentSha256(path: string): Promise<string> {
  const parts = openOnnxFile(path, () => null).parts;
  const key = JSON.stringify(parts.map((p) => [p.path, p.size, String(p.mtimeNs)]));
  const known = remembered.get(path);
  if (known?.key === key) return known.sha256;
  const sha256 = hashParts(parts.map((p) => p.path));
  remembered.set(path, { key, sha256 });
  sha256.catch(() => remembered.delete(path));
  return sha256;
}
