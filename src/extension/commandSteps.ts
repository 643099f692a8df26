// Steps the multi-step commands (Generate Samples, Evaluate Checkpoint) share: loading the picked
// model with its log line and status bar entry, whole-number input boxes, and error messages.
import * as vscode from 'vscode';
import type { EngineClient } from '../engine/client';
import type { LoadResult } from '../engine/protocol';
import { describeLoad, loadWithProgress } from './loadProgress';
import type { PickedModel } from './modelPicker';
import { providerSetting } from './settings';
import type { EngineStatus } from './statusBar';

/** An input box's validateInput for an integer from lo to hi (hi may depend on an earlier answer). */
export function intValidator(lo: number, hi: number | (() => number)) {
  const top = typeof hi === 'number' ? () => hi : hi;
  return (v: string) => (/^\d+$/.test(v.trim()) && +v >= lo && +v <= top() ? undefined : `An integer from ${lo} to ${top()}`);
}

/** The error in a message (with Show Log) and in the log. */
export function showCommandError(e: unknown, log: vscode.LogOutputChannel): void {
  const message = e instanceof Error ? e.message : String(e);
  log.error(message);
  void vscode.window.showErrorMessage(`pMF: ${message}`, 'Show Log').then((a) => a && log.show());
}

/**
 * Loads the picked model on the provider setting (with progress: loadWithProgress), logs how and
 * its checkpoint's warnings, and shows it in the status bar; undefined (the error shown) when it fails.
 */
export async function loadPickedModel(deps: { engine: EngineClient; log: vscode.LogOutputChannel; status: EngineStatus },
  model: PickedModel): Promise<LoadResult | undefined> {
  let load: LoadResult;
  try {
    // a large model shows its load phases in a notification (reading, optimising or the cache, ready)
    load = await loadWithProgress(deps.engine, model.path, providerSetting(), { label: model.label, log: deps.log });
  } catch (e) {
    showCommandError(e, deps.log);
    return undefined;
  }
  deps.log.info(describeLoad(model.path, load));
  deps.status.model(load.info.name || model.label, load.provider, load.skipped);
  for (const w of load.info.warnings) deps.log.warn(`${model.label}: ${w}`);
  return load;
}
