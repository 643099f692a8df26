// What pmf generate leaves on disk, run as a user runs it (node dist/cli.js, the real engine and
// onnxruntime): all files or none, never another run's files overwritten, a clear error for a
// folder in the way, nothing after Ctrl-C, and no black images for NaN outputs.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { readPngSettings } from '../../src/node/png';
import { CLI, requireBuilt } from '../helpers/paths';
import { expectedNonFinite, nonFiniteModel } from '../node/nonFiniteModels';

const tmp = mkdtempSync(join(tmpdir(), 'pmf-outputs-'));

function pmf(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Runs pmf as a child process; resolves with its exit code and output. */
function pmfAsync(args: string[], onStart?: (p: ChildProcess) => void): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: tmp });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
    onStart?.(p);
  });
}

/** Every path under `dir` (hidden ones too), relative to it. */
function tree(dir: string): string[] {
  return existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).sort() : [];
}

before(() => requireBuilt());

test('4 concurrent runs into one folder keep all their files, each under the names it prints', async () => {
  const out = join(tmp, 'concurrent');
  const n = 6;
  // two pairs with the same seeds: the sample names collide as well as grid.png
  const seeds = [0, 0, 50, 50];
  const runs = await Promise.all(seeds.map((seed) => pmfAsync(['generate', '--model', 'fashion-mnist', '--class', 'Bag,Sneaker',
    '--n', String(n), '--seed', String(seed), '--steps', '1', '--out', out, '--quiet'])));
  for (const r of runs) assert.equal(r.code, 0, r.err);
  const files = tree(out);
  assert.equal(files.length, 4 * (n + 1), files.join('\n'));
  assert.ok(!files.some((f) => f.startsWith('.')), `a temporary file was left: ${files.join(', ')}`);
  const grids = runs.map((r) => r.out.match(/^grid: (.*)$/m)![1]);
  assert.equal(new Set(grids).size, 4, grids.join('\n'));
  assert.ok(grids.includes(join(out, 'grid.png')));
  for (const [i, r] of runs.entries()) {
    // the printed grid is this run's (its embedded command has the run's seed), and so are its samples
    const settings = await readPngSettings(readFileSync(grids[i]));
    assert.match(String(settings?.command), new RegExp(`--seed ${seeds[i]} `));
    const suffix = grids[i].match(/grid(-run\d+)?\.png$/)![1] ?? '';
    const first = join(out, `000-bag-seed${seeds[i]}${suffix}.png`);
    assert.equal((await readPngSettings(readFileSync(first)))?.seed, seeds[i]);
    if (suffix) assert.match(r.out, new RegExp(`wrote ${n + 1} files to .* \\(names with ${suffix}: an earlier run has the plain names there\\)`));
    else assert.match(r.out, new RegExp(`wrote ${n + 1} files to ${out}\n`));
  }
  // and a fifth run, after them, takes the next number
  const fifth = pmf('generate', '--model', 'fashion-mnist', '--n', '2', '--out', out, '--quiet');
  assert.equal(fifth.code, 0, fifth.err);
  assert.match(fifth.out, /grid: .*grid-run5\.png\n/);
});

test('a folder named grid.png in --out: an error naming it and what to do, exit 1, and no new files', () => {
  const out = join(tmp, 'clash');
  mkdirSync(join(out, 'grid.png'), { recursive: true });
  writeFileSync(join(out, 'notes.txt'), 'mine');
  const before = tree(out);
  const r = pmf('generate', '--model', 'fashion-mnist', '--n', '4', '--out', out, '--quiet');
  assert.equal(r.code, 1, r.err);
  assert.equal(r.err, `pmf: ${join(out, 'grid.png')} is a folder, so grid.png cannot be saved there: rename or remove it, or pass another --out.\n`);
  assert.deepEqual(tree(out), before);

  // --out naming a file
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'x');
  const f = pmf('generate', '--model', 'fashion-mnist', '--n', '2', '--out', file, '--quiet');
  assert.equal(f.code, 1);
  assert.match(f.err, new RegExp(`^pmf: ${file} is a file, not a folder: rename or remove it, or pass another --out\\.\n$`));
  assert.equal(readFileSync(file, 'utf8'), 'x');
});

