// Where pMF: Evaluate Checkpoint keeps its files, in the workspace's pmf-eval/ folder:
//   <model>-<timestamp>.json       the results (protocol and scores, as pmf eval writes them)
//   <model>-<settings>.state.npz   the run's state, saved every 1024 samples: a run with the same
//                                  model and feature network files, count, seed and sampling resumes it
//   reference-fashion-mnist-test-<net>.npz   reference statistics made from the Fashion-MNIST test set
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import type { EvalRequest } from '../../node/evaluation';
import type { PickedModel } from '../modelPicker';

export const EVAL_FOLDER = 'pmf-eval';

/** pmf-eval/ in the first workspace folder, or undefined without a folder on disk. */
export function evalFolder(): string | undefined {
  const ws = vscode.workspace.workspaceFolders?.[0];
  return ws && ws.uri.scheme === 'file' ? join(ws.uri.fsPath, EVAL_FOLDER) : undefined;
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '') || 'model';
}

/** The model's part of the file names: the bundled name, or the file's stem. */
export function modelStem(model: PickedModel): string {
  return safeName(model.spec === model.path ? basename(model.path).replace(/\.onnx$/i, '') : model.spec);
}

/**
 * The state file of a run: named by everything its protocol depends on (the model and feature
 * network files, by path, size and modification time, and the request's settings), so the same
 * settings find it again and other settings never meet a state they cannot resume.
 */
export function statePathFor(folder: string, model: PickedModel, req: EvalRequest): string {
  const file = (p: string) => {
    const st = statSync(p);
    return [p, st.size, st.mtimeMs];
  };
  const key = createHash('sha256').update(JSON.stringify({
    model: file(req.modelPath), net: file(req.netPath), n: req.n, seed: req.seed, steps: req.steps, omega: req.omega,
    tMin: req.tMin, tMax: req.tMax, keep: req.keep, splits: req.splits,
  })).digest('hex').slice(0, 10);
  return join(folder, `${modelStem(model)}-${key}.state.npz`);
}

/** A new results file: <model>-<yyyymmdd-hhmmss>.json (-2, -3, ... when that name is taken). */
export function resultsPathFor(folder: string, model: PickedModel, now = new Date()): string {
  const p2 = (x: number) => String(x).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p2(now.getMonth() + 1)}${p2(now.getDate())}-${p2(now.getHours())}${p2(now.getMinutes())}${p2(now.getSeconds())}`;
  const base = `${modelStem(model)}-${stamp}`;
  let path = join(folder, `${base}.json`);
  for (let i = 2; existsSync(path); i++) path = join(folder, `${base}-${i}.json`);
  return path;
}

/** Reference statistics made from the Fashion-MNIST test set with the feature network `netLabel`. */
export function madeReferencePath(folder: string, netLabel: string): string {
  return join(folder, `reference-fashion-mnist-test-${safeName(netLabel)}.npz`);
}
