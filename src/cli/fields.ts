// pmf fields: the Field Visualizer's trajectory and measurements without VS Code, for scripts,
// servers and paper figures. The same engine requests (viz/trajectory, viz/measure,
// viz/consistency) as the panel, so the numbers are the panel's.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { measurement, type MeasurementSeries } from '../core/analysis';
import type { PmfModelInfo } from '../core/checkpoint/types';
import { FieldLayout } from '../core/fieldLayout';
import { parseClasses } from '../core/generationPlan';
import { parseSeeds } from '../core/seeds';
import { TOY_TRAJECTORY_POINTS, trajectorySeeds } from '../core/trajectory';
import { nonFiniteFields } from '../node/nonFinite';
import { encodeNpy } from '../node/npy';
import { writeFileAtomic } from '../node/outputFiles';
import { engine, EXIT, loadInfo, num, provider, solverOption, UsageError } from './common';

export const FIELDS_USAGE = `  pmf fields MODEL [--mode pmf|ode] [--steps N] [--ode-steps K] [--seeds 0-3] [--class C[,C...]]
             [--omega W] [--t-min A] [--t-max B] [--r-fraction F] [--patch P] [--consistency S]
             [--solver euler|heun] [--json] [--npy FILE] [--provider P] [--quiet]
      The fields z_t, x, u, v along a trajectory (the pMF N-step sampler, or the v-ODE with K
      Euler steps) and what the Field Visualizer measures of them at each t: effective
      dimension of P x P patches (participation ratio, components for 95 % of the variance),
      high-frequency share, RMS; toy models: the off-plane norm. --consistency S adds the
      MeanFlow consistency with S fine steps. x and u are taken at r = F t (default: at each
      sampler step's own r). --npy writes the fields [frames, 4, n, ...] (all or nothing).
      NaN or infinite fields are an error (exit 1): their count, and nothing written.
      Toy models use ${TOY_TRAJECTORY_POINTS} points from the first seed. A flow-matching model's
      trajectory is its ODE (--mode ode, the default there) with --solver (default: the
      model's) and K solver steps per unit of t (default: its default_sampling steps); u and x
      at r = F t come from the ODE solution z_r (the paper's Fig. 1; default F = 0).`;

/** Samples of an image model's trajectory at most. */
const MAX_SAMPLES = 64;