test('Ctrl-C while the files are written leaves nothing: no file, no temporary folder, no folder it created', async () => {
  const parent = join(tmp, 'interrupted');
  const out = join(parent, 'deeper', 'samples');
  let signalled = false;
  let staged = 0;
  const r = await pmfAsync(['generate', '--model', 'fashion-mnist', '--n', '512', '--out', out, '--quiet'], (p) => {
    // SIGINT as soon as the first file of the run exists, wherever it is written (the samples are being written)
    const timer = setInterval(() => {
      try {
        staged = tree(out).filter((f) => statSync(join(out, f), { throwIfNoEntry: false })?.isFile()).length;
      } catch {
        return; // a folder went away while it was listed
      }
      if (staged === 0) return;
      clearInterval(timer);
      signalled = p.kill('SIGINT');
    }, 2);
    p.on('close', () => clearInterval(timer));
  });
  assert.ok(signalled, `the run ended before it was interrupted: ${r.code} ${r.out}`);
  assert.ok(staged > 0 && staged < 513, `${staged} files staged`);
  assert.equal(r.code, 130, r.err);
  assert.deepEqual(tree(parent), [], 'nothing new under the parent folder');
  assert.equal(existsSync(parent), false);

  // and while it generates (the engine runs): nothing either
  const during = await pmfAsync(['generate', '--model', 'fashion-mnist', '--n', '512', '--batch-size', '8', '--out', out], (p) => {
    p.stderr!.once('data', () => p.kill('SIGINT')); // the first progress line
  });
  assert.equal(during.code, 130, during.err);
  assert.equal(existsSync(parent), false);
});

test('a model that returns NaN: exit 1, the model file and the count of NaN values, a suggestion, nothing written', () => {
  const model = join(tmp, 'nan-model.onnx');
  writeFileSync(model, nonFiniteModel('nan'));
  const out = join(tmp, 'nan-out');
  const r = pmf('generate', '--model', model, '--class', 'Bag', '--n', '3', '--seed', '5', '--out', out, '--quiet');
  assert.equal(r.code, 1, r.err);
  const nan = expectedNonFinite('nan', [5, 6, 7]).reduce((a, b) => a + b, 0);
  assert.ok(nan > 3 * 784 * 0.4 && nan < 3 * 784 * 0.6, `${nan} negative noise values`);
  assert.equal(r.err, `pmf: ${model} returned NaN or infinite values: 3 of 3 samples (${nan} NaN values of ${3 * 784}). ` +
    'Nothing was written. Try --provider cpu, fewer --steps or a smaller --omega; if the values stay non-finite, ' +
    `look for NaN or infinite weights with: pmf inspect --stats ${model}\n`);
  assert.equal(r.out, '');
  assert.equal(existsSync(out), false);

  // the fields of its trajectory: the same error, and no .npy
  const npy = join(tmp, 'nan-fields.npy');
  const f = pmf('fields', model, '--steps', '2', '--seeds', '0-1', '--npy', npy, '--quiet');
  assert.equal(f.code, 1, f.err);
  // x = sqrt(z) is NaN from the first frame (t = 1) on
  assert.match(f.err, new RegExp(`^pmf: ${model} returned NaN or infinite values along the trajectory: [1-9]\\d* NaN values of ` +
    `${3 * 4 * 2 * 784}, from t = 1 on\\. Nothing was written\\. Try --provider cpu, fewer --steps or a smaller --omega; .*` +
    `pmf inspect --stats ${model}\n$`));
  assert.equal(existsSync(npy), false);
});

test('pmf fields --npy: replaces an earlier file whole; a folder of that name is an error that leaves it alone', () => {
  const npy = join(tmp, 'fields-twice.npy');
  writeFileSync(npy, 'an older file');
  const r = pmf('fields', 'fashion-mnist', '--steps', '1', '--seeds', '0', '--npy', npy, '--quiet', '--json');
  assert.equal(r.code, 0, r.err);
  const bytes = readFileSync(npy);
  assert.equal(bytes.subarray(0, 6).toString('latin1'), '\x93NUMPY');
  assert.equal(bytes.length - (bytes.readUInt16LE(8) + 10), 2 * 4 * 1 * 784 * 4);
  assert.deepEqual(readdirSync(tmp).filter((f) => f.includes('pmf-partial')), []);

  const folder = join(tmp, 'fields-folder.npy');
  mkdirSync(folder);
  const bad = pmf('fields', 'fashion-mnist', '--steps', '1', '--seeds', '0', '--npy', folder, '--quiet');
  assert.equal(bad.code, 1);
  assert.equal(bad.err, `pmf: ${folder} is a folder, so the file cannot be saved under that name: give a file name, ` +
    'or pass another --npy FILE.\n');
  assert.deepEqual(readdirSync(folder), []);
});
