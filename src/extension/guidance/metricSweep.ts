// The metric sweep of pMF: Explore Guidance: FD and class-consistency of the model at each omega
// of the grid (one interval), computed in the background by node/guidanceSweep.ts (as `pmf sweep`:
// one pmf eval run per setting with its own state file, so a stopped sweep resumes and one run
// again is read back), with its progress, Stop, and the lowest FD marked. Cheap by default
// (1024 samples per omega, no precision/recall), and the panel says so. The evaluator: for the
// bundled Fashion-MNIST model the bundled classifier and the Fashion-MNIST test set (statistics
// made once into pmf-eval/), else a feature network and reference statistics picked as in
// Evaluate Checkpoint (evalPickers.ts).
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { LogOutputChannel } from 'vscode';
import type { PmfModelInfo } from '../../core/checkpoint/types';
import { costDefaults } from '../../core/costDefaults';
import type { EngineClient } from '../../engine/client';
import type { ProviderSetting } from '../../engine/protocol';
import { listBundledModels } from '../../node/bundled';
import { DEFAULT_SPLITS } from '../../node/evaluation';
import { bestRow, runGuidanceSweep, type GuidanceSetting } from '../../node/guidanceSweep';
import type { EvaluatorView, SweepView } from '../../shared/protocol/guidance';
import { evalFolder } from '../evaluate/evalFiles';
import { bundledFeatureNets, hasFashionMnistTest, type PickedNet, type PickedReference } from '../evaluate/evalPickers';
import { obtainReference } from '../evaluate/referenceStats';

/** The bundled model whose evaluator ships too, and that evaluator's file name. */
const FASHION_MODEL = 'fashion-mnist';
const FASHION_NET = 'fashion-mnist-classifier';

export interface Evaluator {
  net: PickedNet;
  ref: PickedReference;
  /** How pmf names the network on a command line (the bundled name, or the path). */
  netSpec: string;
}

/** The evaluator that needs no questions: the bundled model with its classifier and the Fashion-MNIST test set installed. */
export function knownEvaluator(extensionPath: string, modelPath: string): Evaluator | undefined {
  const bundled = listBundledModels(extensionPath).find((m) => m.path === modelPath);
  if (bundled?.name !== FASHION_MODEL || !hasFashionMnistTest()) return undefined;
  const net = bundledFeatureNets(extensionPath).find((n) => n.label === FASHION_NET);
  return net && { net, ref: { kind: 'fashion-mnist-test' }, netSpec: FASHION_NET };
}

export function evaluatorView(known: Evaluator | undefined): EvaluatorView {
  return known
    ? { ready: true, description: `${known.net.label}'s features against the Fashion-MNIST test set` }
    : { ready: false, description: 'a feature network and reference statistics, picked when the sweep starts (as in Evaluate Checkpoint)' };
}

/** Where the sweep keeps its reference and state files: the workspace's pmf-eval/, else the temp folder. */
export function sweepFolder(): string {
  return evalFolder() ?? join(tmpdir(), 'pmf-eval');
}

/** Samples per batch: 64 for a cheap model (as pmf eval), the model's own batch for an expensive one. */
function sweepBatch(info: PmfModelInfo, explicit: number | undefined): number {
  if (explicit !== undefined) return explicit;
  const cost = costDefaults(info);
  return cost.flopsPerImage <= 1e9 ? 64 : Math.max(1, cost.generateBatch);
}

export interface SweepDeps {
  engine: EngineClient;
  provider: ProviderSetting;
  log: LogOutputChannel;
  /** pmf.batchSize when the user set it. */
  batchSize?: number;
}

export interface SweepPlan {
  modelPath: string;
  info: PmfModelInfo;
  settings: GuidanceSetting[];
  n: number;
  seed: number;
  steps: number;
}

/** The sweep's outcome beyond what the page sees: the paths its command lines name. */
export interface SweepOutcome {
  view: SweepView;
  netSpec: string;
  referencePath?: string;
}

/**
 * Runs the sweep, one setting after the other, and reports its view after every change (a
 * setting's progress at most every 200 ms, each finished setting, the end). Stop (the signal)
 * ends it between blocks of samples: the settings done stay, the one under way keeps its state file.
 */
export async function runMetricSweep(deps: SweepDeps, plan: SweepPlan, ev: Evaluator, signal: AbortSignal,
  onView: (v: SweepView) => void): Promise<SweepOutcome> {
  const folder = sweepFolder();
  const view: SweepView = { status: 'running', settings: plan.settings, n: plan.n, seed: plan.seed, rows: [],
    net: ev.net.label, message: 'reading the reference statistics' };
  const outcome: SweepOutcome = { view, netSpec: ev.netSpec };
  const show = () => onView({ ...view, rows: [...view.rows] });
  show();
  try {
    mkdirSync(folder, { recursive: true });
    const ref = await obtainReference(ev.ref, ev.net, {
      engine: deps.engine, provider: deps.provider, folder, log: deps.log,
    }, signal, (message) => {
      view.message = message;
      show();
    });
    view.reference = basename(ref.path);
    outcome.referencePath = ref.path;
    view.message = undefined;
    // one state folder per feature network: a setting's state file names the model and settings, not the network
    const stateDir = join(folder, 'guidance-sweep', basename(ev.net.path).replace(/\.onnx$/i, ''));
    let last = 0;
    for (const [i, s] of plan.settings.entries()) {
      if (signal.aborted) break;
      view.progress = { setting: i, done: 0, total: plan.n };
      show();
      const r = await runGuidanceSweep(deps.engine, {
        modelPath: plan.modelPath, netPath: ev.net.path, provider: deps.provider, n: plan.n, seed: plan.seed, steps: plan.steps,
        batchSize: sweepBatch(plan.info, deps.batchSize), keep: 0, splits: DEFAULT_SPLITS, settings: [s], stateDir,
      }, ref, signal, (p) => {
        const now = performance.now();
        if (p.done < p.total && now - last < 200) return;
        last = now;
        view.progress = { setting: i, done: p.done, total: p.total };
        show();
      }, (line) => deps.log.info(line));
      const row = r.rows[0];
      view.rows.push({ omega: row.omega, tMin: row.tMin, tMax: row.tMax, fd: row.fd, classConsistency: row.classConsistency,
        seconds: row.seconds, resumed: row.resumed });
      const best = bestRow(view.rows);
      view.best = best < 0 ? undefined : best;
      show();
    }
    view.status = view.rows.length === plan.settings.length ? 'done' : 'stopped';
  } catch (e) {
    view.status = signal.aborted ? 'stopped' : 'failed';
    if (!signal.aborted) view.message = e instanceof Error ? e.message : String(e);
  }
  view.progress = undefined;
  if (view.status === 'stopped') view.message = `stopped after ${view.rows.length} of ${plan.settings.length} settings; ` +
    'the one under way keeps its state file, and the same sweep resumes it';
  show();
  return outcome;
}
