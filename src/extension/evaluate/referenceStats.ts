// The reference statistics of an evaluation: an .npz the user picked, or statistics of the Fashion-MNIST test set
// made with the feature network and kept in pmf-eval/ (made again when the network changes).
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { EngineClient } from '../../engine/client';
import type { ProviderSetting } from '../../engine/protocol';
import { onnxContentSha256 } from '../../node/contentHash';
import { levelsSource, makeReference, readFashionMnist, readReference, type LoadedReference } from '../../node/evalReference';
import { madeReferencePath } from './evalFiles';
import type { PickedNet, PickedReference } from './evalPickers';

export interface ReferenceDeps {
  engine: EngineClient;
  provider: ProviderSetting;
  /** The pmf-eval/ folder (made references go there). */
  folder: string;
  log: vscode.LogOutputChannel;
}

/** The file's name in front of a message that does not name it. */
function naming(path: string, e: unknown): Error {
  const message = e instanceof Error ? e.message : String(e);
  return new Error(message.includes(path) || message.includes(basename(path)) ? message : `${path}: ${message}`);
}

async function read(path: string): Promise<LoadedReference> {
  try {
    return await readReference(path);
  } catch (e) {
    throw naming(path, e);
  }
}

/** Reads or makes the reference statistics; `report` says what it is doing (the progress notification). */
export async function obtainReference(pick: PickedReference, net: PickedNet, deps: ReferenceDeps, signal: AbortSignal,
  report: (message: string) => void): Promise<LoadedReference> {
  if (pick.kind === 'file') {
    report(`reading ${basename(pick.path)}`);
    return read(pick.path); // runEvalShard checks it against the network before any sample is made
  }
  const out = madeReferencePath(deps.folder, net.label);
  if (existsSync(out)) {
    const ref = await read(out).catch((e: unknown) => {
      deps.log.warn(`${out} cannot be read (${(e as Error).message}); making it again`);
      return undefined;
    });
    if (ref?.net && ref.net.sha256 === await onnxContentSha256(net.path)) {
      deps.log.info(`reference statistics: ${out} (made before with ${basename(net.path)})`);
      return ref;
    }
    if (ref) deps.log.info(`${out} was made with another ${basename(net.path)}: making it again`);
  }
  report('reference statistics of the Fashion-MNIST test set');
  const t0 = performance.now();
  const f = await readFashionMnist('test');
  await makeReference(deps.engine, { netPath: net.path, provider: deps.provider, source: `Fashion-MNIST test (${f.path})`,
    images: levelsSource(f.levels, f.n, [28, 28]), keep: 10000, out }, signal).catch((e: unknown) => {
    throw naming(out, e);
  });
  deps.log.info(`reference statistics of the ${f.n} Fashion-MNIST test images in ${net.label}'s features: ${out} ` +
    `(${(performance.now() - t0).toFixed(0)} ms)`);
  return read(out);
}
