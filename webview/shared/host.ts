// What every pMF Lab webview needs from its host page: the VS Code API (acquired once, as VS Code
// allows), the webview's end of its panel's typed channel (src/shared/channel.ts), and element
// lookup by id.
import type { z } from 'zod';
import { Channel } from '../../src/shared/channel';

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export const vscode = acquireVsCodeApi();

/** The webview's end of a panel's channel: validates what it posts (outgoing) and what arrives (incoming). */
export function webviewChannel<In extends { type: string }, Out extends { type: string }>(name: string,
  schemas: { incoming: z.ZodType<In>; outgoing: z.ZodType<Out> }): Channel<In, Out> {
  return new Channel(name, {
    post: (m) => vscode.postMessage(m),
    listen: (fn) => {
      const listener = (ev: MessageEvent) => fn(ev.data);
      window.addEventListener('message', listener);
      return { dispose: () => window.removeEventListener('message', listener) };
    },
  }, schemas, {
    log: { warn: (t) => console.error(t), error: (t) => console.error(t) },
    onError: (e) => console.error(`${name}:`, e),
  });
}

export const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
