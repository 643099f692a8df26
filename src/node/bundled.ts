// The models that ship with pMF Lab (the repository's models/ folder), and name resolution.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { notAFile } from './regularFile';

export interface BundledModel {
  /** Short name: 'fashion-mnist', 'swiss-roll/x-D16'. */
  name: string;
  path: string;
}

/** models/eval holds the evaluation's feature networks (docs/evaluation.md), not generators. */
export const FEATURE_NET_FOLDER = 'eval';

/** models/<family>/model.onnx is named <family>; other .onnx files <family>/<file stem>. */
export function listBundledModels(root: string): BundledModel[] {
  const dir = join(root, 'models');
  if (!existsSync(dir)) return [];
  const out: BundledModel[] = [];
  for (const family of readdirSync(dir).sort()) {
    if (family === FEATURE_NET_FOLDER) continue;
    const fdir = join(dir, family);
    if (!statSync(fdir).isDirectory()) continue;
    for (const f of readdirSync(fdir).sort()) {
      if (!f.endsWith('.onnx')) continue;
      out.push({ name: f === 'model.onnx' ? family : `${family}/${f.slice(0, -5)}`, path: join(fdir, f) });
    }
  }
  return out;
}

/** A path to an existing file, or a bundled model's name; throws a message listing the names. */
export function resolveModel(spec: string, root: string, cwd = process.cwd()): string {
  const asPath = resolve(cwd, spec);
  if (existsSync(asPath)) {
    const st = statSync(asPath);
    if (st.isFile()) return asPath;
    if (!st.isDirectory() || !listBundledModels(root).some((m) => m.name === spec)) throw notAFile(asPath, st);
  }
  const models = listBundledModels(root);
  const hit = models.find((m) => m.name === spec);
  if (hit) return hit.path;
  throw new Error(`No model '${spec}': give a path to an .onnx file or a bundled model name ` +
    `(${models.map((m) => m.name).join(', ') || 'none bundled'}).`);
}
