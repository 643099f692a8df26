// pmf info and pmf generate on a flow-matching fixture (trainer/tools/make_fm_fixtures.py), spawned as a user runs them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { readPngSettings } from '../../src/node/png';
import { CLI, FM_FIXTURE, requireBuilt } from '../helpers/paths';

const tmp = mkdtempSync(join(tmpdir(), 'pmf-cli-fm-'));

function pmf(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(() => requireBuilt());

test('pmf info says what a flow-matching model is: its output, guidance and solver', () => {
  const r = pmf('info', FM_FIXTURE('fm-x-two-pass'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /image model, x-prediction, flow matching \(a network of z and t; no r\)/);
  assert.match(r.out, /CFG inputs: no \(CFG by two passes\)/);
  assert.match(r.out, /default sampling: 4 step\(s\), omega 2, interval \[0\.2, 0\.8\], heun solver/);
  assert.match(pmf('info', FM_FIXTURE('fm-v-cfg')).out, /v-prediction, flow matching/);
});

test('pmf generate --solver: samples with the solver in their settings and in the command that reproduces them', async () => {
  const out = join(tmp, 'euler');
  const r = pmf('generate', '--model', FM_FIXTURE('fm-x-two-pass'), '--n', '3', '--steps', '3', '--solver', 'euler',
    '--out', out, '--quiet');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /reproduce: pmf generate .* --omega 2 --t-min 0\.2 --t-max 0\.8 --solver euler --out/);
  const png = readdirSync(out).find((f) => f.startsWith('000-'))!;
  const settings = await readPngSettings(readFileSync(join(out, png)));
  assert.equal(settings?.solver, 'euler');
  const heun = join(tmp, 'heun');
  assert.equal(pmf('generate', '--model', FM_FIXTURE('fm-x-two-pass'), '--n', '3', '--steps', '3', '--out', heun, '--quiet').code, 0);
  assert.notDeepEqual(readFileSync(join(heun, png)), readFileSync(join(out, png)), 'the default (Heun) differs from Euler');
});

test('a bad --solver, or --solver for a MeanFlow model, is a usage error', () => {
  const bad = pmf('generate', '--model', FM_FIXTURE('fm-v-cfg'), '--solver', 'rk4', '--out', join(tmp, 'x'));
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--solver must be euler or heun, got 'rk4'/);
  const mf = pmf('generate', '--model', 'fashion-mnist', '--solver', 'heun', '--out', join(tmp, 'y'));
  assert.equal(mf.code, 2);
  assert.match(mf.err, /--solver is for flow-matching models; model\.onnx is a MeanFlow model/);
});
