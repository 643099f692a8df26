// pmf sweep as a user runs it: the bundled model over omega 1, 2, 4 against the Fashion-MNIST
// test set in the bundled classifier's features (Debian's dataset-fashion-mnist). The trainer's
// own sweep (models/fashion-mnist/metrics.json, omega_sweep, 10,000 samples) has FD 2.98 at
// omega 1, 1.91 at 2 and 2.56 at 4.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { CLI, requireBuilt } from '../helpers/paths';

const tmp = mkdtempSync(join(tmpdir(), 'pmf-sweep-'));
const REF = join(tmp, 'fashion-test-ref.npz');

function pmf(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface Sweep {
  n: number;
  settings: Array<{ omega: number; tMin: number; tMax: number; fd: number; classConsistency: number; best: boolean;
    protocol: { n: number; sampling: { omega: number } } }>;
  best: { index: number; omega: number; fd: number };
  commands: { generate: string; eval: string };
}

before(() => {
  requireBuilt();
  const r = pmf('eval-ref', '--net', 'fashion-mnist-classifier', '--fashion-mnist', 'test', '--out', REF, '--keep', '0');
  assert.equal(r.code, 0, r.err);
});

test('pmf sweep: omega 2 beats omega 1 on FD, the best is marked, the JSON has every setting', () => {
  const out = join(tmp, 'sweep.json');
  const state = join(tmp, 'state');
  const args = ['sweep', 'fashion-mnist', '--net', 'fashion-mnist-classifier', '--ref', REF, '--omega', '1,2,4', '--n', '1024',
    '--threads', '2', '--state-dir', state, '--out', out];
  const r = pmf(...args);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(readFileSync(out, 'utf8')) as Sweep;
  assert.equal(s.settings.length, 3);
  assert.deepEqual(s.settings.map((x) => x.omega), [1, 2, 4]);
  for (const x of s.settings) {
    assert.ok(Number.isFinite(x.fd) && x.fd > 0, `FD ${x.fd}`);
    assert.ok(x.classConsistency > 0.8 && x.classConsistency <= 1, `class-consistency ${x.classConsistency}`);
    assert.deepEqual([x.tMin, x.tMax], [0, 1]);
    assert.equal(x.protocol.n, 1024);
    assert.equal(x.protocol.sampling.omega, x.omega);
  }
  const [w1, w2] = s.settings;
  assert.ok(w2.fd < w1.fd, `omega 2 (FD ${w2.fd}) beats omega 1 (FD ${w1.fd})`);
  assert.ok(w2.classConsistency > w1.classConsistency, 'guidance makes the classes clearer');
  const fds = s.settings.map((x) => x.fd);
  assert.equal(s.best.fd, Math.min(...fds));
  assert.equal(s.settings.filter((x) => x.best).length, 1);
  assert.equal(s.settings[s.best.index].best, true);
  assert.equal(s.best.omega, s.settings[s.best.index].omega);
  // the table marks the best row and gives its command lines
  const best = r.out.split('\n').filter((l) => l.includes('<- best'));
  assert.equal(best.length, 1, r.out);
  assert.match(best[0], new RegExp(`^${s.best.omega} +\\[0, 1\\] +${s.best.fd.toFixed(4)} +0\\.\\d{4}`));
  assert.match(r.out, /^omega +interval +FD +class-consistency/m);
  assert.match(r.out, new RegExp(`generate: pmf generate --model fashion-mnist --steps 1 --omega ${s.best.omega} --t-min 0 --t-max 1`));
  assert.match(r.out, new RegExp(`evaluate: pmf eval fashion-mnist --net fashion-mnist-classifier --ref \\S+ --n 1024 --seed 0 ` +
    `--steps 1 --omega ${s.best.omega} --t-min 0 --t-max 1`));
  assert.equal(readdirSync(state).filter((f) => f.endsWith('.npz')).length, 3, 'one state file per setting');
  // a second run reads every setting back from its state file: the same scores, no generation
  const again = pmf(...args.slice(0, -2), '--json', '--quiet');
  assert.equal(again.code, 0, again.err);
  const s2 = JSON.parse(again.out) as Sweep;
  assert.deepEqual(s2.settings.map((x) => x.fd), fds);
});

test('pmf sweep: a bad --omega or --interval is a usage error (exit 2), before any work', () => {
  const base = ['sweep', 'fashion-mnist', '--net', 'fashion-mnist-classifier', '--ref', REF];
  for (const [opt, v, msg] of [
    ['--omega', '1,x,2', /--omega expects numbers separated by commas, got 'x'/],
    ['--omega', '1,,2', /--omega expects numbers/],
    ['--omega', '0.5,2', /--omega values must be >= 1/],
    ['--interval', '0.8-0.2', /--interval expects t_min-t_max pairs/],
    ['--interval', '0-1.5', /--interval expects t_min-t_max pairs/],
  ] as Array<[string, string, RegExp]>) {
    const r = pmf(...base, ...(opt === '--omega' ? [opt, v] : ['--omega', '2', opt, v]));
    assert.equal(r.code, 2, `${opt} ${v}: ${r.err}`);
    assert.match(r.err, msg);
  }
  const none = pmf(...base);
  assert.equal(none.code, 2);
  assert.match(none.err, /sweep needs --omega/);
  assert.equal(existsSync(join(tmp, 'sweep-none.json')), false);
});
