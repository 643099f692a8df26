// HTML shell for pMF Lab's webviews: strict CSP with a per-load nonce, local resources only.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

export function nonce(): string {
  return randomBytes(16).toString('base64');
}

export interface WebviewPage {
  title: string;
  /** Script file in dist/webview (bundled by esbuild). */
  script: string;
  /** Stylesheet in dist/webview. */
  style: string;
  /** Further stylesheets in dist/webview, loaded before `style`. */
  extraStyles?: string[];
  /** Inner HTML of <body> (static markup; no inline scripts or styles). */
  body: string;
}

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, page: WebviewPage): string {
  const n = nonce();
  const asset = (f: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', f)).toString();
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} blob: data:`,
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${n}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('codicon.css')}" id="vscode-codicon-stylesheet">
<link rel="stylesheet" href="${asset('base.css')}">
${(page.extraStyles ?? []).map((f) => `<link rel="stylesheet" href="${asset(f)}">`).join('\n')}
<link rel="stylesheet" href="${asset(page.style)}">
<title>${page.title}</title>
</head>
<body>
${page.body}
<script nonce="${n}" src="${asset(page.script)}"></script>
</body>
</html>`;
}
