// What every pMF Lab panel's host side shares: the webview options (scripts on, local resources
// from dist/webview only) and the typed channel to its webview (src/shared/channel.ts) over
// postMessage, logging what it drops to the extension's log.
import * as vscode from 'vscode';
import { Channel, type ChannelOptions } from '../shared/channel';
import type { z } from 'zod';

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')] };
}

/** The host's end of a panel's channel: validates what it posts (outgoing) and what arrives (incoming). */
export function hostChannel<In extends { type: string }, Out extends { type: string }>(name: string, webview: vscode.Webview,
  schemas: { incoming: z.ZodType<In>; outgoing: z.ZodType<Out> }, opts: ChannelOptions<In>): Channel<In, Out> {
  return new Channel(name, {
    post: (m) => webview.postMessage(m),
    listen: (fn) => webview.onDidReceiveMessage(fn),
  }, schemas, opts);
}
