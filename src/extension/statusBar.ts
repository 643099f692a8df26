// Status bar item: the model in use and the execution provider it actually runs on.
import * as vscode from 'vscode';

export class EngineStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('pmf.status', vscode.StatusBarAlignment.Right, 100);

  constructor() {
    this.item.name = 'pMF Lab';
    this.item.command = 'pmf.selectProvider';
    this.idle();
    this.item.show();
  }

  idle(setting?: string): void {
    this.item.text = '$(sparkle) pMF';
    this.item.tooltip = `pMF Lab: no model loaded${setting ? ` (provider setting: ${setting})` : ''}. Click to choose the execution provider.`;
    this.item.backgroundColor = undefined;
  }

  model(name: string, provider: string, skipped: Array<{ provider: string; reason: string }>): void {
    this.item.text = `$(sparkle) ${name} \u00b7 ${provider}`;
    const md = new vscode.MarkdownString(`**pMF Lab**: ${name} runs on **${provider}**.`);
    for (const s of skipped) md.appendMarkdown(`\n\n${s.provider} not used: ${s.reason}`);
    md.appendMarkdown('\n\nClick to choose the execution provider.');
    this.item.tooltip = md;
    this.item.backgroundColor = undefined;
  }

  crashed(): void {
    this.item.text = '$(warning) pMF engine restarted';
    this.item.tooltip = 'The pMF engine process stopped and will restart on the next request. See pMF: Show Log.';
    this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
  }

  dispose(): void {
    this.item.dispose();
  }
}
