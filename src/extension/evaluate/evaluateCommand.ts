// pMF: Evaluate Checkpoint — pick a model, a feature network, reference statistics, a count, a
// seed and the sampling settings; run the evaluation (runEvalShard of src/node/evaluation.ts, as
// `pmf eval`) with progress and cancel, score it in its own process (scoring.ts), write the results
// JSON into the workspace's pmf-eval/ folder and open it. A cancelled run keeps its state file
// (saved every 1024 samples): the same settings resume it.
import { existsSync, mkdirSync } from 'node:fs';
import * as vscode from 'vscode';
import { costDefaults } from '../../core/costDefaults';
import type { EngineClient } from '../../engine/client';
import type { LoadResult } from '../../engine/protocol';
import type { LoadedReference } from '../../node/evalReference';
import { readEvalState } from '../../node/evalState';
import { DEFAULT_KEEP, DEFAULT_SPLITS, describeScores, EVAL_BLOCK, runEvalShard, type EvalRequest } from '../../node/evaluation';
import { intValidator, loadPickedModel, showCommandError } from '../commandSteps';
import { modelFromUri, pickModel, type PickedModel } from '../modelPicker';
import { pickSampling } from '../samplingPick';
import { explicitBatchSize, providerSetting } from '../settings';
import type { EngineStatus } from '../statusBar';
import { evalFolder, resultsPathFor, statePathFor } from './evalFiles';
import { pickFeatureNet, pickReference, type PickedReference } from './evalPickers';
import { obtainReference } from './referenceStats';
import { scoreInProcess, type ScoredRun } from './scoring';

const COMMAND = 'pMF: Evaluate Checkpoint';
const STATE_KEY = 'pmf.evaluate.last';
const MAX_N = 1_000_000;

interface Remembered {
  modelPath?: string;
  netPath?: string;
  ref?: PickedReference;
  n?: number;
  seed?: number;
}

export interface EvaluateDeps {
  context: vscode.ExtensionContext;
  engine: EngineClient;
  log: vscode.LogOutputChannel;
  status: EngineStatus;
}

/** What a finished evaluation wrote (the command's return value). */
export interface EvaluateOutcome {
  resultsPath: string;
  statePath: string;
  results: ScoredRun;
}

/** State files of the runs in progress: two runs of the same settings would write the same file. */
const running = new Set<string>();

/** pmf.batchSize when the user set it; otherwise 64 a batch (as pmf eval) for a cheap model, the model's own batch for an expensive one. */
function evalBatch(load: LoadResult): number {
  const explicit = explicitBatchSize();
  if (explicit !== undefined) return explicit;
  const cost = costDefaults(load.info);
  return cost.flopsPerImage <= 1e9 ? 64 : Math.max(1, cost.generateBatch);
}

/** Says how far a cancelled run got and that the same settings resume it from its state file. */
async function reportCancelled(statePath: string, n: number, log: vscode.LogOutputChannel): Promise<void> {
  const saved = existsSync(statePath) ? await readEvalState(statePath).then((s) => s.done, () => 0) : 0;
  const rel = vscode.workspace.asRelativePath(statePath);
  const message = saved > 0
    ? `pMF: evaluation cancelled; no results were written. ${saved} of ${n} samples are saved in ${rel}: run ${COMMAND} ` +
      'again with the same model, feature network, count, seed and sampling and it resumes from there.'
    : `pMF: evaluation cancelled before its first ${EVAL_BLOCK} samples were saved; no results were written ` +
      `(the state is saved every ${EVAL_BLOCK} samples, in ${rel}, and a run with the same settings resumes from it).`;
  log.info(message);
  void vscode.window.showInformationMessage(message);
}

