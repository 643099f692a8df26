// The pmf command line, spawned as a user runs it, on the real bundled models.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import type { MeasurementSeries } from '../../src/core/analysis';
import type { PmfModelInfo } from '../../src/core/checkpoint/types';
import { readPngSettings } from '../../src/node/png';
import { imageSpec, makeModel, withChanges } from '../core/onnxFixtures';
import { CLI, FIXTURE, requireBuilt } from '../helpers/paths';

const tmp = mkdtempSync(join(tmpdir(), 'pmf-cli-'));

function pmf(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(() => requireBuilt());

test('generate writes one PNG per sample with its settings, and a grid', async () => {
  const out = join(tmp, 'fm');
  const r = pmf('generate', '--model', 'fashion-mnist', '--class', 'Sneaker,Trouser', '--n', '6', '--seed', '40',
    '--out', out, '--quiet');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /6 samples from .* on cpu/);
  const files = readdirSync(out).sort();
  assert.equal(files.length, 7);
  assert.deepEqual(files.slice(0, 2), ['000-sneaker-seed40.png', '001-trouser-seed41.png']);
  assert.ok(files.includes('grid.png'));
  const png = readFileSync(join(out, '000-sneaker-seed40.png'));
  const meta = await sharp(png).metadata();
  assert.equal(meta.width, 112); // 28 x 4 (default upscaling of small images)
  const stats = await sharp(png).stats();
  assert.ok(stats.channels[0].stdev > 10, 'not a blank image');
  const settings = await readPngSettings(png);
  assert.equal(settings?.seed, 40);
  assert.equal(settings?.class, 'Sneaker');
  assert.equal(settings?.provider, 'cpu');
  assert.match(String(settings?.command), /^pmf generate --model fashion-mnist --n 1 --seed 40 --steps 1 --class Sneaker/);
});

test('a seed and the settings reproduce the same image; another seed does not', async () => {
  const a = join(tmp, 'rep-a');
  const b = join(tmp, 'rep-b');
  assert.equal(pmf('generate', '--model', 'fashion-mnist', '--class', 'Bag', '--n', '1', '--seed', '7', '--steps', '2',
    '--omega', '1.5', '--out', a, '--quiet').code, 0);
  assert.equal(pmf('generate', '--model', 'fashion-mnist', '--class', 'Bag', '--n', '2', '--seed', '6', '--steps', '2',
    '--omega', '1.5', '--out', b, '--quiet', '--batch-size', '1').code, 0);
  const raw = async (f: string) => sharp(f).raw().toBuffer();
  assert.deepEqual(await raw(join(a, '000-bag-seed7.png')), await raw(join(b, '001-bag-seed7.png')));
  assert.notDeepEqual(await raw(join(b, '000-bag-seed6.png')), await raw(join(b, '001-bag-seed7.png')));
});

test('toy models write samples.npy that numpy-style readers understand', () => {
  const out = join(tmp, 'toy');
  const r = pmf('generate', '--model', 'swiss-roll/x-D16', '--n', '5', '--out', out, '--quiet');
  assert.equal(r.code, 0, r.err);
  const npy = readFileSync(join(out, 'samples.npy'));
  assert.equal(npy.subarray(0, 6).toString('latin1'), '\x93NUMPY');
  const headerLen = npy.readUInt16LE(8);
  const header = npy.subarray(10, 10 + headerLen).toString('latin1');
  assert.match(header, /'descr': '<f4'.*'shape': \(5, 16\)/);
  assert.equal((10 + headerLen) % 64, 0);
  assert.equal(npy.length - 10 - headerLen, 5 * 16 * 4);
});

test('info describes the contract; --json is machine-readable', () => {
  const r = pmf('info', 'fashion-mnist');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /image model, x-prediction/);
  assert.match(r.out, /z\s+float32\s+\[N, 1, 28, 28\]/);
  const j = JSON.parse(pmf('info', 'fashion-mnist', '--json').out) as PmfModelInfo;
  assert.equal(j.numClasses, 10);
  assert.deepEqual(j.inputs, ['z', 'h', 'y', 'omega', 't_min', 't_max']);
});

