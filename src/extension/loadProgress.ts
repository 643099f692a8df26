// Loading a model with progress VS Code shows: the status bar while a load is quick; a
// notification with the engine's phases (reading, optimising for the first load of a file, loading
// from the optimised model cache, ready) as soon as the engine reports a large model or an
// optimisation, or the load takes longer than a moment.
import * as vscode from 'vscode';
import type { EngineClient } from '../engine/client';
import type { LoadProgressParams, LoadResult, ProviderSetting } from '../engine/protocol';

/** Models with this many bytes of weights get a notification from their first phase on. */
export const NOTIFY_BYTES = 100 * 2 ** 20;
/** Any load still running after this long gets one. */
export const NOTIFY_AFTER_MS = 1500;

export interface LoadOptions {
  /** How the model is named in the progress ("pMF: loading <label>"). */
  label: string;
  log?: vscode.LogOutputChannel;
  /** Each phase as the engine reports it (the Field Visualizer shows them in its panel). */
  onPhase?: (p: LoadProgressParams) => void;
  signal?: AbortSignal;
}

/** One line for the log: where the model runs, how long it took, what the optimised model cache did. */
export function describeLoad(path: string, load: LoadResult): string {
  const cache = load.modelCache;
  return `loaded ${path} on ${load.provider} in ${load.loadMs.toFixed(0)} ms` +
    (load.cached ? ' (already loaded)' : cache ? ` (optimised model cache: ${cache.state}${cache.reason ? `, ${cache.reason}` : ''})` : '') +
    (load.skipped.length ? ` (skipped ${load.skipped.map((s) => `${s.provider}: ${s.reason}`).join('; ')})` : '');
}

export async function loadWithProgress(engine: EngineClient, path: string, provider: ProviderSetting, opts: LoadOptions):
  Promise<LoadResult> {
  const title = `pMF: loading ${opts.label}`;
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title }, async (bar) => {
    let latest: LoadProgressParams | undefined;
    let notification: vscode.Progress<{ message?: string }> | undefined;
    let opened = false;
    let finish: () => void = () => {};
    const finished = new Promise<void>((r) => (finish = r));
    const openNotification = () => {
      if (opened) return;
      opened = true;
      void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, (p) => {
        notification = p;
        if (latest) p.report({ message: latest.message });
        return finished;
      });
    };
    const timer = setTimeout(openNotification, NOTIFY_AFTER_MS);
    try {
      return await engine.load(path, provider, opts.signal, undefined, (p) => {
        latest = p;
        opts.log?.info(`${opts.label}: ${p.message} (${p.elapsedMs.toFixed(0)} ms)`);
        opts.onPhase?.(p);
        bar.report({ message: p.message });
        if (p.phase === 'optimising' || (p.weightBytes ?? 0) >= NOTIFY_BYTES) openNotification();
        notification?.report({ message: p.message });
      });
    } finally {
      clearTimeout(timer);
      finish();
    }
  });
}
