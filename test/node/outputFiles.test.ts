// Outputs all or nothing on the real file system, and NaN / infinite samples from the real engine.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EngineClient } from '../../src/engine/client';
import { cliCommand, NonFiniteOutputError, runGeneration, writeOutputs, type GenerationRequest } from '../../src/node/generation';
import { countNonFinite, nonFiniteFields } from '../../src/node/nonFinite';
import { OutputError, runName, StagedFiles, sweepAbandoned, writeFileAtomic } from '../../src/node/outputFiles';
import { ENGINE, FASHION, requireBuilt } from '../helpers/paths';
import { expectedNonFinite, nonFiniteModel } from './nonFiniteModels';

const tmp = mkdtempSync(join(tmpdir(), 'pmf-outfiles-'));
let client: EngineClient;

function tree(dir: string): string[] {
  return existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).sort() : [];
}

before(() => {
  requireBuilt();
  client = new EngineClient({ enginePath: ENGINE });
});
after(() => client.dispose());

test('run names: the plain name first, then -runK before the extension', () => {
  assert.equal(runName('grid.png', 1), 'grid.png');
  assert.equal(runName('grid.png', 2), 'grid-run2.png');
  assert.equal(runName('000-bag-seed7.png', 12), '000-bag-seed7-run12.png');
  assert.equal(runName('README', 3), 'README-run3');
  assert.equal(runName('.hidden', 2), '.hidden-run2');
});