export async function cmdFields(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, strict: true, allowPositionals: true, options: {
      mode: { type: 'string' }, steps: { type: 'string' }, 'ode-steps': { type: 'string' }, seeds: { type: 'string' },
      class: { type: 'string' }, omega: { type: 'string' }, 't-min': { type: 'string' }, 't-max': { type: 'string' },
      patch: { type: 'string' }, consistency: { type: 'string' }, 'r-fraction': { type: 'string' }, json: { type: 'boolean' }, npy: { type: 'string' },
      provider: { type: 'string' }, quiet: { type: 'boolean' }, solver: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('fields takes one MODEL');
  const { path, info } = loadInfo(positionals[0]);
  const flow = info.modelType === 'flow-matching';
  const solver = solverOption(values.solver, info, path);
  const mode = values.mode ?? (flow ? 'ode' : 'pmf');
  if (mode !== 'pmf' && mode !== 'ode') throw new UsageError(`--mode must be pmf or ode, got '${mode}'`);
  if (flow && mode !== 'ode') {
    throw new UsageError(`${positionals[0]} is a flow-matching model: it has no N-step MeanFlow sampler, its trajectory is its ODE's (--mode ode)`);
  }
  if (flow && values.consistency !== undefined) {
    throw new UsageError(`${positionals[0]} is a flow-matching model: its u is the ODE's average velocity by construction, so --consistency has nothing to check`);
  }
  let seeds: number[];
  let classes: number[];
  try {
    seeds = parseSeeds(values.seeds ?? '0-3', MAX_SAMPLES);
    classes = parseClasses(values.class, info);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  seeds = trajectorySeeds(info.kind, seeds);
  const d = info.defaultSampling;
  const steps = num(values.steps, 'steps', 16, true);
  const odeSteps = num(values['ode-steps'], 'ode-steps', flow ? d.steps : 128, true);
  const patch = num(values.patch, 'patch', 4, true);
  const fine = num(values.consistency, 'consistency', 0, true);
  if (steps < 1 || odeSteps < 1 || fine < 0) throw new UsageError('--steps and --ode-steps must be at least 1, --consistency at least 0');
  // a flow-matching network has no r: u and x at r = F t from the ODE, down to r = 0 by default
  const rFraction = values['r-fraction'] === undefined ? (flow ? 0 : 'step' as const) : num(values['r-fraction'], 'r-fraction', 0);
  if (rFraction !== 'step' && !(rFraction >= 0 && rFraction <= 1)) throw new UsageError('--r-fraction must be between 0 and 1');
  const cond = {
    labels: info.numClasses > 0 ? seeds.map((_, i) => classes[i % classes.length]) : undefined,
    omega: num(values.omega, 'omega', d.omega), tMin: num(values['t-min'], 't-min', d.tMin), tMax: num(values['t-max'], 't-max', d.tMax),
  };
  const log = values.quiet ? () => {} : (s: string) => process.stderr.write(s);
  const progress = (what: string) => (done: number, total: number) => log(`\r${what}: ${done}/${total}`);

  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const client = engine();
  try {
    const load = await client.load(path, provider(values.provider), ac.signal);
    const tr = await client.trajectory({ modelId: load.modelId, mode, seeds, ...cond, steps, odeSteps, rFraction, ...(solver ? { solver } : {}) },
      ac.signal, progress('trajectory (network calls)'));
    log('\n');
    const shown = tr.fields ?? tr.toy?.plane;
    const bad = shown && nonFiniteFields(shown, tr.times);
    if (bad) {
      throw new Error(`${path} returned NaN or infinite values along the trajectory: ${bad}. Nothing was written. ` +
        `Try --provider cpu, fewer --steps${info.hasCfg ? ' or a smaller --omega' : ''}; if the values stay non-finite, ` +
        `look for NaN or infinite weights with: pmf inspect --stats ${path}`);
    }
    const m = await client.measure(tr.trajectoryId, patch, ac.signal, (p) => log(`\rmeasuring: ${p.frame + 1}/${p.frames} frames`));
    log('\n');
    let consistency: number[] | undefined;
    if (fine > 0) {
      consistency = (await client.consistency(tr.trajectoryId, fine, ac.signal, progress('consistency (fine steps)'))).relativeError;
      log('\n');
    }
    if (values.npy) {
      const frames = tr.times.length;
      const layout = FieldLayout.of(seeds.length, info.sampleShape);
      let fields = tr.fields;
      if (!fields) { // toys: the trajectory reply holds their data-plane view only
        fields = new Float32Array(frames * layout.frameSize);
        for (let f = 0; f < frames; f++) layout.frames(fields, f).set((await client.frameData(tr.trajectoryId, f)).fields);
      }
      const file = resolve(values.npy);
      await writeFileAtomic(file, encodeNpy(fields, [frames, 4, seeds.length, ...info.sampleShape]), 'pass another --npy FILE');
      log(`fields [${[frames, 4, seeds.length, ...info.sampleShape].join(', ')}] (z, x, u, v) written to ${file}\n`);
    }
    const settings = { mode, steps, odeSteps: mode === 'ode' ? odeSteps : undefined,
      solver: flow ? solver ?? info.defaultSolver ?? 'euler' : undefined, seeds: info.kind === 'toy' ? `${seeds[0]}+${TOY_TRAJECTORY_POINTS}` : seeds,
      labels: cond.labels, omega: cond.omega, tMin: cond.tMin, tMax: cond.tMax, rFraction,
      patchSize: info.kind === 'image' ? patch : undefined };
    if (values.json) {
      process.stdout.write(JSON.stringify({ model: info.name, path, provider: load.provider, settings, times: tr.times, rs: tr.rs,
        measurements: m.measurements, consistency, ms: { trajectory: tr.ms, measurements: m.ms } }, null, 1) + '\n');
    } else {
      process.stdout.write(describeFields(info, load.provider, tr.times, tr.rs, m.measurements, consistency));
    }
    return EXIT.ok;
  } finally {
    process.removeListener('SIGINT', onSigint);
    await client.dispose();
  }
}

// The table's columns and their names come from the table of measurements (src/core/analysis/measurementTable.ts).
const PR = measurement('participationRatio');
const C95 = measurement('components95');
const HF = measurement('highFrequencyShare');
const OFF = measurement('offPlaneNorm');
/** The fields with a column each (z, the noise, has none). */
const COLUMN_FIELDS = ['x', 'u', 'v'] as const;
/** Width of a measurement's column. */
const WIDTH = 6;

/** The table: one row per frame, the fields' effective dimension and spectrum (toys: off-plane norm). */
export function describeFields(info: PmfModelInfo, provider: string, times: number[], rs: number[], m: MeasurementSeries,
  consistency?: number[]): string {
  const f3 = (x: number) => x.toFixed(3).padStart(6);
  const toy = info.kind === 'toy';
  const shown = [PR, C95, toy ? OFF : HF];
  const side = Math.round(Math.sqrt(m.patchDim / (info.channels ?? 1)));
  const lines = [
    `${info.name} on ${provider}: ${times.length} frames, t from ${times[0]} to ${times[times.length - 1]}`,
    toy
      ? `effective dimension of the points (of ${m.patchDim} at most); ${OFF.label}: distance from the data plane`
      : `effective dimension of ${side}x${side} patches (d = ${m.patchDim}): ${PR.label} (${PR.short}) and ${C95.label}; ` +
        `${HF.short}: ${HF.label} (${HF.reference.label} ${HF.reference.value})`,
    '',
    ['    t', '     r', ...shown.flatMap((spec) => COLUMN_FIELDS.map((f) => `${spec.short} ${f}`.padStart(WIDTH))),
      ...(consistency ? ['consist'] : [])].join(' '),
  ];
  times.forEach((t, f) => {
    lines.push([t.toFixed(3).padStart(5), rs[f].toFixed(3).padStart(6),
      ...shown.flatMap((spec) => COLUMN_FIELDS.map((field) => m[spec.key]![field][f].toFixed(spec.digits).padStart(WIDTH))),
      ...(consistency ? [f3(consistency[f]).padStart(7)] : [])].join(' '));
  });
  return lines.join('\n') + '\n';
}
