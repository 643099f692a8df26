// pmf eval and pmf eval-ref as a user runs them, on the bundled model and classifier and the
// Fashion-MNIST test set (Debian's dataset-fashion-mnist): shards merge to exactly one run's
// scores, an interrupted run resumes, and wrong inputs get errors that name the file.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { writeReferenceStatistics } from '../../src/node/npz';
import { CLI, REPO, requireBuilt } from '../helpers/paths';

const tmp = mkdtempSync(join(tmpdir(), 'pmf-eval-'));
const REF = join(tmp, 'fashion-test-ref.npz');
const N = '3000'; // three blocks of 1024 (the last one short)
const COMMON = ['--net', 'fashion-mnist-classifier', '--n', N, '--seed', '7', '--threads', '2', '--quiet'];

function pmf(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface Record {
  protocol: { n: number; seed: number; net: { sha256: string }; model: { sha256: string } };
  scores: { n: number; fd: { value: number }; classConsistency: { overall: number; perClass: number[] };
    inceptionScore: { mean: number }; precisionRecall: { precision: number; recall: number }; densityCoverage: { coverage: number } };
}
const read = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Record;
let whole: Record;

before(() => {
  requireBuilt();
  const r = pmf('eval-ref', '--net', 'fashion-mnist-classifier', '--fashion-mnist', 'test', '--out', REF, '--keep', '3000');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /reference statistics of 10000 images \(Fashion-MNIST test/);
});

test('pmf eval scores the bundled model against the test set, with its protocol', () => {
  const r = pmf('eval', 'fashion-mnist', ...COMMON, '--ref', REF, '--out', join(tmp, 'whole', 'run.json'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /3000 samples \(seed 7; 1 step\(s\), omega 2/);
  assert.match(r.out, /FD +\d+\.\d{4}/);
  assert.match(r.out, /real data with this network: test_accuracy 0\.9201/);
  whole = read(join(tmp, 'whole', 'run.json'));
  const s = whole.scores;
  assert.equal(s.n, 3000);
  // 10,000 samples score FD 1.91 and class-consistency 0.958 (models/fashion-mnist/metrics.json); 3,000 a little worse
  assert.ok(s.fd.value > 1 && s.fd.value < 4, `FD ${s.fd.value}`);
  assert.ok(s.classConsistency.overall > 0.93 && s.classConsistency.overall < 0.99, `class-consistency ${s.classConsistency.overall}`);
  assert.equal(s.classConsistency.perClass.length, 10);
  assert.ok(s.inceptionScore.mean > 5 && s.inceptionScore.mean < 10, `IS ${s.inceptionScore.mean}`);
  assert.ok(s.precisionRecall.precision > 0.6 && s.precisionRecall.recall > 0.4);
  assert.ok(s.densityCoverage.coverage > 0.5);
  assert.equal(whole.protocol.n, 3000);
  assert.match(whole.protocol.net.sha256, /^[0-9a-f]{64}$/);
  assert.equal(existsSync(join(tmp, 'whole', 'run.state.npz')), true, 'the state beside the results, named after them');
});

test('three shards merged give exactly the scores of one run; a missing shard is named', () => {
  for (const k of [3, 1, 2]) {
    const r = pmf('eval', 'fashion-mnist', ...COMMON, '--shard', `${k}/3`, '--state', join(tmp, `shard-${k}.npz`));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`shard ${k}/3 done`));
  }
  const r = pmf('eval', '--merge', join(tmp, 'shard-2.npz'), join(tmp, 'shard-3.npz'), join(tmp, 'shard-1.npz'), '--ref', REF,
    '--out', join(tmp, 'merged.json'));
  assert.equal(r.code, 0, r.err);
  const merged = read(join(tmp, 'merged.json'));
  assert.deepEqual(merged.scores, whole.scores, 'bit-identical scores');
  assert.deepEqual(merged.protocol, whole.protocol);
  const missing = pmf('eval', '--merge', join(tmp, 'shard-1.npz'), join(tmp, 'shard-3.npz'), '--ref', REF, '--out', join(tmp, 'm2.json'));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /samples 1024\.\.2047 are in none of the shards given/);
  assert.equal(existsSync(join(tmp, 'm2.json')), false);
});

test('more shards than blocks: the empty shard says so, and the shards still merge', () => {
  const args = ['--net', 'fashion-mnist-classifier', '--n', '64', '--threads', '2', '--keep', '64'];
  const lines: string[] = [];
  for (const k of [1, 2]) {
    const r = pmf('eval', 'fashion-mnist', ...args, '--shard', `${k}/2`, '--state', join(tmp, `small-${k}.npz`));
    assert.equal(r.code, 0, r.err);
    lines.push(r.err);
  }
  assert.match(lines[0], /shard 1\/2: no samples \(64 samples are 1 block\(s\) of 1024, shards hold whole blocks\)/);
  assert.match(lines[1], /shard 2\/2: samples 0\.\.63 on/);
  const r = pmf('eval', '--merge', join(tmp, 'small-1.npz'), join(tmp, 'small-2.npz'), '--ref', REF, '--out', join(tmp, 'small.json'));
  assert.equal(r.code, 0, r.err);
  assert.equal(read(join(tmp, 'small.json')).scores.n, 64);
});

