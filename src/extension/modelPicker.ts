// Picking a checkpoint: bundled models by name, .onnx files in the workspace, or browse.
import * as vscode from 'vscode';
import { listBundledModels } from '../node/bundled';

export interface PickedModel {
  path: string;
  /** How the CLI names it: the bundled name, or the path. */
  spec: string;
  label: string;
}

interface Item extends vscode.QuickPickItem {
  model?: PickedModel;
  browse?: boolean;
}

/** title: the command the pick belongs to (each quick pick names its command). */
export async function pickModel(extensionPath: string, lastPath: string | undefined, title: string): Promise<PickedModel | undefined> {
  const items: Item[] = [{ label: 'Bundled models', kind: vscode.QuickPickItemKind.Separator }];
  for (const m of listBundledModels(extensionPath)) {
    items.push({ label: m.name, description: 'bundled', detail: m.path, model: { path: m.path, spec: m.name, label: m.name } });
  }
  if (vscode.workspace.isTrusted) {
    const files = await vscode.workspace.findFiles('**/*.onnx', '**/{node_modules,.git}/**', 200);
    if (files.length) items.push({ label: 'Workspace', kind: vscode.QuickPickItemKind.Separator });
    for (const f of files.sort((a, b) => a.fsPath.localeCompare(b.fsPath))) {
      const rel = vscode.workspace.asRelativePath(f);
      items.push({ label: rel, description: 'workspace', model: { path: f.fsPath, spec: f.fsPath, label: rel } });
    }
    items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
    items.push({ label: '$(folder-opened) Browse...', browse: true });
  }
  const last = items.find((i) => i.model?.path === lastPath);
  if (last) last.description = `${last.description} \u00b7 last used`;
  const picked = await vscode.window.showQuickPick(items, {
    title,
    placeHolder: vscode.workspace.isTrusted ? 'A pMF checkpoint (.onnx)' : 'Bundled models (workspace files need a trusted workspace)',
    matchOnDetail: true,
  });
  if (!picked) return undefined;
  if (!picked.browse) return picked.model;
  const uri = (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'pMF checkpoint': ['onnx'] },
    openLabel: 'Use this model' }))?.[0];
  return uri && { path: uri.fsPath, spec: uri.fsPath, label: vscode.workspace.asRelativePath(uri) };
}

/**
 * A checkpoint given by the caller (the explorer's context menu, the inspector). Workspace
 * files need a trusted workspace, as in the picker; bundled models are always allowed.
 */
export function modelFromUri(extensionPath: string, uri: vscode.Uri): PickedModel | undefined {
  const bundled = listBundledModels(extensionPath).find((m) => m.path === uri.fsPath);
  if (bundled) return { path: bundled.path, spec: bundled.name, label: bundled.name };
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('pMF: running a checkpoint from this workspace needs a trusted workspace; ' +
      'the bundled models run anywhere.', 'Manage Workspace Trust').then((a) => a && vscode.commands.executeCommand('workbench.trust.manage'));
    return undefined;
  }
  if (uri.scheme !== 'file') {
    void vscode.window.showErrorMessage(`pMF: ${uri.toString()} is not a file on disk; the engine reads checkpoints from disk.`);
    return undefined;
  }
  return { path: uri.fsPath, spec: uri.fsPath, label: vscode.workspace.asRelativePath(uri) };
}
