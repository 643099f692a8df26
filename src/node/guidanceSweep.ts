// A guidance sweep: one pmf eval run (runEvalShard, unsharded) per guidance setting (omega and
// the interval [t_min, t_max], inputs of a pMF network), scored against reference statistics,
// and the setting with the lowest FD. Each setting has its own state file in `stateDir`, so an
// interrupted sweep resumes where it stopped (settings done are read back, the one under way
// resumes from its last block). Used by `pmf sweep` and, later, the Explore Guidance panel.
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { FlowSolver, PmfModelInfo, SamplingSettings } from '../core/checkpoint/types';
import type { FeatureNetInfo } from '../core/eval';
import type { EngineClient } from '../engine/client';
import type { LoadedReference } from './evalReference';
import { runEvalShard, scoreEval, type EvalProtocol, type EvalRequest, type EvalScores } from './evaluation';

/** omega and the interval [t_min, t_max]: what a sweep varies. */
export type GuidanceSetting = Omit<SamplingSettings, 'steps'>;

/**
 * An unsharded evaluation request but its guidance, for every setting: n samples per setting
 * (sample i: seed `seed` + i's noise and class i mod #classes, the same in every setting); keep 0
 * skips precision/recall and density/coverage (they cost the square).
 */
export interface SweepRequest extends Omit<EvalRequest, keyof GuidanceSetting | 'shard'> {
  settings: GuidanceSetting[];
  /** One state file per setting goes here. */
  stateDir: string;
}

export interface SweepProgress {
  /** The setting under way (0-based) of `settings`. */
  setting: number;
  settings: number;
  /** Its samples done, of total. */
  done: number;
  total: number;
  resumed: number;
}

export interface SweepRow extends GuidanceSetting {
  fd: number;
  classConsistency?: number;
  inceptionScore?: number;
  scores: EvalScores;
  protocol: EvalProtocol;
  statePath: string;
  /** Samples read back from the state file rather than generated. */
  resumed: number;
  seconds: number;
}

export interface SweepResult {
  model: PmfModelInfo;
  net: FeatureNetInfo;
  provider: string;
  reference: string;
  n: number;
  seed: number;
  steps: number;
  /** A flow-matching model's ODE solver (the protocol's); absent for MeanFlow models. */
  solver?: FlowSolver;
  rows: SweepRow[];
  /** The row with the lowest FD (the first of equals). */
  best: number;
}

/** Every omega with every interval, omega outermost; the interval [0, 1] when none is given. */
export function sweepSettings(omegas: readonly number[], intervals: ReadonlyArray<[number, number]> = [[0, 1]]): GuidanceSetting[] {
  const ivs = intervals.length ? intervals : [[0, 1] as [number, number]];
  return omegas.flatMap((omega) => ivs.map(([tMin, tMax]) => ({ omega, tMin, tMax })));
}

/** The state file of one setting (its name carries everything the protocol keys on but the files' hashes). */
export function settingStatePath(req: SweepRequest, s: GuidanceSetting): string {
  const model = basename(req.modelPath).replace(/\.onnx$/i, '').replace(/[^\w.-]+/g, '_');
  const solver = req.solver ? `-${req.solver}` : '';
  return join(req.stateDir, `${model}-n${req.n}-seed${req.seed}-steps${req.steps}${solver}-omega${s.omega}-t${s.tMin}-${s.tMax}.npz`);
}

/** Index of the lowest FD (the first of equals; NaN never wins). */
export function bestRow(rows: ReadonlyArray<{ fd: number }>): number {
  let best = -1;
  rows.forEach((r, i) => {
    if (Number.isFinite(r.fd) && (best < 0 || r.fd < rows[best].fd)) best = i;
  });
  return best;
}

/**
 * Runs and scores every setting of the sweep in order. onProgress sees each setting's samples;
 * log gets a line per finished setting. The signal stops the run between blocks of samples
 * (every finished block is in that setting's state file).
 */
export async function runGuidanceSweep(client: EngineClient, req: SweepRequest, ref: LoadedReference, signal: AbortSignal,
  onProgress: (p: SweepProgress) => void = () => {}, log: (line: string) => void = () => {}): Promise<SweepResult> {
  if (req.settings.length === 0) throw new Error('a guidance sweep needs at least one setting');
  mkdirSync(req.stateDir, { recursive: true });
  const rows: SweepRow[] = [];
  let model: PmfModelInfo | undefined;
  let net: FeatureNetInfo | undefined;
  let provider = '';
  const { settings: _settings, stateDir: _stateDir, ...evalBase } = req;
  for (const [i, s] of req.settings.entries()) {
    const statePath = settingStatePath(req, s);
    const t0 = performance.now();
    let resumed = 0;
    let r: Awaited<ReturnType<typeof runEvalShard>>;
    try {
      r = await runEvalShard(client, { ...evalBase, ...s, shard: { k: 0, of: 1 } }, statePath, signal, (p) => {
        resumed = p.resumed;
        onProgress({ setting: i, settings: req.settings.length, done: p.done, total: p.total, resumed: p.resumed });
      }, i === 0 ? log : () => {}, ref);
    } catch (e) {
      const msg = (e as Error).message;
      if (/holds an evaluation under other settings/.test(msg)) {
        throw new Error(`${msg.replace(/ Pass another --state.*$/, '')} Use another state folder for this sweep, or delete that file.`);
      }
      throw e;
    }
    model = r.model;
    net = r.net;
    provider = r.provider;
    const scores = await scoreEval(r.state, ref);
    const row: SweepRow = { ...s, fd: scores.fd.value, classConsistency: scores.classConsistency?.overall,
      inceptionScore: scores.inceptionScore?.mean, scores, protocol: r.state.protocol, statePath, resumed,
      seconds: (performance.now() - t0) / 1000 };
    rows.push(row);
    log(`omega ${s.omega}, interval [${s.tMin}, ${s.tMax}]: FD ${row.fd.toFixed(4)}` +
      (row.classConsistency === undefined ? '' : `, class-consistency ${row.classConsistency.toFixed(4)}`) +
      ` (${row.seconds.toFixed(1)} s${resumed ? `, ${resumed} samples resumed` : ''})`);
  }
  return { model: model!, net: net!, provider, reference: ref.path, n: req.n, seed: req.seed, steps: req.steps,
    solver: rows[0]?.protocol.sampling.solver, rows, best: bestRow(rows) };
}

/** The sweep as a table for people, the best setting marked. */
export function describeSweep(r: SweepResult): string {
  const hasCc = r.rows.some((x) => x.classConsistency !== undefined);
  const hasIs = r.rows.some((x) => x.inceptionScore !== undefined);
  const head = ['omega', 'interval', 'FD', ...(hasCc ? ['class-consistency'] : []), ...(hasIs ? ['IS'] : []), ''];
  const body = r.rows.map((x, i) => [String(x.omega), `[${x.tMin}, ${x.tMax}]`, x.fd.toFixed(4),
    ...(hasCc ? [x.classConsistency?.toFixed(4) ?? '-'] : []), ...(hasIs ? [x.inceptionScore?.toFixed(3) ?? '-'] : []),
    i === r.best ? '<- best' : '']);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((row) => row[c].length)));
  const line = (cells: string[]) => cells.map((v, c) => (c < 2 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ').trimEnd();
  const title = `${r.model.name || 'model'}: ${r.n} samples per setting (seed ${r.seed}; ${r.steps} ${r.solver ? `${r.solver} ` : ''}step(s)) in ${r.net.name}'s features, ` +
    `reference ${basename(r.reference)}`;
  return [title, line(head), ...body.map(line)].join('\n') + '\n';
}
