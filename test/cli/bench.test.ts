// pmf bench, spawned as a user runs it, on the bundled Fashion-MNIST model (real engine, CPU).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { BenchResult } from '../../src/node/benchmarkHere';
import { CLI, requireBuilt } from '../helpers/paths';

const tmp = mkdtempSync(join(tmpdir(), 'pmf-cli-bench-'));

function pmf(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp, env: { ...process.env, PMF_CACHE_DIR: 'off' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(() => requireBuilt());

test('pmf bench --json on the bundled model: exit 0 and one JSON object with a row per batch', { timeout: 120_000 }, () => {
  const r = pmf('bench', 'fashion-mnist', '--provider', 'cpu', '--batch', '1,2', '--runs', '2', '--json', '--quiet');
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as {
    modelName: string; runs: number; batches: number[];
    providers: Array<{ provider: string; ok: boolean; loadS: number }>;
    rows: Array<{ provider: string; batch: number; ok: boolean; medianS: number; minS: number; imagesPerS: number }>;
  };
  assert.equal(j.modelName, 'Fashion-MNIST pMF');
  assert.equal(j.runs, 2);
  assert.deepEqual(j.batches, [1, 2]);
  assert.deepEqual(j.providers.map((p) => p.provider), ['cpu']);
  assert.ok(j.providers[0].ok && j.providers[0].loadS > 0);
  assert.deepEqual(j.rows.map((x) => `${x.provider}/${x.batch}`), ['cpu/1', 'cpu/2']);
  for (const row of j.rows) {
    assert.ok(row.ok);
    assert.ok(row.medianS > 0 && row.minS > 0 && row.minS <= row.medianS);
    assert.ok(Math.abs(row.imagesPerS * row.medianS - row.batch) < 1e-6);
  }
});

test('pmf bench prints a table; an unavailable provider is a row with its error, and exit 0 while another ran', { timeout: 120_000 }, () => {
  const h = spawnSync(process.execPath, [CLI, 'providers'], { encoding: 'utf8' });
  const absent = /^\s+(cuda|webgpu)\s+absent/m.exec(h.stdout)?.[1];
  const r = pmf('bench', 'fashion-mnist', '--provider', absent ? `cpu,${absent}` : 'cpu', '--batch', '1', '--runs', '1');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^provider\s+load s\s+cache\s+batch\s+median s\/batch\s+min s\/batch\s+img\/s\s+engine RSS$/m);
  assert.match(r.out, /^cpu\s+[\d.]+\s+no cache\s+1\s+[\d.e-]+\s+[\d.e-]+\s+[\d.]+/m);
  assert.match(r.err, /cpu: batch 1, warm-up/, 'progress on stderr');
  if (absent) {
    assert.match(r.out, new RegExp(`^${absent}\\s+-\\s+-\\s+1\\s+failed to load`, 'm'));
    assert.match(r.out, new RegExp(`^error: ${absent}: The ${absent} execution provider cannot run here`, 'm'));
    // only the unavailable provider: nothing measured, exit 4
    const only = pmf('bench', 'fashion-mnist', '--provider', absent, '--batch', '1', '--runs', '1', '--json', '--quiet');
    assert.equal(only.code, 4, only.err);
    assert.equal((JSON.parse(only.out) as BenchResult).rows[0].errorCode, 'provider');
  }
});

test('pmf bench on a missing file or a non-model: non-zero exit and a message naming the file', () => {
  const missing = join(tmp, 'no-such-model.onnx');
  const r = pmf('bench', missing);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /no-such-model\.onnx/);
  assert.equal(r.out, '');

  const junk = join(tmp, 'junk.onnx');
  writeFileSync(junk, 'not a model at all');
  const j = pmf('bench', junk, '--json');
  assert.equal(j.code, 3, j.err);
  assert.match(j.err, /junk\.onnx/);
});

test('pmf bench usage mistakes exit 2 and say what is allowed', () => {
  const cases: Array<[string[], RegExp]> = [
    [['bench'], /bench takes one MODEL/],
    [['bench', 'fashion-mnist', '--provider', 'tpu'], /'tpu' is not a provider; give cuda, webgpu or cpu/],
    [['bench', 'fashion-mnist', '--batch', '1,x'], /--batch: Batch sizes are positive integers separated by commas/],
    [['bench', 'fashion-mnist', '--batch', '0'], /batch size is an integer from 1/],
    [['bench', 'fashion-mnist', '--runs', '0'], /Runs is an integer from 1/],
  ];
  for (const [args, msg] of cases) {
    const r = pmf(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, msg);
  }
});

test('Ctrl-C during pmf bench exits with 130', { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, [CLI, 'bench', 'fashion-mnist', '--provider', 'cpu', '--batch', '1', '--runs', '1000'],
    { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PMF_CACHE_DIR: 'off' } });
  let err = '';
  let out = '';
  let stopping = false;
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (/batch 1, warm-up/.test(err) && !stopping) {
      stopping = true;
      setTimeout(() => child.kill('SIGINT'), 200); // some timed runs in
    }
  });
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 130, err);
  assert.match(err, /Cancelled/);
  assert.equal(out, '', 'no table for a cancelled run');
});
