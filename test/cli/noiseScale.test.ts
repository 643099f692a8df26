// --noise-scale in pmf generate and pmf eval, as a user runs them on the bundled Fashion-MNIST
// model: z_1 = S * (the model's pmf.noise_scale) * e, so sample i's image is its seed's at that
// scale however the run is batched or sharded; the PNGs and the reproduce line carry it, the
// evaluation protocol records it (and only when S is not 1, so a state file from before the flag
// resumes at S = 1); values outside Explore Guidance's range are usage errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { readPngSettings } from '../../src/node/png';
import { CLI, requireBuilt } from '../helpers/paths';

const tmp = mkdtempSync(join(tmpdir(), 'pmf-cli-noise-'));
const REF = join(tmp, 'fashion-test-ref.npz');

function pmf(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const raw = async (f: string) => sharp(f).raw().toBuffer();

before(() => {
  requireBuilt();
  const r = pmf('eval-ref', '--net', 'fashion-mnist-classifier', '--fashion-mnist', 'test', '--out', REF, '--keep', '0');
  assert.equal(r.code, 0, r.err);
});

test('pmf generate --noise-scale: another image of the same seed, the same in any batch, in the PNG and its command', async () => {
  const gen = (out: string, ...extra: string[]) => {
    const r = pmf('generate', '--model', 'fashion-mnist', '--class', 'Bag', '--omega', '1.5', '--out', join(tmp, out), '--quiet', ...extra);
    assert.equal(r.code, 0, r.err);
    return r.out;
  };
  const out = gen('s07', '--n', '2', '--seed', '6', '--batch-size', '2', '--noise-scale', '0.7');
  assert.match(out, /^reproduce: pmf generate --model fashion-mnist --n 2 --seed 6 --steps 1 --class Bag --omega 1\.5 --t-min 0 --t-max 1 --noise-scale 0\.7 --out \S*s07$/m);
  gen('s07-one', '--n', '1', '--seed', '7', '--noise-scale', '0.7');
  gen('s1', '--n', '1', '--seed', '7');
  assert.match(gen('s1-flag', '--n', '1', '--seed', '7', '--noise-scale', '1'), /--t-max 1 --out \S*s1-flag$/m, 'S = 1 is the default: no flag');
  const seed7 = join(tmp, 's07', '001-bag-seed7.png');
  assert.deepEqual(await raw(seed7), await raw(join(tmp, 's07-one', '000-bag-seed7.png')), 'sample i is its seed\'s, batched or alone');
  assert.notDeepEqual(await raw(seed7), await raw(join(tmp, 's1', '000-bag-seed7.png')), 'the noise scale changes the image');
  assert.deepEqual(await raw(join(tmp, 's1', '000-bag-seed7.png')), await raw(join(tmp, 's1-flag', '000-bag-seed7.png')));
  const settings = await readPngSettings(readFileSync(seed7));
  assert.equal(settings?.noise_scale, 0.7);
  assert.equal((await readPngSettings(readFileSync(join(tmp, 's1', '000-bag-seed7.png'))))?.noise_scale, undefined);
  // the PNG's own command makes the same image again
  const cmd = String(settings?.command).split(' ');
  assert.deepEqual(cmd.slice(0, 2), ['pmf', 'generate']);
  assert.ok(cmd.includes('--noise-scale'), String(settings?.command));
  const again = pmf(...cmd.slice(1, -1), join(tmp, 'again'), '--quiet');
  assert.equal(again.code, 0, again.err);
  assert.deepEqual(await raw(join(tmp, 'again', '000-bag-seed7.png')), await raw(seed7));
});

test('pmf generate and pmf eval refuse a noise scale outside 0.5 .. 1.5, or not a number', () => {
  for (const bad of ['2', '0.4', '0', 'abc', '']) {
    const g = pmf('generate', '--model', 'fashion-mnist', '--n', '1', '--noise-scale', bad, '--out', join(tmp, 'bad'));
    assert.equal(g.code, 2, `generate --noise-scale '${bad}': ${g.err}`);
    assert.match(g.err, new RegExp(`--noise-scale expects a number from 0\\.5 to 1\\.5 .*got '${bad}'`));
  }
  const e = pmf('eval', 'fashion-mnist', '--net', 'fashion-mnist-classifier', '--ref', REF, '--noise-scale', '1.6');
  assert.equal(e.code, 2);
  assert.match(e.err, /--noise-scale expects a number from 0\.5 to 1\.5/);
  const merge = pmf('eval', '--merge', join(tmp, 'x.npz'), '--ref', REF, '--noise-scale', '0.7');
  assert.equal(merge.code, 2);
  assert.match(merge.err, /eval --merge takes no --noise-scale/);
});

interface EvalJson {
  protocol: { sampling: { steps: number; omega: number; noiseScale?: number } };
  scores: { n: number; fd: { value: number }; classConsistency: { overall: number } };
}

test('pmf eval --noise-scale: in the protocol; shards merge to the unsharded scores; a state from before the flag resumes at 1', () => {
  const common = ['--net', 'fashion-mnist-classifier', '--ref', REF, '--n', '2048', '--seed', '3', '--keep', '0', '--threads', '2'];
  const run = (name: string, ...extra: string[]) => {
    const out = join(tmp, `${name}.json`);
    const r = pmf('eval', 'fashion-mnist', ...common, '--out', out, ...extra);
    assert.equal(r.code, 0, r.err);
    return { ...r, json: JSON.parse(readFileSync(out, 'utf8')) as EvalJson };
  };
  const scaled = run('s07', '--noise-scale', '0.7', '--quiet');
  assert.equal(scaled.json.protocol.sampling.noiseScale, 0.7);
  assert.match(scaled.out, /2048 samples \(seed 3; 1 step\(s\), omega 2, interval \[0, 1\], noise scale x0\.7\)/);
  const own = run('s1', '--quiet');
  assert.equal(own.json.protocol.sampling.noiseScale, undefined, 'no noise scale in a protocol at 1 (as before the flag)');
  assert.notEqual(scaled.json.scores.fd.value, own.json.scores.fd.value, 'other samples, another FD');

  // two shards at 0.7 (a block of 1024 each) merge to exactly the unsharded run's scores: sample i is the same
  for (const k of [1, 2]) {
    const r = pmf('eval', 'fashion-mnist', ...common, '--noise-scale', '0.7', '--shard', `${k}/2`, '--state', join(tmp, `shard-${k}.npz`), '--quiet');
    assert.equal(r.code, 0, r.err);
  }
  const merged = pmf('eval', '--merge', join(tmp, 'shard-1.npz'), join(tmp, 'shard-2.npz'), '--ref', REF, '--out', join(tmp, 'merged.json'), '--json');
  assert.equal(merged.code, 0, merged.err);
  const m = JSON.parse(merged.out) as EvalJson;
  assert.equal(m.protocol.sampling.noiseScale, 0.7);
  assert.equal(m.scores.fd.value, scaled.json.scores.fd.value);
  assert.equal(m.scores.classConsistency.overall, scaled.json.scores.classConsistency.overall);

  // the state of the run without the flag: --noise-scale 1 is the same protocol (it resumes, all done), 0.7 is not
  const state = join(tmp, 's1.state.npz');
  const resumed = run('s1', '--noise-scale', '1', '--state', state);
  assert.match(resumed.err, /resuming .*s1\.state\.npz: 2048 of 2048 samples already done/);
  assert.equal(resumed.json.scores.fd.value, own.json.scores.fd.value);
  const other = pmf('eval', 'fashion-mnist', ...common, '--noise-scale', '0.7', '--state', state, '--out', join(tmp, 'o.json'));
  assert.equal(other.code, 1);
  assert.match(other.err, /holds an evaluation under other settings: they differ in sampling\.noiseScale \(absent and 0\.7\)/);
});
