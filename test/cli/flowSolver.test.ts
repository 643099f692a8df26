// --solver in pmf fields, pmf eval and pmf sweep, as a user runs them: a flow-matching model's ODE
// solver (its default_sampling's when absent) reaches the samples and the trajectory, is kept in
// the evaluation protocol and in the commands a sweep prints; on a MeanFlow model it is a usage
// error, as in pmf generate. Fields on the fixture fm-x-two-pass (8x8, Heun default, two-pass CFG);
// eval and sweep on the bundled flow-matching model (28x28 Fashion-MNIST, so the bundled
// classifier takes its images; nothing here depends on how well it is trained).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { CLI, FM_FIXTURE, requireBuilt } from '../helpers/paths';

const tmp = mkdtempSync(join(tmpdir(), 'pmf-cli-solver-'));
const REF = join(tmp, 'fashion-test-ref.npz');
const FM = FM_FIXTURE('fm-x-two-pass');

function pmf(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface FieldsJson {
  settings: { mode: string; odeSteps?: number; solver?: string; rFraction: number | 'step' };
  times: number[];
  rs: number[];
  measurements: { rms: Record<'z' | 'x' | 'u' | 'v', number[]> };
}

function fields(...args: string[]): FieldsJson {
  const r = pmf('fields', FM, '--steps', '4', '--seeds', '0-1', '--json', '--quiet', ...args);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as FieldsJson;
}

before(() => {
  requireBuilt();
  const r = pmf('eval-ref', '--net', 'fashion-mnist-classifier', '--fashion-mnist', 'test', '--out', REF, '--keep', '0');
  assert.equal(r.code, 0, r.err);
});

test('pmf fields on a flow-matching model: its ODE with the model\'s solver and steps, u and x from z_r; --solver changes them', () => {
  const heun = fields();
  assert.equal(heun.settings.mode, 'ode', 'the ODE by default');
  assert.equal(heun.settings.solver, 'heun', 'the model\'s default_sampling solver');
  assert.equal(heun.settings.odeSteps, 4, 'the model\'s default_sampling steps per unit of t');
  assert.equal(heun.settings.rFraction, 0);
  assert.deepEqual(heun.times, [1, 0.75, 0.5, 0.25, 0]);
  assert.deepEqual(heun.rs, [0, 0, 0, 0, 0], 'u and x down to r = 0 by default');
  const euler = fields('--solver', 'euler');
  assert.equal(euler.settings.solver, 'euler');
  // frame 0 is z_1 in both; its x (= z_0 of the ODE from z_1) depends on the solver
  assert.equal(euler.measurements.rms.z[0], heun.measurements.rms.z[0]);
  assert.notEqual(euler.measurements.rms.x[0], heun.measurements.rms.x[0], 'Euler and Heun reach another z_0');
  const half = fields('--r-fraction', '0.5');
  assert.deepEqual(half.rs, heun.times.map((t) => t / 2));
  // at r = t there is no ODE to solve: u is v
  const denoiser = fields('--r-fraction', '1');
  assert.deepEqual(denoiser.measurements.rms.u, denoiser.measurements.rms.v);
});

test('pmf fields: --mode pmf, --consistency on a flow-matching model and --solver on a MeanFlow model are usage errors', () => {
  const pmfMode = pmf('fields', FM, '--mode', 'pmf');
  assert.equal(pmfMode.code, 2);
  assert.match(pmfMode.err, /is a flow-matching model: it has no N-step MeanFlow sampler, its trajectory is its ODE's \(--mode ode\)/);
  const consistency = pmf('fields', FM, '--consistency', '8');
  assert.equal(consistency.code, 2);
  assert.match(consistency.err, /--consistency has nothing to check/);
  const mf = pmf('fields', 'fashion-mnist', '--solver', 'heun');
  assert.equal(mf.code, 2);
  assert.match(mf.err, /--solver is for flow-matching models; model\.onnx is a MeanFlow model \(its sampler has no ODE solver\)/);
  const bad = pmf('fields', FM, '--solver', 'rk4');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--solver must be euler or heun, got 'rk4'/);
});

interface EvalJson {
  protocol: { sampling: { steps: number; omega: number; solver?: string } };
  scores: { fd: { value: number } };
}

test('pmf eval --solver: the flow-matching samples follow it, the protocol keeps it, a MeanFlow model refuses it', () => {
  const run = (name: string, ...extra: string[]) => {
    const out = join(tmp, `${name}.json`);
    const r = pmf('eval', 'flow-matching', '--net', 'fashion-mnist-classifier', '--ref', REF, '--n', '32', '--steps', '4',
      '--keep', '0', '--threads', '2', '--out', out, '--quiet', ...extra);
    assert.equal(r.code, 0, r.err);
    return { out: r.out, json: JSON.parse(readFileSync(out, 'utf8')) as EvalJson };
  };
  const heun = run('heun');
  assert.equal(heun.json.protocol.sampling.solver, 'heun', 'the model\'s default solver, in the protocol');
  assert.match(heun.out, /32 samples \(seed 0; 4 heun step\(s\), omega 2/);
  const euler = run('euler', '--solver', 'euler');
  assert.equal(euler.json.protocol.sampling.solver, 'euler');
  assert.match(euler.out, /4 euler step\(s\)/);
  assert.notEqual(euler.json.scores.fd.value, heun.json.scores.fd.value, 'other samples, another FD');
  // a MeanFlow model's protocol has no solver at all (its state files from before --solver still resume)
  const mf = pmf('eval', 'fashion-mnist', '--net', 'fashion-mnist-classifier', '--ref', REF, '--n', '16', '--keep', '0',
    '--out', join(tmp, 'mf.json'), '--quiet');
  assert.equal(mf.code, 0, mf.err);
  assert.equal((JSON.parse(readFileSync(join(tmp, 'mf.json'), 'utf8')) as EvalJson).protocol.sampling.solver, undefined);
  const refused = pmf('eval', 'fashion-mnist', '--net', 'fashion-mnist-classifier', '--ref', REF, '--solver', 'heun');
  assert.equal(refused.code, 2);
  assert.match(refused.err, /--solver is for flow-matching models; model\.onnx is a MeanFlow model/);
  const merge = pmf('eval', '--merge', join(tmp, 'x.npz'), '--ref', REF, '--solver', 'euler');
  assert.equal(merge.code, 2);
  assert.match(merge.err, /eval --merge takes no --solver/);
});

test('pmf sweep on a flow-matching model guided by two passes: --solver in its protocol and in the commands it prints', () => {
  const out = join(tmp, 'sweep.json');
  const r = pmf('sweep', 'flow-matching', '--net', 'fashion-mnist-classifier', '--ref', REF, '--omega', '1,2', '--n', '32',
    '--steps', '3', '--solver', 'euler', '--threads', '2', '--out', out, '--quiet');
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(readFileSync(out, 'utf8')) as { solver?: string; settings: Array<{ protocol: EvalJson['protocol'] }>;
    commands: { generate: string; eval: string } };
  assert.equal(s.solver, 'euler');
  for (const x of s.settings) assert.equal(x.protocol.sampling.solver, 'euler');
  assert.match(s.commands.generate, /^pmf generate --model flow-matching --steps 3 --omega [12] --t-min 0 --t-max 1 --solver euler$/);
  assert.match(s.commands.eval, / --solver euler$/);
  assert.match(r.out, /32 samples per setting \(seed 0; 3 euler step\(s\)\)/);
  const mf = pmf('sweep', 'fashion-mnist', '--net', 'fashion-mnist-classifier', '--ref', REF, '--omega', '1,2', '--solver', 'euler');
  assert.equal(mf.code, 2);
  assert.match(mf.err, /--solver is for flow-matching models; model\.onnx is a MeanFlow model/);
});
