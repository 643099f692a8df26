// pmf inspect, spawned as a user runs it, on real files: the bundled model, the checkpoint
// fixtures of trainer/tools/make_inspect_fixtures.py (expected.json holds what torch and numpy
// say about them), a malicious pickle, and an ONNX model whose weights live in an external file.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fullModelType, type OnnxModel } from '../../src/core/checkpoint';
import { imageSpec, makeModel, withChanges } from '../core/onnxFixtures';
import { safetensorsOf } from '../core/safetensorsFixture';
import { fashionMnistPt } from '../helpers/bundledPyTorch';
import { CLI, FASHION, REPO, requireBuilt } from '../helpers/paths';

const tmp = mkdtempSync(join(tmpdir(), 'pmf-cli-inspect-'));
const CHECKPOINTS = join(REPO, 'test', 'fixtures', 'checkpoints');

function pmf(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface JsonTensor {
  name: string;
  dtype: string;
  shape: number[];
  stats?: { min: number; max: number; mean: number; std: number; count: number } | string;
}

before(() => requireBuilt());

test('inspect explains the bundled model: contract, architecture, graph, tensors', () => {
  const r = pmf('inspect', FASHION);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^model\.onnx {2}\(/);
  assert.match(r.out, /onnx, 12\.4 MB, 3\.04M parameters in \d+ tensors \(float32 3\.04M\)/);
  assert.match(r.out, /architecture: pmfDiT, 0\.137 GFLOP per image \(from the pmf\.architecture metadata\)\n {4}name pmfDiT, params 3\.04M, depth 6, hidden_size 192,/);
  assert.match(r.out, /pMF contract: ok \(x-prediction image model\)/);
  assert.match(r.out, /graph: \d+ nodes, opsets ai\.onnx 17/);
  assert.match(r.out, /net\.pos_embed {2}float32 \[1, 25, 192\]/);
});

test('--json --stats --filter: the statistics torch and numpy computed for the fixture', () => {
  const expected = (JSON.parse(readFileSync(join(CHECKPOINTS, 'expected.json'), 'utf8')) as Record<string, { tensors: JsonTensor[] }>)['pmfdit.pt'];
  const r = pmf('inspect', join(CHECKPOINTS, 'pmfdit.pt'), '--json', '--stats', '--filter', 'final_layer');
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out) as { format: string; tensors: JsonTensor[]; pickle: { layout: string } };
  assert.equal(out.format, 'pytorch');
  assert.equal(out.pickle.layout, 'zip');
  const want = expected.tensors.filter((t) => t.name.includes('final_layer'));
  assert.ok(want.length >= 2);
  assert.deepEqual(out.tensors.map((t) => t.name), want.map((t) => t.name));
  for (const [i, t] of out.tensors.entries()) {
    const s = t.stats;
    const e = want[i].stats as Exclude<JsonTensor['stats'], string | undefined>;
    assert.ok(s && typeof s === 'object', `${t.name}: ${JSON.stringify(s)}`);
    assert.equal(s.count, e.count);
    assert.equal(s.min, e.min);
    assert.equal(s.max, e.max);
    assert.ok(Math.abs(s.mean - e.mean) <= 1e-6 * Math.max(1, Math.abs(e.mean)), `${t.name} mean ${s.mean} vs ${e.mean}`);
    assert.ok(Math.abs(s.std - e.std) <= 1e-6 * Math.max(1, e.std), `${t.name} std ${s.std} vs ${e.std}`);
  }
});

