// pMF Lab's settings (contributed in package.json under "pmf.").
import * as vscode from 'vscode';
import type { ProviderSetting } from '../engine/protocol';

function cfg() {
  return vscode.workspace.getConfiguration('pmf');
}

export function providerSetting(): ProviderSetting {
  return cfg().get<ProviderSetting>('executionProvider', 'auto');
}

export function batchSize(): number {
  return Math.max(1, Math.floor(cfg().get<number>('batchSize', 16)));
}

/** The workspace folder for saved samples, or undefined without a workspace. */
export function outputFolder(): vscode.Uri | undefined {
  const ws = vscode.workspace.workspaceFolders?.[0];
  if (!ws) return undefined;
  return vscode.Uri.joinPath(ws.uri, cfg().get<string>('outputFolder', 'pmf-samples'));
}

export async function setProviderSetting(p: ProviderSetting): Promise<void> {
  await cfg().update('executionProvider', p, vscode.ConfigurationTarget.Global);
}

/** pmf.batchSize when the user set it (globally, in the workspace or the folder); undefined when it is the default. */
export function explicitBatchSize(): number | undefined {
  const set = cfg().inspect<number>('batchSize');
  return (set?.globalValue ?? set?.workspaceValue ?? set?.workspaceFolderValue) !== undefined ? batchSize() : undefined;
}