test('info of a 1000-class model lists the first class names and how many more; --json has them all', () => {
  const spec = imageSpec();
  const names = Array.from({ length: 1000 }, (_, i) => `class-${i}`);
  const path = join(tmp, 'imagenet-like.onnx');
  writeFileSync(path, makeModel(withChanges(spec, { metadata: { ...spec.metadata, 'pmf.num_classes': 1000, 'pmf.class_names': names } })));
  const r = pmf('info', path);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /classes: 1000: class-0, class-1, .*, class-11, \.\.\. \(988 more; `--json` lists all\)\n/);
  assert.doesNotMatch(r.out, /class-12\b/);
  assert.deepEqual((JSON.parse(pmf('info', path, '--json').out) as PmfModelInfo).classNames, names);
});

test('a 1000-class model with convert-official\'s placeholder names gets ImageNet-1k\'s built in: 207 is golden retriever', () => {
  const spec = imageSpec();
  const path = join(tmp, 'official-like.onnx');
  const placeholders = Array.from({ length: 1000 }, (_, i) => `imagenet-${i}`);
  writeFileSync(path, makeModel(withChanges(spec, { metadata: { ...spec.metadata, 'pmf.num_classes': 1000, 'pmf.class_names': placeholders } })));
  const r = pmf('info', path);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /classes: 1000: tench, goldfish, great white shark, tiger shark, hammerhead, /);
  const names = (JSON.parse(pmf('info', path, '--json').out) as PmfModelInfo).classNames;
  assert.equal(names[207], 'golden retriever');
  assert.equal(new Set(names).size, 1000, 'no two classes share a name (crane, maillot)');
  // a name picks its class, as an index does
  const gen = pmf('generate', '--model', path, '--class', 'golden retriever,207', '--n', '2', '--out', join(tmp, 'gr'), '--quiet');
  assert.equal(gen.code, 0, gen.err);
  assert.ok(readdirSync(join(tmp, 'gr')).filter((f) => /golden-retriever/.test(f)).length === 2, readdirSync(join(tmp, 'gr')).join(' '));
});

/** What the checks below read of `pmf fields --json` (src/cli/fields.ts). */
interface FieldsJson {
  times: number[];
  settings: { labels: number[] };
  measurements: MeasurementSeries;
}

test('fields measures a trajectory without VS Code: x low-dimensional, u and v not; JSON, .npy, toys, a bad patch', () => {
  const r = pmf('fields', 'fashion-mnist', '--steps', '4', '--seeds', '0-3', '--class', 'T-shirt/top,Trouser,Sneaker,Ankle boot',
    '--consistency', '4', '--quiet');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /5 frames, t from 1 to 0/);
  assert.match(r.out, /4x4 patches \(d = 16\)/);
  const rows = r.out.trim().split('\n').filter((l) => /^\d\.\d{3} /.test(l));
  assert.equal(rows.length, 5);
  const json = JSON.parse(pmf('fields', 'fashion-mnist', '--steps', '4', '--seeds', '0-3', '--class', '0,1,7,9', '--json', '--quiet',
    '--npy', join(tmp, 'fields.npy')).out) as FieldsJson;
  assert.deepEqual(json.times, [1, 0.75, 0.5, 0.25, 0]);
  assert.deepEqual(json.settings.labels, [0, 1, 7, 9]);
  const m = json.measurements;
  assert.equal(m.patchDim, 16);
  for (const f of [0, 1, 2]) {
    assert.ok(m.participationRatio.x[f] < 0.6 * m.participationRatio.u[f], `t=${json.times[f]}: ${m.participationRatio.x[f]} vs ${m.participationRatio.u[f]}`);
    assert.ok(m.participationRatio.x[f] < 0.6 * m.participationRatio.v[f]);
  }
  const npy = readFileSync(join(tmp, 'fields.npy'));
  assert.match(npy.subarray(10, 128).toString('latin1'), /'shape': \(5, 4, 4, 1, 28, 28\)/);
  assert.equal(npy.length - (npy.readUInt16LE(8) + 10), 5 * 4 * 4 * 784 * 4);

  const toy = pmf('fields', 'swiss-roll/u-D512', '--steps', '1', '--quiet');
  assert.equal(toy.code, 0, toy.err);
  assert.match(toy.out, /off x +off u +off v/);
  const off = Number(toy.out.trim().split('\n').find((l) => l.startsWith('1.000'))!.trim().split(/\s+/)[8]);
  assert.ok(off > 5, `u-prediction at D = 512: x(z_1, 0, 1) ${off} from the plane`);

  const bad = pmf('fields', 'fashion-mnist', '--patch', '40');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /Patch size 40 does not fit the 28x28 images of this model: choose 2 to 28/);
});

