// The quick picks of pMF: Evaluate Checkpoint that Generate Samples does not have: the feature
// network (the bundled ones in models/eval, or browse for an .onnx) and the reference statistics
// (made from the Fashion-MNIST test set when the dataset is installed, or an .npz file).
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { fashionMnistDir } from '../../node/evalReference';

export interface PickedNet {
  path: string;
  label: string;
}

export type PickedReference = { kind: 'fashion-mnist-test' } | { kind: 'file'; path: string };

/** The feature networks that ship with pMF Lab (models/eval/*.onnx). */
export function bundledFeatureNets(extensionPath: string): PickedNet[] {
  const dir = join(extensionPath, 'models', 'eval');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.onnx')).sort().map((f) => ({ path: join(dir, f), label: f.slice(0, -5) }));
}

/** Whether the Fashion-MNIST test images are where readFashionMnist looks for them. */
export function hasFashionMnistTest(): boolean {
  return existsSync(join(fashionMnistDir(), 't10k-images-idx3-ubyte.gz'));
}

async function browse(filters: Record<string, string[]>, openLabel: string): Promise<string | undefined> {
  const uri = (await vscode.window.showOpenDialog({ canSelectMany: false, filters, openLabel }))?.[0];
  if (!uri) return undefined;
  if (uri.scheme !== 'file') {
    void vscode.window.showErrorMessage(`pMF: ${uri.toString()} is not a file on disk; the engine reads files from disk.`);
    return undefined;
  }
  return uri.fsPath;
}

interface NetItem extends vscode.QuickPickItem {
  net?: PickedNet;
  browse?: boolean;
}

/** title: "pMF: Evaluate Checkpoint (2/4): feature network". */
export async function pickFeatureNet(extensionPath: string, lastPath: string | undefined, title: string): Promise<PickedNet | undefined> {
  const items: NetItem[] = [{ label: 'Bundled feature networks', kind: vscode.QuickPickItemKind.Separator }];
  for (const n of bundledFeatureNets(extensionPath)) items.push({ label: n.label, description: 'bundled', detail: n.path, net: n });
  if (vscode.workspace.isTrusted) {
    if (lastPath && existsSync(lastPath) && !items.some((i) => i.net?.path === lastPath)) {
      items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
      items.push({ label: vscode.workspace.asRelativePath(lastPath), detail: lastPath, net: { path: lastPath, label: basename(lastPath, '.onnx') } });
    }
    items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
    items.push({ label: '$(folder-opened) Browse...', description: 'a feature network .onnx (docs/evaluation.md)', browse: true });
  }
  const last = items.find((i) => i.net?.path === lastPath);
  if (last) last.description = last.description ? `${last.description} \u00b7 last used` : 'last used';
  const picked = await vscode.window.showQuickPick(items, {
    title, matchOnDetail: true,
    placeHolder: vscode.workspace.isTrusted ? 'The network whose features the scores compare' :
      'Bundled feature networks (other files need a trusted workspace)',
  });
  if (!picked) return undefined;
  if (!picked.browse) return picked.net;
  const path = await browse({ 'Feature network': ['onnx'] }, 'Use this feature network');
  return path ? { path, label: basename(path, '.onnx') } : undefined;
}

interface RefItem extends vscode.QuickPickItem {
  ref?: PickedReference;
  browse?: boolean;
}

/** title: "pMF: Evaluate Checkpoint (3/4): reference statistics"; last: the previous run's choice. */
export async function pickReference(last: PickedReference | undefined, title: string): Promise<PickedReference | undefined> {
  const items: RefItem[] = [];
  const fashion = hasFashionMnistTest();
  if (fashion) {
    items.push({ label: 'Make from the Fashion-MNIST test set', description: last?.kind === 'fashion-mnist-test' ? 'last used' : undefined,
      detail: `The 10,000 test images of ${fashionMnistDir()} in the feature network's features; kept in pmf-eval/ for the next run`,
      ref: { kind: 'fashion-mnist-test' } });
  }
  if (last?.kind === 'file' && existsSync(last.path)) {
    items.push({ label: basename(last.path), description: 'last used', detail: last.path, ref: last });
  }
  items.push({ label: '$(folder-opened) Browse...', description: 'an .npz with mu and sigma (pmf eval-ref, ADM, pytorch-fid)', browse: true });
  const picked = await vscode.window.showQuickPick(items, {
    title, matchOnDetail: true,
    placeHolder: fashion ? 'Statistics of real images to compare the samples with' :
      `Fashion-MNIST is not at ${fashionMnistDir()} (sudo apt-get install dataset-fashion-mnist): pick reference statistics`,
  });
  if (!picked) return undefined;
  if (!picked.browse) return picked.ref;
  const path = await browse({ 'Reference statistics': ['npz'] }, 'Use these statistics');
  return path ? { kind: 'file', path } : undefined;
}
