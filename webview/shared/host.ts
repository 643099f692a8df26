// What every pMF Lab webview needs from its host page: the VS Code API (acquired once, as VS Code
// allows), a sender that validates each message against the panel's protocol before it leaves,
// and element lookup by id.
import type { z } from 'zod';

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export const vscode = acquireVsCodeApi();

/** A send function for one panel's webview -> host messages (zod-validated, like the host's side). */
export function sender<S extends z.ZodType>(schema: S): (msg: z.infer<S>) => void {
  return (msg) => vscode.postMessage(schema.parse(msg));
}

export const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