test('a malicious pickle is reported as dangerous (exit code 5, a gate before torch.load) and nothing in it runs', () => {
  const dir = mkdtempSync(join(tmp, 'evil-'));
  copyFileSync(join(CHECKPOINTS, 'malicious.pt'), join(dir, 'malicious.pt'));
  const r = spawnSync(process.execPath, [CLI, 'inspect', 'malicious.pt'], { encoding: 'utf8', cwd: dir });
  assert.equal(r.status, 5, r.stderr);
  assert.match(r.stdout, /DANGER: .*(os|posix)\.system/);
  assert.match(r.stdout, /globals: \d+ \([1-9]\d* not expected in a state dict: .*system/);
  assert.equal(existsSync(join(dir, 'pwned')), false, 'the payload (touch pwned) must not have run');
});

test('ONNX external data: statistics read from the file beside the model; a location outside its folder is refused', () => {
  const dir = join(tmp, 'external');
  mkdirSync(join(dir, 'model'), { recursive: true });
  const values = new Float32Array([1.5, -2, 0, 4, 8, -0.5, 3, 2]);
  const weights = new Uint8Array(64 + values.byteLength);
  weights.set(new Uint8Array(values.buffer), 64);
  writeFileSync(join(dir, 'model', 'weights.bin'), weights);
  writeFileSync(join(dir, 'secret.bin'), weights); // outside the model's folder: must not be read
  const model = fullModelType.decode(makeModel(withChanges(imageSpec(), {}))) as OnnxModel;
  const ext = (name: string, location: string) => ({
    name, dims: [2, 4], data_type: 1, data_location: 1,
    external_data: [{ key: 'location', value: location }, { key: 'offset', value: '64' }, { key: 'length', value: '32' }],
  });
  model.graph!.initializer = [ext('w', 'weights.bin'), ext('escape', '../secret.bin')];
  writeFileSync(join(dir, 'model', 'ext.onnx'), fullModelType.encode(model).finish());

  const r = pmf('inspect', join(dir, 'model', 'ext.onnx'), '--json', '--stats');
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out) as { tensors: JsonTensor[]; findings: Array<{ message: string }> };
  const w = out.tensors.find((t) => t.name === 'w')!;
  assert.deepEqual(w.stats && typeof w.stats === 'object' && [w.stats.count, w.stats.min, w.stats.max, w.stats.mean], [8, -2, 8, 2]);
  const escape = out.tensors.find((t) => t.name === 'escape')!;
  assert.ok(typeof escape.stats === 'string', JSON.stringify(escape.stats));
  assert.match(escape.stats, /outside the model's folder; not read/);
  assert.ok(out.findings.some((f) => /external data file.*weights\.bin/.test(f.message)));
});

test('files that are not checkpoints: exit code 3 and a message that says what the file is', () => {
  const png = join(tmp, 'picture.pt');
  writeFileSync(png, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
  const empty = join(tmp, 'empty.onnx');
  writeFileSync(empty, '');
  const cases: Array<[string[], number, RegExp]> = [
    [['inspect', png], 3, /picture\.pt is not a checkpoint: it looks like a PNG image/],
    [['inspect', empty], 3, /empty\.onnx is empty \(0 bytes\)/],
    [['inspect', join(CHECKPOINTS, 'truncated.pt')], 3, /truncated\.pt is truncated: it is an incomplete ZIP archive/],
    [['inspect'], 2, /inspect takes one FILE/],
    [['inspect', join(tmp, 'missing.pt')], 2, /No file '.*missing\.pt'/],
  ];
  for (const [args, code, msg] of cases) {
    const r = pmf(...args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, msg);
    assert.equal(r.out, '');
  }
});

test('--compare: the bundled ONNX export against its PyTorch weights, as text and JSON', () => {
  const pt = fashionMnistPt();
  const r = pmf('inspect', FASHION, '--compare', pt);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^model\.onnx against model\.pt: 108 tensors in both \(108 identical, \d+ stored transposed in one of them\), 0 only in model\.onnx, 0 only in model\.pt\n$/);
  const j = pmf('inspect', FASHION, '--compare', pt, '--json', '--filter', 'u_heads.1');
  assert.equal(j.code, 0, j.err);
  const out = JSON.parse(j.out) as { tensors: Array<{ name: string; other: string; transposed?: boolean; diff: { identical: boolean } }> };
  assert.ok(out.tensors.length >= 13, `${out.tensors.length} u_heads.1 tensors`);
  assert.ok(out.tensors.every((t) => t.diff.identical && /u_heads\.1[./]/.test(`${t.name} ${t.other}`)));
  assert.ok(out.tensors.some((t) => t.transposed && t.other === 'u_heads.1.mlp.w2.weight'));
  const bad = pmf('inspect', FASHION, '--compare', pt, '--stats');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--stats and --compare do not go together/);
});

test('names from a checkpoint cannot drive the terminal: control characters print as \\u escapes, JSON still parses to the name', () => {
  // a name that would move the cursor up and erase the line above (where a DANGER line may stand), and a bidi override
  const evil = 'w\u001b[1A\u001b[2K\u202eok\u009b2J';
  const file = join(tmp, 'names.safetensors');
  writeFileSync(file, safetensorsOf({ [evil]: { shape: [2], values: [1, 2] } }));
  const r = pmf('inspect', file);
  assert.equal(r.code, 0, r.err);
  assert.ok(!/[\u001b\u009b\u202e]/.test(r.out), 'no raw control characters in the output');
  assert.ok(r.out.includes('w\\u001b[1A\\u001b[2K\\u202eok\\u009b2J  float32 [2]'), r.out);
  const j = pmf('inspect', file, '--json');
  assert.ok(!/[\u001b\u009b\u202e]/.test(j.out));
  assert.equal((JSON.parse(j.out) as { tensors: JsonTensor[] }).tensors[0].name, evil);
});

test('a FIFO, a device and a folder are refused at once with a message that says what they are', () => {
  const fifo = join(tmp, 'pipe.onnx');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  for (const [path, kind] of [[fifo, 'a FIFO \\(named pipe\\)'], ['/dev/zero', 'a character device'], [tmp, 'a folder']] as const) {
    for (const cmd of ['inspect', 'info']) {
      // a FIFO that blocked the open would hit the timeout: status null, not 3
      const r = spawnSync(process.execPath, [CLI, cmd, path], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 3, `${cmd} ${path}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^pmf: ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is ${kind}, not a file: pMF Lab reads checkpoints from regular files only`), r.stderr);
    }
  }
});

test('--stats on a huge tensor shows its progress and stops at Ctrl-C (exit 130)', async () => {
  // 8 GiB of float32 zeros in a sparse file: minutes of reading
  const n = 2 ** 31;
  let header = JSON.stringify({ big: { dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] } });
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const file = join(tmp, 'huge.safetensors');
  const head = Buffer.alloc(8 + header.length);
  head.writeUInt32LE(header.length, 0);
  head.write(header, 8);
  writeFileSync(file, head);
  truncateSync(file, head.length + 4 * n);
  const child = spawn(process.execPath, [CLI, 'inspect', file, '--stats'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const progressed = new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (/statistics: [\d.]+ GB of 8\.6 GB read \(\d+ %\); Ctrl-C stops/.test(err)) resolve();
  }));
  await progressed;
  const t0 = Date.now();
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 130, err);
  assert.ok(Date.now() - t0 < 30_000, `${Date.now() - t0} ms to stop (reading all of it takes minutes)`);
  assert.match(err, /pmf: statistics stopped \(Ctrl-C\) after 0 of 1 tensors of huge\.safetensors; nothing was written\./);
  rmSync(file);
});