test('a set of files: nothing visible before commit; 8 sets committed at once into one folder all keep their files', async () => {
  const dir = join(tmp, 'sets');
  const sets = await Promise.all(Array.from({ length: 8 }, () => StagedFiles.open(dir)));
  await Promise.all(sets.map((s, i) => Promise.all([s.add('a.txt', Buffer.from(`a${i}`)), s.add('grid.png', Buffer.from(`g${i}`))])));
  assert.ok(tree(dir).every((f) => f.startsWith('.pmf-partial-')), 'only temporary folders before the commit');
  // grid.png first: every set has it, so the set that claims it has that run number
  const done = await Promise.all(sets.map((s) => s.commit('grid.png')));
  assert.deepEqual(done.map((d) => d.run).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
  for (const [i, d] of done.entries()) {
    assert.deepEqual(d.files, [join(dir, runName('a.txt', d.run)), join(dir, runName('grid.png', d.run))]);
    assert.equal(readFileSync(d.files[0], 'utf8'), `a${i}`);
    assert.equal(readFileSync(d.files[1], 'utf8'), `g${i}`);
  }
  assert.equal(tree(dir).length, 16);
});

test('a run killed outright leaves its temporary folder; the next run into that folder removes it, and only it', async () => {
  const dir = join(tmp, 'abandoned');
  mkdirSync(dir);
  const host = hostname().replace(/[^A-Za-z0-9.]/g, '_') || 'host';
  const ended = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid; // a process that has ended
  const dead = `.pmf-partial-${host}-${ended}-aB3xYz`;
  const live = `.pmf-partial-${host}-${process.pid}-Qw12er`; // a run of this process, still going
  const elsewhere = `.pmf-partial-other_machine-${ended}-Zx98cv`; // another machine's run in a shared folder
  for (const d of [dead, live, elsewhere]) {
    mkdirSync(join(dir, d));
    writeFileSync(join(dir, d, '000.png'), 'x');
  }
  const set = await StagedFiles.open(dir);
  const left = readdirSync(dir);
  assert.ok(!left.includes(dead), 'the ended run\'s folder is gone');
  assert.ok(left.includes(live) && left.includes(elsewhere), 'a live run\'s folder and another machine\'s stay');
  await set.add('grid.png', Buffer.from('g'));
  const done = await set.commit();
  assert.deepEqual(done.files, [join(dir, 'grid.png')]);
  assert.deepEqual(await sweepAbandoned(dir), [], 'nothing more to remove');
  assert.ok(existsSync(join(dir, live, '000.png')) && existsSync(join(dir, elsewhere, '000.png')));
});

test('a folder that appears where a file goes: an error naming it, and nothing left, not even the folders it made', async () => {
  const parent = join(tmp, 'late-clash');
  const dir = join(parent, 'a', 'b');
  const set = await StagedFiles.open(dir, { hint: 'pass another --out' });
  await set.add('000.png', Buffer.from('x'));
  await set.add('grid.png', Buffer.from('y'));
  mkdirSync(join(dir, 'grid.png'));
  await assert.rejects(set.commit(), (e: unknown) => {
    assert.ok(e instanceof OutputError);
    assert.equal(e.message, `${join(dir, 'grid.png')} is a folder, so grid.png cannot be saved there: rename or remove it, or pass another --out.`);
    return true;
  });
  assert.deepEqual(tree(parent), ['a', join('a', 'b'), join('a', 'b', 'grid.png')], 'only the folder in the way');
  rmSync(join(dir, 'grid.png'), { recursive: true });

  // discarded: the temporary folder and the folders open() made are gone; a folder that was there stays
  const kept = join(tmp, 'kept');
  mkdirSync(kept);
  const other = await StagedFiles.open(join(kept, 'x', 'y'));
  await other.add('f.txt', Buffer.from('z'));
  await other.discard();
  assert.deepEqual(tree(kept), []);
  assert.ok(existsSync(kept));
});

test('one file all or nothing: an existing file is replaced whole, a folder is an error, a missing folder is named', async () => {
  const path = join(tmp, 'single.npy');
  writeFileSync(path, 'old');
  await writeFileAtomic(path, Buffer.from('new'));
  assert.equal(readFileSync(path, 'utf8'), 'new');
  const folder = join(tmp, 'single-folder.npy');
  mkdirSync(folder);
  await assert.rejects(writeFileAtomic(folder, Buffer.from('x'), 'choose another name'),
    new RegExp(`^OutputError: ${folder} is a folder, so the file cannot be saved under that name: give a file name, or choose another name\\.$`));
  const missing = join(tmp, 'no-such-folder', 'f.npy');
  await assert.rejects(writeFileAtomic(missing, Buffer.from('x')),
    { message: `Cannot write ${missing}: the folder ${join(tmp, 'no-such-folder')} does not exist. Create it, or choose another location.` });
  assert.deepEqual(readdirSync(tmp).filter((f) => f.includes('pmf-partial')), []);
});

test('non-finite counts: NaN and infinities apart; the first frame of a trajectory that holds one', () => {
  assert.deepEqual(countNonFinite(Float32Array.from([0, NaN, Infinity, -Infinity, 3.4e38, NaN])), { nan: 2, inf: 2 });
  assert.equal(nonFiniteFields(new Float32Array(12), [1, 0.5, 0]), undefined);
  const f = new Float32Array(12);
  f[9] = NaN;
  f[5] = -Infinity;
  assert.equal(nonFiniteFields(f, [1, 0.5, 0]), '1 NaN and 1 infinite values of 12, from t = 0.5 on');
});

const request = (modelPath: string, seed: number, n: number): GenerationRequest => ({
  modelPath, modelSpec: modelPath, provider: 'cpu', classes: [8], n, seed, steps: 1, omega: 1, tMin: 0, tMax: 1, batchSize: 64,
});

test('samples from the engine carry their NaN / infinity counts; writing them is refused and leaves nothing', async () => {
  for (const kind of ['nan', 'inf'] as const) {
    const model = join(tmp, `${kind}.onnx`);
    writeFileSync(model, nonFiniteModel(kind));
    const req = request(model, 11, 4);
    const result = await runGeneration(client, req);
    const expected = expectedNonFinite(kind, [11, 12, 13, 14]);
    assert.deepEqual(result.samples.map((s) => s.nonFinite), expected.map((k) => (kind === 'nan' ? { nan: k, inf: 0 } : { nan: 0, inf: k })));
    const out = join(tmp, `${kind}-out`);
    await assert.rejects(writeOutputs(out, req, result), (e: unknown) => {
      assert.ok(e instanceof NonFiniteOutputError);
      const total = expected.reduce((a, b) => a + b, 0);
      assert.equal(e.message, `${model} returned NaN or infinite values: 4 of 4 samples (${total} ${kind === 'nan' ? 'NaN' : 'infinite'} ` +
        `values of ${4 * 784}). Nothing was written. Re-generate those samples, or generate again with other settings (fewer steps, ` +
        'a smaller omega, the CPU provider).');
      return true;
    });
    assert.equal(existsSync(out), false);
  }
  // a finite model's samples count zero, and are written
  const ok = await runGeneration(client, request(FASHION, 0, 2));
  assert.deepEqual(ok.samples.map((s) => s.nonFinite), [{ nan: 0, inf: 0 }, { nan: 0, inf: 0 }]);
  const written = await writeOutputs(join(tmp, 'finite'), request(FASHION, 0, 2), ok);
  assert.equal(written.files.length, 3);
  assert.equal(written.run, 1);
});

test('a cancelled write leaves nothing; an aborted signal before it writes nothing at all', async () => {
  const req = request(FASHION, 0, 256);
  const result = await runGeneration(client, req);
  const out = join(tmp, 'cancel', 'here');
  const ac = new AbortController();
  const p = writeOutputs(out, req, result, { signal: ac.signal, scale: 4 });
  // abort once the first sample is staged
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const t = existsSync(out) ? readdirSync(out).find((f) => f.startsWith('.pmf-partial-')) : undefined;
      if (t && readdirSync(join(out, t)).length > 0) {
        clearInterval(timer);
        ac.abort();
        resolve();
      }
    }, 1);
  });
  await assert.rejects(p, { name: 'CancelledError' });
  assert.equal(existsSync(join(tmp, 'cancel')), false);
});

test('the reproduce command names only the classes a run used, and none for the default', () => {
  const names = Array.from({ length: 1000 }, (_, i) => `class ${i}`);
  const info = { numClasses: 1000, classNames: names, hasCfg: false } as unknown as Parameters<typeof cliCommand>[1];
  const base = { modelSpec: 'pMF-B-16.onnx', n: 16, seed: 0, steps: 1, omega: 1, tMin: 0, tMax: 1, batchSize: 4 };
  const all = Array.from({ length: 1000 }, (_, i) => i);
  const cmd = (classes: number[], n = 16) => cliCommand({ ...base, n, classes } as unknown as GenerationRequest, info);
  assert.doesNotMatch(cmd(all), /--class/); // the default: sample i is class i
  assert.doesNotMatch(cmd(all, 2500), /--class/);
  assert.match(cmd([207, 3, 1000]), /--class 'class 207,class 3,none' /);
  const some = cmd(all.slice(500), 20); // 20 samples use 20 of the 500 classes given: as indices
  assert.match(some, new RegExp(`--class '${Array.from({ length: 20 }, (_, i) => 500 + i).join(',')}' `));
  assert.ok(cmd(all.slice(1), 999).length < 5000);
});