export async function evaluateCheckpoint(deps: EvaluateDeps, preselected?: vscode.Uri): Promise<EvaluateOutcome | undefined> {
  const folder = evalFolder();
  if (!folder) {
    void vscode.window.showErrorMessage(`pMF: ${COMMAND} writes its results into the workspace folder (pmf-eval/): open a folder first.`);
    return undefined;
  }
  const last = deps.context.globalState.get<Remembered>(STATE_KEY, {});
  const extensionPath = deps.context.extensionPath;
  const model: PickedModel | undefined = preselected ? modelFromUri(extensionPath, preselected)
    : await pickModel(extensionPath, last.modelPath, `${COMMAND} (1/4): model`);
  if (!model) return undefined;
  const load = await loadPickedModel(deps, model);
  if (!load) return undefined;
  const info = load.info;
  if (info.kind !== 'image') {
    void vscode.window.showInformationMessage(`pMF: ${info.name || model.label} is a toy model: ${COMMAND} scores image models ` +
      '(FD and the rest compare images in a feature network\'s features).');
    return undefined;
  }

  const net = await pickFeatureNet(extensionPath, last.netPath, `${COMMAND} (2/4): feature network`);
  if (!net) return undefined;
  const refPick = await pickReference(last.ref, `${COMMAND} (3/4): reference statistics`);
  if (!refPick) return undefined;
  const nText = await vscode.window.showInputBox({ title: `${COMMAND}: Number of samples`, value: String(last.n ?? 10000),
    prompt: 'FD is biased upward at small counts: compare scores at the same count (10000 is the usual one)',
    validateInput: intValidator(2, MAX_N) });
  if (nText === undefined) return undefined;
  const n = Number(nText);
  const seedText = await vscode.window.showInputBox({ title: `${COMMAND}: Seed (sample i uses seed + i, class i mod #classes)`,
    value: String(last.seed ?? 0), validateInput: intValidator(0, () => 0xffffffff - n) });
  if (seedText === undefined) return undefined;
  const settings = await pickSampling(info, `${COMMAND} (4/4): sampling`, COMMAND);
  if (!settings) return undefined;
  await deps.context.globalState.update(STATE_KEY, { modelPath: model.path, netPath: net.path, ref: refPick, n, seed: Number(seedText) });

  const provider = providerSetting();
  const req: EvalRequest = {
    modelPath: model.path, netPath: net.path, provider, n, seed: Number(seedText), ...settings,
    batchSize: evalBatch(load), keep: DEFAULT_KEEP, splits: DEFAULT_SPLITS, shard: { k: 0, of: 1 },
  };
  let statePath: string;
  try {
    mkdirSync(folder, { recursive: true });
    statePath = statePathFor(folder, model, req);
  } catch (e) {
    showCommandError(e, deps.log);
    return undefined;
  }
  if (running.has(statePath)) {
    void vscode.window.showWarningMessage(`pMF: an evaluation of ${model.label} with these settings is already running.`);
    return undefined;
  }
  running.add(statePath);
  const stop = new AbortController();
  try {
    const t0 = performance.now();
    const resultsPath = resultsPathFor(folder, model);
    const { run, ref, resumed, results } = await vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification, title: `pMF: evaluating ${model.label} (${n} samples)`, cancellable: true,
    }, async (progress, token) => {
      token.onCancellationRequested(() => stop.abort());
      const ref: LoadedReference = await obtainReference(refPick, net, { engine: deps.engine, provider, folder, log: deps.log },
        stop.signal, (message) => progress.report({ message }));
      let shown = 0;
      let resumed = 0;
      const run = await runEvalShard(deps.engine, req, statePath, stop.signal, (p) => {
        progress.report({ increment: ((p.done - shown) / p.total) * 100,
          message: `samples ${p.done}/${p.total}${p.resumed ? ` (${p.resumed} resumed)` : ''}` });
        shown = p.done;
        resumed = p.resumed;
      }, (line) => {
        deps.log.info(line);
        progress.report({ message: line });
      }, ref); // a reference that does not fit the network fails here, before any sample is made
      progress.report({ message: 'scoring: FD, class-consistency, IS, precision/recall, density/coverage' });
      const results = await scoreInProcess(deps.context.asAbsolutePath('dist/cli.js'), statePath, ref.path, resultsPath, stop.signal);
      return { run, ref, resumed, results };
    });
    const { protocol, scores } = results;
    const secs = (performance.now() - t0) / 1000;
    const from = resumed ? ` (${resumed} of them resumed from ${vscode.workspace.asRelativePath(statePath)})` : '';
    deps.log.info(`evaluated ${model.path}: ${n} samples${from} on ${run.provider} in ${secs.toFixed(1)} s (generation ` +
      `${(run.generateMs / 1000).toFixed(1)} s, features ${(run.featuresMs / 1000).toFixed(1)} s); ` +
      `results ${resultsPath}, state ${statePath}\n${describeScores(protocol, scores, ref.path).trimEnd()}`);
    for (const note of scores.notes) deps.log.warn(note);
    await vscode.window.showTextDocument(vscode.Uri.file(resultsPath), { preview: false });
    const cc = scores.classConsistency ? `, class-consistency ${scores.classConsistency.overall.toFixed(4)}` : '';
    void vscode.window.showInformationMessage(`pMF: ${model.label}: FD ${scores.fd.value.toFixed(4)}${cc} ` +
      `(${scores.n} samples${from} in ${net.label}'s features; all scores in ${vscode.workspace.asRelativePath(resultsPath)})`, 'Show Log')
      .then((a) => a && deps.log.show());
    return { resultsPath, statePath, results };
  } catch (e) {
    if (stop.signal.aborted) {
      await reportCancelled(statePath, n, deps.log);
      return undefined;
    }
    showCommandError(e, deps.log);
    return undefined;
  } finally {
    running.delete(statePath);
  }
}