test('an interrupted run resumes from its state file and ends with the same scores', async () => {
  const state = join(tmp, 'resume', 'state.npz');
  const out = join(tmp, 'resume', 'run.json');
  const child = spawn(process.execPath, [CLI, 'eval', 'fashion-mnist', ...COMMON, '--ref', REF, '--state', state, '--out', out], { cwd: tmp });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const poll = setInterval(() => {
      if (existsSync(state)) {
        clearInterval(poll);
        child.kill('SIGINT'); // after the first block's state is written
      }
    }, 20);
    child.once('exit', (c) => {
      clearInterval(poll);
      resolve(c);
    });
  });
  assert.equal(code, 130, `interrupted: ${err}`);
  assert.equal(existsSync(out), false, 'no results from an interrupted run');
  assert.ok(statSync(state).size > 0);
  const r = spawnSync(process.execPath, [CLI, 'eval', 'fashion-mnist', ...COMMON.filter((a) => a !== '--quiet'), '--ref', REF,
    '--state', state, '--out', out], { encoding: 'utf8', cwd: tmp });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /resuming .*state\.npz: (1024|2048) of 3000 samples already done/);
  assert.deepEqual(read(out).scores, whole.scores);
  // the same state under other settings is refused, naming what differs
  const other = pmf('eval', 'fashion-mnist', ...COMMON.map((a) => (a === '7' ? '8' : a)), '--ref', REF, '--state', state, '--out', join(tmp, 'o.json'));
  assert.equal(other.code, 1);
  assert.match(other.err, /state\.npz holds an evaluation under other settings: they differ in seed \(7 and 8\)/);
});

test('wrong inputs: a generator as the network, a reference of another dimension, a missing reference', async () => {
  const gen = pmf('eval', 'fashion-mnist', '--net', join(REPO, 'models', 'fashion-mnist', 'model.onnx'), '--ref', REF, '--n', '64');
  assert.equal(gen.code, 3, gen.err);
  assert.match(gen.err, /model\.onnx is not a pMF Lab feature network.*It is a pMF generator/);
  const small = join(tmp, 'small.npz');
  await writeReferenceStatistics(small, { mu: new Float64Array(5), sigma: new Float64Array(25) });
  const dim = pmf('eval', 'fashion-mnist', ...COMMON, '--ref', small, '--out', join(tmp, 'dim', 'run.json'));
  assert.equal(dim.code, 1);
  assert.match(dim.err, /small\.npz holds 5-dimensional statistics; fashion-mnist-classifier\.onnx gives 128 features/);
  const made = join(tmp, 'made.npz'); // as pmf eval-ref writes it: the network it was made with is named
  const json = new TextEncoder().encode(JSON.stringify({ tool: 'pmf eval-ref', version: 1, source: 'x', count: 3,
    net: { file: 'inception-fid.onnx', name: 'inception-v3-fid', sha256: '0'.repeat(64) }, images: '' }));
  await writeReferenceStatistics(made, { mu: new Float64Array(5), sigma: new Float64Array(25) },
    { pmf_reference_json: { data: json, shape: [json.length] }, features: { data: new Float32Array(15), shape: [3, 5] } });
  const madeWith = pmf('eval', 'fashion-mnist', ...COMMON, '--ref', made, '--out', join(tmp, 'dim', 'run.json'));
  assert.equal(madeWith.code, 1);
  assert.match(madeWith.err, /made\.npz holds 5-dimensional statistics \(made with inception-fid\.onnx\); fashion-mnist-classifier\.onnx gives 128/);
  // a network that cannot take the model's images (3-channel 8x8 into the grey 28x28 classifier): refused on its own line, below the progress
  const rgb = pmf('eval', join(REPO, 'test', 'fixtures', 'checkpoints', 'official-tiny.onnx'), '--net', 'fashion-mnist-classifier', '--ref', REF,
    '--n', '64', '--out', join(tmp, 'rgb', 'run.json'));
  assert.notEqual(rgb.code, 0);
  assert.match(rgb.err, /samples 0\/64\npmf: .*fashion-mnist-classifier\.onnx takes 1-channel images; .*official-tiny\.onnx makes 3-channel ones/);
  const none = pmf('eval', 'fashion-mnist', ...COMMON, '--ref', join(tmp, 'nope.npz'));
  assert.equal(none.code, 1);
  assert.match(none.err, /Cannot read .*nope\.npz: there is no such file/);
  const usage = pmf('eval', 'fashion-mnist', '--net', 'fashion-mnist-classifier', '--shard', '5/4');
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--shard expects k\/n with 1 <= k <= n/);
});
