// pMF: Inspect Checkpoint: opens a checkpoint in the inspector (from the explorer's context
// menu, the command palette with a file picker, or the file in the active tab).
import * as vscode from 'vscode';
import { CHECKPOINT_EXTENSIONS, CheckpointInspectorProvider } from '../inspector/inspectorEditor';


function isCheckpoint(uri: vscode.Uri | undefined): uri is vscode.Uri {
  const ext = uri?.path.split('.').pop()?.toLowerCase();
  return !!ext && CHECKPOINT_EXTENSIONS.includes(ext);
}

/** The checkpoint in the active tab when another editor shows it (text, hex, ...); one already in the inspector is not offered again. */
function activeTabUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputText) return input.uri;
  if (input instanceof vscode.TabInputCustom && input.viewType !== CheckpointInspectorProvider.viewType) return input.uri;
  return undefined;
}

export async function inspectCheckpoint(arg?: unknown): Promise<vscode.Uri | undefined> {
  let uri = arg instanceof vscode.Uri ? arg : undefined;
  if (!uri) {
    const active = activeTabUri();
    if (isCheckpoint(active)) uri = active;
  }
  if (!uri) {
    uri = (await vscode.window.showOpenDialog({
      canSelectMany: false,
      openLabel: 'Inspect',
      title: 'pMF: Inspect Checkpoint',
      filters: { 'Checkpoints': CHECKPOINT_EXTENSIONS, 'All files': ['*'] },
    }))?.[0];
  }
  if (!uri) return undefined;
  await vscode.commands.executeCommand('vscode.openWith', uri, CheckpointInspectorProvider.viewType);
  return uri;
}