test('models lists the bundled models; providers reports the policy', () => {
  const m = pmf('models');
  assert.match(m.out, /^fashion-mnist\s/m);
  assert.match(m.out, /^swiss-roll\/u-D512\s/m);
  const p = pmf('providers');
  assert.equal(p.code, 0, p.err);
  assert.match(p.out, /cpu\s+usable/);
  assert.match(p.out, /auto picks: .*cpu/);
});

test('bad input gets a clear message, its exit code, and no output', () => {
  const out = join(tmp, 'never');
  const notOnnx = join(tmp, 'notes.onnx');
  writeFileSync(notOnnx, 'just some text');
  const cases: Array<[string[], number, RegExp]> = [
    [['generate', '--model', notOnnx, '--out', out], 3, /is not an ONNX model/],
    [['generate', '--model', 'no-such-model', '--out', out], 2, /No model 'no-such-model'.*fashion-mnist/],
    [['generate', '--model', 'fashion-mnist', '--class', 'Hat', '--out', out], 2, /Unknown class 'Hat'/],
    [['generate', '--model', 'fashion-mnist', '--n', 'many', '--out', out], 2, /--n expects an integer/],
    [['generate', '--model', 'fashion-mnist', '--omega', '0.2', '--out', out], 2, /omega must be >= 1/],
    [['generate', '--model', 'fashion-mnist', '--provider', 'cuda', '--out', out], 4, /cuda execution provider cannot run here/],
    [['generate', '--model', 'swiss-roll/x-D2', '--class', 'Bag', '--out', out], 2, /unconditional/],
    [['frobnicate'], 2, /unknown command/],
  ];
  for (const [args, code, msg] of cases) {
    const r = pmf(...args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, msg);
  }
  assert.equal(existsSync(out), false, 'failed runs leave no output folder behind');
});

test('Ctrl-C during a run exits with 130 and leaves no partial output', async () => {
  const out = join(tmp, 'cancelled');
  const child = spawn(process.execPath, [CLI, 'generate', '--model', 'fashion-mnist', '--n', '256', '--steps', '400',
    '--out', out], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (/step [1-9]\d*\//.test(err) && !child.killed) child.kill('SIGINT');
  });
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 130, err);
  assert.match(err, /Cancelled/);
  assert.ok(!existsSync(out) || readdirSync(out).length === 0, 'nothing written');
});

test('unconditional, class-only and u-prediction checkpoints generate from the CLI', async () => {
  const cases: Array<[string, string[]]> = [
    [FIXTURE('image-unconditional'), []],
    [FIXTURE('image-no-cfg'), ['--class', 'square,none']],
    [FIXTURE('image-u-prediction'), ['--class', 'circle', '--omega', '2.5', '--t-min', '0.2', '--t-max', '0.8']],
  ];
  for (const [model, extra] of cases) {
    const out = join(tmp, `variant-${cases.findIndex((c) => c[0] === model)}`);
    const r = pmf('generate', '--model', model, '--n', '2', '--out', out, '--quiet', ...extra);
    assert.equal(r.code, 0, `${model}: ${r.err}`);
    assert.equal(readdirSync(out).filter((f) => f.endsWith('.png')).length, 3);
  }
  const r = pmf('generate', '--model', FIXTURE('image-unconditional'), '--class', 'circle', '--out', join(tmp, 'never2'));
  assert.equal(r.code, 2);
  assert.match(r.err, /unconditional: it takes no classes/);
});
