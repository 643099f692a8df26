// pMF: Inspect Checkpoint's core (src/core/checkpoint/inspect) against real files: the fixtures of
// trainer/tools/make_inspect_fixtures.py, whose expected.json holds what Python (torch, numpy,
// zipfile) says about each tensor, the bundled models, and hand-made edge cases.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { fullModelType, type OnnxModel } from '../../src/core/checkpoint';
import {
  bfloat16ToNumber,
  bufferSource,
  float16ToNumber,
  formatParams,
  inferArchitecture,
  inspectCheckpoint,
  InspectError,
  MAX_USED_BY,
  tensorStats,
  type ByteSource,
  type CheckpointSummary,
  type TensorEntry,
} from '../../src/core/checkpoint/inspect';
import { ditFlopsPerImage } from '../../src/core/checkpoint/inspect/architecture';
import { isExporterName, moduleOf } from '../../src/core/checkpoint/inspect/display';
import { openFileSource } from '../../src/node/fileSource';
import { imageSpec, makeModel, withChanges } from './onnxFixtures';
import { safetensors } from './safetensorsFixture';

const REPO = path.resolve(__dirname, '../../..');
const FIXTURES = path.join(REPO, 'test', 'fixtures', 'checkpoints');
const FASHION = path.join(REPO, 'models', 'fashion-mnist', 'model.onnx');
const TOY_X2 = path.join(REPO, 'models', 'swiss-roll', 'x-D2.onnx');

interface ExpectedStats { count: number; nan: number; inf: number; zeros: number; min: number; max: number; mean: number; std: number }
interface ExpectedTensor {
  name: string;
  dtype: string;
  shape: number[];
  contiguous: boolean;
  data?: { offset: number; byteLength: number };
  stats?: ExpectedStats;
}
interface ExpectedFile {
  format?: string;
  layout?: string;
  tensorPath?: string;
  tensors?: ExpectedTensor[];
  metadata?: Record<string, string>;
  topLevel?: Record<string, string>;
  model_config?: Record<string, unknown>;
  config?: Record<string, number>;
  official_name?: string;
  size: number;
}
const EXPECTED = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, ExpectedFile>;

function fixture(name: string): Uint8Array {
  return fs.readFileSync(path.join(FIXTURES, name));
}

async function inspectBytes(bytes: Uint8Array, name: string): Promise<{ summary: CheckpointSummary; source: ByteSource }> {
  const source = bufferSource(bytes);
  return { summary: await inspectCheckpoint(source, name), source };
}

async function rejectsWith(bytes: Uint8Array, name: string, code: InspectError['code'], message: RegExp): Promise<void> {
  await assert.rejects(inspectCheckpoint(bufferSource(bytes), name), (e: unknown) => {
    assert.ok(e instanceof InspectError, `expected an InspectError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

function close(actual: number, expected: number, what: string, rel = 1e-9): void {
  const tol = rel * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);
}

function tensor(s: CheckpointSummary, name: string): TensorEntry {
  return s.tensors.find((t) => t.name === name) ?? assert.fail(`no tensor ${name} in ${s.tensors.map((t) => t.name).join(', ')}`);
}

/** Names, dtypes, shapes, offsets (when Python located them) and numpy's statistics, tensor by tensor. */
async function matchesExpected(s: CheckpointSummary, source: ByteSource, expected: ExpectedTensor[]): Promise<number> {
  let compared = 0;
  for (const e of expected) {
    const t = tensor(s, e.name);
    assert.equal(t.dtype, e.dtype, e.name);
    assert.deepEqual(t.shape, e.shape, e.name);
    assert.equal(t.numel, e.shape.reduce((a, b) => a * b, 1), e.name);
    if (e.data) assert.deepEqual(t.data, e.data, `${e.name}: data location`);
    if (!e.contiguous) {
      assert.equal(t.data, undefined, e.name);
      assert.match(t.note ?? '', /non-contiguous/, e.name);
    }
    if (e.stats && e.contiguous) {
      const st = await tensorStats(source, t);
      for (const k of ['count', 'nan', 'inf', 'zeros'] as const) assert.equal(st[k], e.stats[k], `${e.name}.${k}`);
      for (const k of ['min', 'max', 'mean', 'std'] as const) close(st[k], e.stats[k], `${e.name}.${k}`);
      assert.equal(st.histogram.counts.reduce((a, b) => a + b, 0), st.count - st.nan - st.inf, `${e.name}: histogram total`);
      compared++;
    }
  }
  return compared;
}

// ---- format detection -----------------------------------------------------------------------

describe('format detection by content', () => {
  test('each format is recognised whatever the file is called', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmf-inspect-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const cases: Array<[string, string, CheckpointSummary['format'], string?]> = [
      [path.join(FIXTURES, 'tensors.safetensors'), 'model.onnx', 'safetensors'],
      [path.join(FIXTURES, 'pmfdit.pt'), 'weights.safetensors', 'pytorch', 'zip'],
      [path.join(FIXTURES, 'legacy.pt'), 'legacy.onnx', 'pytorch', 'legacy'],
      [path.join(FIXTURES, 'scripted.pt'), 'scripted.bin', 'pytorch', 'torchscript'],
      [TOY_X2, 'toy.pt', 'onnx'],
    ];
    for (const [from, as, format, layout] of cases) {
      const file = path.join(dir, as);
      fs.copyFileSync(from, file);
      const src = await openFileSource(file);
      try {
        const s = await inspectCheckpoint(src, as);
        assert.equal(s.format, format, as);
        assert.equal(s.fileName, as);
        assert.equal(s.fileSize, fs.statSync(from).size);
        assert.equal(s.format === 'pytorch' ? s.pickle.layout : undefined, layout, as);
      } finally {
        await src.close();
      }
    }
  });

  test('files that are not checkpoints are named in the error', async () => {
    const png = fs.readFileSync(path.join(REPO, 'models', 'fashion-mnist', 'samples.png'));
    await rejectsWith(png, 'samples.pt', 'unknown-format', /samples\.pt is not a checkpoint: it looks like a PNG image\. pMF Lab reads ONNX/);
    await rejectsWith(fixture('expected.json'), 'x.onnx', 'unknown-format', /looks like a JSON file/);
    await rejectsWith(Buffer.from('2 plain words of text\n'), 'notes.onnx', 'unknown-format', /looks like a text file/);
    await rejectsWith(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2]), 'a.pt', 'unknown-format', /JPEG image/);
    await rejectsWith(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0]), 'a.pt.gz', 'unknown-format', /gzip-compressed data: decompress it first/);
    await rejectsWith(new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]), 'a.npy', 'unknown-format', /numpy \.npy array/);
    await rejectsWith(new Uint8Array(0), 'empty.pt', 'empty', /empty\.pt is empty \(0 bytes\)/);
    await rejectsWith(new Uint8Array([0x03, 0x99, 0x12, 0x00, 0xfe]), 'noise.onnx', 'unknown-format', /unrecognised binary data/);
  });

  test('a read that fails inside an ONNX file is that failure, not "not an ONNX model"', async () => {
    const bytes = fs.readFileSync(FASHION);
    const inner = bufferSource(bytes);
    const failing: ByteSource = {
      size: inner.size,
      read: (offset, length) =>
        offset + length > 1 << 20 ? Promise.reject(new Error('EIO: i/o error, read')) : inner.read(offset, length),
    };
    await assert.rejects(inspectCheckpoint(failing, 'model.onnx'), (e: unknown) => {
      assert.ok(e instanceof Error && !(e instanceof InspectError), `expected the read error itself, got ${String(e)}`);
      assert.match(e.message, /EIO/);
      return true;
    });
  });

  test('a protobuf that is not an ONNX model is not taken for one', async () => {
    // field 2 (producer_name) only: decodes as a ModelProto but has no IR version or graph
    const bytes = new Uint8Array([0x12, 0x03, 0x61, 0x62, 0x63]);
    await rejectsWith(bytes, 'x.onnx', 'unknown-format', /not a checkpoint/);
  });
});

// ---- safetensors ----------------------------------------------------------------------------

describe('safetensors', () => {
  test('F32, F16, BF16, I64, U8 and BOOL tensors: locations and statistics equal numpy', async () => {
    const expected = EXPECTED['tensors.safetensors'];
    const { summary: s, source } = await inspectBytes(fixture('tensors.safetensors'), 'tensors.safetensors');
    assert.equal(s.format, 'safetensors');
    assert.deepEqual(s.metadata, expected.metadata);
    assert.deepEqual(s.tensors.map((t) => t.name), expected.tensors!.map((t) => t.name));
    assert.equal(await matchesExpected(s, source, expected.tensors!), 6);
    assert.deepEqual(s.paramsByDtype, { float32: 12, float16: 7, bfloat16: 6, int64: 4, uint8: 25, bool: 4 });
    assert.equal(s.totalParams, 58);
    assert.ok(!s.findings.some((f) => f.severity !== 'info'), JSON.stringify(s.findings));
    assert.ok(s.findings.some((f) => /bfloat16 weights \(6 parameters\): the extension's ONNX runtime needs float32/.test(f.message)));
    assert.ok(!s.findings.some((f) => /__metadata__/.test(f.message)));
  });

  test('layout problems become findings; an unreadable header is an error', async () => {
    const f32 = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } };
    const clean = await inspectBytes(safetensors(ok, f32), 'ok.safetensors');
    assert.deepEqual(clean.summary.findings.map((f) => f.severity), ['info']);
    assert.match(clean.summary.findings[0].message, /No __metadata__/);

    const overlap = await inspectBytes(
      safetensors({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, f32),
      'overlap.safetensors',
    );
    assert.ok(overlap.summary.findings.some((f) => f.severity === 'warning' && /a and b overlap/.test(f.message)));

    const short = await inspectBytes(safetensors({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32), 'short.safetensors');
    const a = tensor(short.summary, 'a');
    assert.equal(a.data, undefined);
    assert.equal(a.note, '8 bytes of data, 12 expected');
    assert.ok(short.summary.findings.some((f) => f.severity === 'warning' && /8 bytes of data for shape \[3\]/.test(f.message)));
    await assert.rejects(tensorStats(short.source, a), (e: unknown) => e instanceof InspectError && e.code === 'unsupported' && e.message === a.note);

    await rejectsWith(safetensors({ a: { dtype: 'F32', shape: [8], data_offsets: [0, 32] } }, f32), 'past.safetensors', 'truncated',
      /^past\.safetensors is truncated: tensor a's data ends at byte 32 of the data, which holds only 16 bytes \(an interrupted download or copy\?\)/);

    const sorted = await inspectBytes(safetensors({ __metadata__: { k: 1 }, b: ok.b, a: ok.a }, f32), 'order.safetensors');
    assert.deepEqual(sorted.summary.metadata, { k: '1' });
    assert.ok(sorted.summary.findings.some((f) => /must be strings/.test(f.message)));
    assert.ok(!sorted.summary.findings.some((f) => /overlap|Unused/.test(f.message)), 'header order is free');

    await rejectsWith(safetensors(undefined, f32, '{"a": [1, 2'), 'bad.safetensors', 'corrupt', /header is not valid JSON/);
    const huge = safetensors(ok, f32);
    new DataView(huge.buffer).setUint32(0, 200 * 1024 * 1024, true);
    await rejectsWith(huge, 'huge.safetensors', 'corrupt', /headers over 100 MB are refused/);
    const cut = safetensors(ok, f32);
    new DataView(cut.buffer).setUint32(0, cut.length, true);
    await rejectsWith(cut, 'cut.safetensors', 'truncated', /^cut\.safetensors is truncated: its safetensors header claims \d+ bytes but the file has only/);
  });
});

// ---- PyTorch --------------------------------------------------------------------------------

describe('PyTorch zip checkpoints', () => {
  test("our trainer's save_pytorch file: tensors, offsets, statistics, top level, metadata and architecture", async () => {
    const expected = EXPECTED['pmfdit.pt'];
    const { summary: s, source } = await inspectBytes(fixture('pmfdit.pt'), 'pmfdit.pt');
    assert.equal(s.format, 'pytorch');
    assert.equal(s.pickle.layout, 'zip');
    assert.equal(s.pickle.protocol, 2);
    assert.equal(s.pickle.tensorPath, 'state_dict');
    for (const [k, v] of Object.entries(expected.topLevel!)) assert.equal(s.pickle.topLevel[k], v, k);
    assert.match(s.pickle.topLevel.model_config_json, /^str \(JSON, \d+ chars\)$/);
    assert.deepEqual(s.tensors.map((t) => t.name), expected.tensors!.map((t) => t.name));
    assert.equal(await matchesExpected(s, source, expected.tensors!), expected.tensors!.length);
    assert.ok(s.pickle.globals.every((g) => g.allowed), JSON.stringify(s.pickle.globals));
    assert.deepEqual(
      s.pickle.globals.map((g) => `${g.module}.${g.name}`).sort(),
      ['collections.OrderedDict', 'torch.FloatStorage', 'torch._utils._rebuild_tensor_v2'],
    );
    // the configuration travels as JSON text; the architecture comes from it
    assert.deepEqual(JSON.parse(s.metadata.model_config_json), expected.model_config);
    assert.equal(s.architecture.family, 'pmfDiT');
    assert.match(s.architecture.basis, /model_config_json/);
    for (const [k, v] of Object.entries(expected.model_config!)) assert.equal(s.architecture.config[k], v, k);
    assert.equal(s.architecture.label, undefined);
    assert.ok(!s.findings.some((f) => f.severity !== 'info'), JSON.stringify(s.findings));
  });

  test('without the metadata, the pmfDiT key names and shapes give the same configuration', async () => {
    const expected = EXPECTED['pmfdit.pt'];
    const { summary: s } = await inspectBytes(fixture('pmfdit.pt'), 'pmfdit.pt');
    const a = inferArchitecture(s.tensors, {}, 'pytorch');
    assert.equal(a.family, 'pmfDiT');
    assert.match(a.basis, /pmfDiT key names/);
    const cfg = expected.model_config!;
    for (const k of ['hidden_size', 'depth', 'num_heads', 'patch_size', 'in_channels', 'input_size', 'num_classes', 'cfg_inputs',
      'aux_head_depth', 'bottleneck_channels', 'num_class_tokens', 'num_time_tokens', 'num_cfg_tokens', 'num_interval_tokens',
      'frequency_embedding_size', 'v_head']) {
      assert.equal(a.config[k], cfg[k], k);
    }
  });

  test('an official-style state dict: official rule, sizes as official.py infer_config finds them, conversion advice', async () => {
    const expected = EXPECTED['official-tiny.pt'];
    const { summary: s, source } = await inspectBytes(fixture('official-tiny.pt'), 'official-tiny.pt');
    assert.equal(s.format, 'pytorch');
    assert.equal(s.pickle.tensorPath, '');
    assert.equal(await matchesExpected(s, source, expected.tensors!), expected.tensors!.length - 1); // all but the complex rope table
    assert.equal(s.architecture.family, 'pmfDiT-official');
    for (const [k, v] of Object.entries(expected.config!)) assert.equal(s.architecture.config[k], v, k);
    assert.equal(s.architecture.label, undefined, `tiny sizes are not an official model (${expected.official_name})`);
    // the paper's parameter count leaves out the auxiliary v head (and the RoPE buffer)
    const inference = expected.tensors!.filter((t) => !/^net\.(v_heads\.|v_final_layer\.)/.test(t.name) && t.name !== 'net.rope_freqs');
    assert.ok(inference.length < expected.tensors!.length - 10);
    assert.equal(s.architecture.config.params_without_v_head, inference.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0));
    assert.ok(s.findings.some((f) => f.severity === 'info' &&
      f.message.includes('scripts/pmf-trainer convert-official --ckpt official-tiny.pt --out official-tiny.onnx')));
    const rope = tensor(s, 'net.rope_freqs');
    assert.equal(rope.dtype, 'complex64');
    assert.deepEqual(s.paramsByDtype, { float32: s.totalParams - rope.numel, complex64: rope.numel });
    await assert.rejects(tensorStats(source, rope), (e: unknown) => e instanceof InspectError && e.code === 'unsupported' && /complex64/.test(e.message));
  });

  test('a training checkpoint: the model weights are listed, optimizer and EMA state reported, config from the run', async () => {
    const expected = EXPECTED['training.pt'];
    const { summary: s, source } = await inspectBytes(fixture('training.pt'), 'training.pt');
    assert.equal(s.format, 'pytorch');
    assert.equal(s.pickle.tensorPath, 'model');
    assert.deepEqual(s.tensors.map((t) => t.name), expected.tensors!.map((t) => t.name));
    assert.equal(await matchesExpected(s, source, expected.tensors!), expected.tensors!.length);
    assert.match(s.pickle.topLevel.optimizer, /^list \(1, \d+ tensors\)$/);
    assert.equal(s.pickle.topLevel.gen_state, 'tensor uint8 [5056]');
    assert.equal(s.pickle.topLevel.step, 'int 1');
    assert.equal(s.pickle.topLevel.train_seconds, 'float 0.5');
    assert.equal(s.pickle.topLevel.model, undefined);
    assert.ok(s.findings.some((f) => /^Also holds optimizer state \('optimizer'\)/.test(f.message)));
    assert.ok(s.findings.some((f) => /^Also holds EMA weights \('ema'/.test(f.message)));
    assert.equal(s.architecture.family, 'toy-mlp');
    assert.match(s.architecture.basis, /'run'/);
    assert.deepEqual((JSON.parse(s.metadata.run) as { model: unknown }).model, expected.model_config);
    // the key-name rule agrees with the configuration
    const byKeys = inferArchitecture(s.tensors, {}, 'pytorch');
    assert.equal(byKeys.family, 'toy-mlp');
    assert.deepEqual(byKeys.config, { dim: 2, hidden: 8, layers: 3, time_features: 4 });
  });

  test('a malicious pickle is reported, never run', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmf-inspect-cwd-'));
    const cwd = process.cwd();
    process.chdir(dir); // os.system('touch pwned') would create ./pwned here
    t.after(() => {
      process.chdir(cwd);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const { summary: s, source } = await inspectBytes(fixture('malicious.pt'), 'malicious.pt');
    assert.equal(s.format, 'pytorch');
    assert.deepEqual(s.pickle.globals.find((g) => g.name === 'system'), { module: 'posix', name: 'system', allowed: false });
    const danger = s.findings.filter((f) => f.severity === 'danger');
    assert.equal(danger.length, 1);
    assert.equal(s.findings[0], danger[0], 'danger first');
    assert.match(danger[0].message, /posix\.system \(os\.system: runs a shell command\)/);
    assert.match(danger[0].message, /loading this file with torch\.load\(weights_only=False\) would call it; pMF Lab only parsed it, nothing ran\./);
    assert.equal(s.pickle.topLevel.payload, 'posix.system(...)');
    assert.equal(await matchesExpected(s, source, EXPECTED['malicious.pt'].tensors!), 1);
    for (const where of [dir, cwd, FIXTURES, REPO, __dirname]) assert.ok(!fs.existsSync(path.join(where, 'pwned')), `pwned in ${where}`);
  });

  test('views: a transposed view has no in-place data; slices with storage offsets and a Parameter read right', async () => {
    const expected = EXPECTED['views.pt'];
    const { summary: s, source } = await inspectBytes(fixture('views.pt'), 'views.pt');
    assert.equal(s.format, 'pytorch');
    assert.equal(await matchesExpected(s, source, expected.tensors!), expected.tensors!.length - 1);
    const tail = tensor(s, 'tail');
    const head = tensor(s, 'head');
    assert.equal(tail.data!.offset, head.data!.offset + 8 * 4, 'tail starts 8 floats into the shared storage');
    assert.match(tensor(s, 'transposed').note!, /^non-contiguous \(strides \[1, 6\]\)/);
    assert.ok(s.pickle.globals.some((g) => g.name === '_rebuild_parameter' && g.allowed));
  });

  test('a truncated zip checkpoint is an error that says so; a zip without data.pkl is not a checkpoint', async () => {
    await rejectsWith(fixture('truncated.pt'), 'truncated.pt', 'truncated', /truncated\.pt is truncated: it is an incomplete ZIP archive/);
    await rejectsWith(storedZip({ 'docs/readme.txt': Buffer.from('hello') }), 'notes.pt', 'unsupported', /no docs\/data\.pkl \(it holds 1 entry: docs\/readme\.txt\)/);
    await rejectsWith(storedZip({ 'x/data.pkl': Buffer.from('garbage!') }), 'bad.pt', 'corrupt', /x\/data\.pkl is not a readable pickle/);
  });
});

describe('other pickle layouts', () => {
  test('legacy torch.save: tensors located after the pickles, statistics equal numpy', async () => {
    const expected = EXPECTED['legacy.pt'];
    const { summary: s, source } = await inspectBytes(fixture('legacy.pt'), 'legacy.pt');
    assert.equal(s.format, 'pytorch');
    assert.equal(s.pickle.layout, 'legacy');
    assert.equal(s.pickle.tensorPath, '');
    assert.deepEqual(s.tensors.map((t) => t.name), expected.tensors!.map((t) => t.name));
    assert.equal(await matchesExpected(s, source, expected.tensors!), 3);
    assert.ok(s.findings.some((f) => /legacy torch\.save format/.test(f.message)));
  });

  test('a truncated legacy file is an error that says so, as in every format', async () => {
    const bytes = fixture('legacy.pt');
    await rejectsWith(bytes.subarray(0, bytes.length - 10), 'cut.pt', 'truncated', /^cut\.pt is truncated: .*Download or copy it again\.$/);
    // cut inside the pickles, not the tensor data
    await rejectsWith(bytes.subarray(0, 300), 'cut.pt', 'truncated', /^cut\.pt is truncated: its pickled data is cut off/);
  });

  test('TorchScript archive: module tensors by their state_dict names, a danger: loading it runs its code', async () => {
    const expected = EXPECTED['scripted.pt'];
    const { summary: s, source } = await inspectBytes(fixture('scripted.pt'), 'scripted.pt');
    assert.equal(s.format, 'pytorch');
    assert.equal(s.pickle.layout, 'torchscript');
    assert.deepEqual(s.tensors.map((t) => t.name), ['lin.weight', 'lin.bias']);
    assert.equal(await matchesExpected(s, source, expected.tensors!), 2);
    assert.ok(s.findings.some((f) => f.severity === 'danger' && /TorchScript archive: torch\.load passes it to torch\.jit\.load, which compiles/.test(f.message)));
    assert.equal(s.findings.filter((f) => f.severity === 'danger').length, 1, 'its __torch__ classes are not named again as unsafe globals');
  });

  test('pickles that share containers (the memo) cannot make the reader walk exponentially many paths', async () => {
    // Protocol 2 opcodes, written by hand: a list holding the previous list twice, 40 deep (2^40
    // paths from 300 bytes), and a config dict whose 10 keys all hold the previous dict, 16 deep.
    const op = { PROTO: 0x80, EMPTY_LIST: 0x5d, EMPTY_DICT: 0x7d, APPEND: 0x61, SETITEM: 0x73, BINPUT: 0x71, BINGET: 0x68,
      BININT1: 0x4b, SHORT_BINUNICODE: 0x8c, STOP: 0x2e };
    const str = (t: string) => [op.SHORT_BINUNICODE, t.length, ...Buffer.from(t, 'latin1')];
    const lists = [op.PROTO, 2, op.EMPTY_LIST, op.BININT1, 1, op.APPEND, op.BINPUT, 0];
    for (let i = 1; i <= 40; i++) lists.push(op.EMPTY_LIST, op.BINGET, i - 1, op.APPEND, op.BINGET, i - 1, op.APPEND, op.BINPUT, i);
    lists.push(op.STOP);
    const dicts = [op.PROTO, 2, op.EMPTY_DICT, ...str('config'), op.EMPTY_DICT, op.BINPUT, 0];
    for (let i = 1; i <= 16; i++) {
      dicts.push(op.EMPTY_DICT);
      for (const k of 'abcdefghij') dicts.push(...str(k), op.BINGET, i - 1, op.SETITEM);
      dicts.push(op.BINPUT, i);
    }
    dicts.push(op.SETITEM, op.STOP);
    for (const [bytes, name] of [[lists, 'lists.pt'], [dicts, 'dicts.pt']] as const) {
      const t0 = performance.now();
      const { summary: s } = await inspectBytes(Uint8Array.from(bytes), name);
      assert.ok(performance.now() - t0 < 5_000, `${name} read in ${(performance.now() - t0).toFixed(0)} ms`);
      assert.equal(s.tensors.length, 0);
      assert.ok(s.findings.some((f) => /holds no tensors/.test(f.message)));
      assert.equal(s.metadata.config, undefined, 'a config too large to copy is left out');
    }
  });

  test('a plain pickle with a numpy array: numpy globals are a warning, the array is located in the pickle', async () => {
    const { summary: s, source } = await inspectBytes(fixture('numpy.pkl'), 'numpy.pkl');
    assert.equal(s.format, 'pytorch');
    assert.equal(s.pickle.layout, 'legacy');
    assert.equal(s.pickle.protocol, 4);
    assert.ok(!s.findings.some((f) => f.severity === 'danger'));
    assert.ok(s.findings.some((f) => f.severity === 'warning' && /numpy globals \(numpy\.core\.multiarray\._reconstruct/.test(f.message)));
    assert.ok(s.pickle.globals.every((g) => !g.allowed));
    const w = tensor(s, 'w');
    assert.deepEqual([w.dtype, w.shape], ['float32', [2, 3]]);
    const st = await tensorStats(source, w);
    assert.deepEqual([st.min, st.max, st.mean], [0, 5, 2.5]);
    assert.equal(s.pickle.topLevel.step, 'int 3');
  });
});

// ---- ONNX -----------------------------------------------------------------------------------

describe('ONNX', () => {
  test(
    'the bundled Fashion-MNIST model: contract ok, pmfDiT from its metadata, parameters, operators, raw_data located',
    { skip: fs.existsSync(FASHION) ? false : 'models/fashion-mnist/model.onnx is not there' },
    async () => {
      const bytes = fs.readFileSync(FASHION);
      const { summary: s, source } = await inspectBytes(bytes, 'model.onnx');
      assert.equal(s.format, 'onnx');
      const onnx = s.onnx;
      assert.equal(onnx.contract.ok, true);
      const arch = JSON.parse(s.metadata['pmf.architecture']) as { params: number; hidden_size: number };
      assert.equal(s.architecture.family, 'pmfDiT');
      assert.equal(s.architecture.config.params, arch.params);
      assert.equal(s.architecture.config.hidden_size, arch.hidden_size);
      assert.equal(s.totalParams, arch.params);
      assert.ok(Object.keys(onnx.opCounts).length > 5);
      assert.equal(Object.values(onnx.opCounts).reduce((a, b) => a + b, 0), onnx.nodeCount);
      assert.deepEqual(onnx.inputs.map((i) => i.name), ['z', 'h', 'y', 'omega', 't_min', 't_max']);
      assert.equal(onnx.irVersion, 8);
      assert.ok(s.tensors.every((t) => t.data), 'every initializer located');

      // the same initializer decoded independently with protobufjs
      const model = fullModelType.decode(bytes) as OnnxModel;
      const init = model.graph!.initializer!.find((t) => t.name === 'net.pos_embed')!;
      const values = new Float32Array(new Uint8Array(init.raw_data!).buffer); // a copy: protobufjs gives Buffers, whose slice() shares memory
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
      const st = await tensorStats(source, tensor(s, 'net.pos_embed'));
      assert.equal(st.count, values.length);
      assert.equal(st.min, Math.min(...values));
      assert.equal(st.max, Math.max(...values));
      close(st.mean, mean, 'mean', 1e-9);
      close(st.std, std, 'std', 1e-9);

      // weights the exporter named onnx::MatMul_N: the nodes that read them name their modules,
      // q/k/v/out and SwiGLU w1/w2/w3 of each of the 6 blocks
      const anonymous = s.tensors.filter((t) => isExporterName(t.name));
      assert.ok(anonymous.length >= 42, `${anonymous.length} exporter-named weights`);
      assert.ok(anonymous.every((t) => t.usedBy && t.usedBy.length >= 1), 'every exporter-named weight has a reader');
      const modules = new Set(anonymous.flatMap((t) => t.usedBy!.map((n) => n.replace(/\/MatMul$/, ''))));
      for (const blocks of ['shared_blocks.0', 'shared_blocks.3', 'u_heads.0', 'u_heads.1']) {
        for (const m of ['attn/q_proj', 'attn/k_proj', 'attn/v_proj', 'attn/out_proj', 'mlp/w1', 'mlp/w2', 'mlp/w3']) {
          assert.ok(modules.has(`/net/${blocks}/${m}`), `/net/${blocks}/${m} reads an exporter-named weight`);
        }
      }
      assert.deepEqual(tensor(s, 'net.pos_embed').usedBy, ['/net/Add_5']); // onnx.load(...).graph: the one node reading it
      const q = anonymous.find((t) => t.usedBy![0] === '/net/shared_blocks.0/attn/q_proj/MatMul')!;
      assert.equal(moduleOf(q), 'net.shared_blocks.0.attn.q_proj');
      assert.equal(moduleOf(tensor(s, 'net.shared_blocks.0.norm1.weight')), 'net.shared_blocks.0.norm1');

      // without its metadata, the initializer names still tell a pmfDiT (the export wraps it in 'net')
      const byKeys = inferArchitecture(s.tensors, {}, 'onnx');
      assert.equal(byKeys.family, 'pmfDiT');
      assert.deepEqual([byKeys.config.hidden_size, byKeys.config.depth, byKeys.config.num_heads, byKeys.config.patch_size], [192, 6, 6, 7]);
    },
  );

  test('a toy model: toy-mlp from metadata and from key names', async () => {
    const { summary: s } = await inspectBytes(fs.readFileSync(TOY_X2), 'x-D2.onnx');
    assert.equal(s.architecture.family, 'toy-mlp');
    assert.equal(s.architecture.basis, 'the pmf.architecture metadata');
    assert.deepEqual(inferArchitecture(s.tensors, {}, 'onnx').config, { dim: 2, hidden: 256, layers: 7, time_features: 16 });
  });

  test('an int8 variant says so, with its measured cost, as an info finding', async () => {
    const precision = { weights: 'int8', source: 'pMF-B-16.onnx', rel_l2_vs_float32: 0.0412, measured_on: '4 random contract inputs' };
    const bytes = makeModel(withChanges(imageSpec(), { metadata: { 'pmf.precision': JSON.stringify(precision) } }));
    const { summary: s } = await inspectBytes(bytes, 'pMF-B-16-int8.onnx');
    const f = s.findings.find((x) => x.message.startsWith('Reduced precision:')) ?? assert.fail('no precision finding');
    assert.equal(f.severity, 'info');
    assert.match(f.message, /int8 weights \(a variant of pMF-B-16\.onnx\); output 4\.1 % from float32's/);
  });

  test('a valid ONNX model that breaks the contract: ok false with the code, as a warning', async () => {
    const bytes = makeModel(withChanges(imageSpec(), { metadata: { 'pmf.format_version': undefined } }));
    const { summary: s } = await inspectBytes(bytes, 'plain.onnx');
    assert.equal(s.format, 'onnx');
    const c = s.onnx.contract;
    assert.equal(c.ok, false);
    assert.equal(!c.ok && c.code, 'no-pmf-metadata');
    const w = s.findings.find((f) => f.severity === 'warning') ?? assert.fail('no warning');
    assert.match(w.message, /^Valid ONNX, but not a runnable pMF checkpoint \(no-pmf-metadata\): plain\.onnx has no pmf\.format_version/);
  });

  test('initializers: raw_data offsets, external data, typed repeated fields', async () => {
    const raw = new Float32Array([0.5, -1, 2, 8, 0, 3]);
    const spec = withChanges(imageSpec(), {});
    spec.initializers = [{ name: 'w', dims: [2, 3], rawData: new Uint8Array(raw.buffer) }];
    const model = fullModelType.decode(makeModel(spec)) as OnnxModel;
    // 'w' read by 10 nodes, one of them twice: each node listed once, at most MAX_USED_BY
    model.graph!.node = Array.from({ length: 10 }, (_, i) => ({ name: i ? `n${i}` : '', op_type: 'Add', input: ['w', i ? 'x' : 'w'], output: [`o${i}`] }));
    model.graph!.initializer!.push(
      { name: 'ext', dims: [4, 4], data_type: 1, data_location: 1, external_data: [{ key: 'location', value: 'weights.bin' }, { key: 'offset', value: '128' }] },
      { name: 'typed', dims: [2], data_type: 1, float_data: [1, 2] },
      { name: 'half', dims: [3], data_type: 10, raw_data: new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7bff]).buffer) },
    );
    const bytes = fullModelType.encode(model).finish();
    const { summary: s, source } = await inspectBytes(bytes, 'init.onnx');
    const w = tensor(s, 'w');
    assert.deepEqual(Array.from(new Float32Array(new Uint8Array(bytes.subarray(w.data!.offset, w.data!.offset + 24)).buffer)), Array.from(raw));
    const st = await tensorStats(source, w);
    assert.deepEqual([st.min, st.max, st.mean, st.zeros], [-1, 8, 12.5 / 6, 1]);
    assert.deepEqual(w.usedBy, ['Add', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7']);
    assert.equal(w.usedBy.length, MAX_USED_BY);
    assert.equal(tensor(s, 'typed').usedBy, undefined);
    assert.deepEqual(tensor(s, 'ext').data, { offset: 128, byteLength: 64, file: 'weights.bin' });
    assert.ok(s.findings.some((f) => /external data file beside the model: weights\.bin/.test(f.message)));
    assert.match(tensor(s, 'typed').note!, /stored as typed repeated field \(float_data\)/);
    const half = await tensorStats(source, tensor(s, 'half'));
    assert.deepEqual([half.min, half.max], [-2, 65504]);
  });
});

// ---- architecture from shapes ---------------------------------------------------------------

/** The tensors of an official pMF checkpoint (names and shapes only), as the paper's Sec. 5 describes them. */
function officialTensors(d: number, depth: number, heads: number, patch: number, res: number): TensorEntry[] {
  const e = (name: string, shape: number[], dtype = 'bfloat16'): TensorEntry => ({ name, dtype, shape, numel: shape.reduce((a, b) => a * b, 1) });
  const patches = (res / patch) ** 2;
  const hd = d / heads;
  let mlp = Math.floor((d * 8) / 3);
  if (d > 1024) mlp = Math.ceil(mlp / 8) * 8;
  const out = [
    e('net.x_embedder.proj1.weight', [d > 1024 ? 256 : 128, 3, patch, patch]),
    e('net.pos_embed', [1, 20 + patches, d]),
    e('net.rope_freqs', [patches, hd / 2], 'complex64'),
    e('net.y_embedder.embedding_table._flax_embedding.weight', [1001, d]),
    e('net.h_embedder.mlp.0._flax_linear.weight', [d, 256]),
    e('net.class_tokens', [1, 8, d]), e('net.omega_tokens', [1, 4, d]), e('net.t_min_tokens', [1, 2, d]),
    e('net.t_max_tokens', [1, 2, d]), e('net.time_tokens', [1, 4, d]),
  ];
  for (const [group, n] of [['shared_blocks', depth - 8], ['u_heads', 8], ['v_heads', 8]] as const) {
    for (let i = 0; i < n; i++) {
      out.push(e(`net.${group}.${i}.attn.q_norm.weight`, [hd]), e(`net.${group}.${i}.mlp.w1._flax_linear.weight`, [mlp, d]));
    }
  }
  return out;
}

describe('architecture', () => {
  test('official sizes get the paper labels; sizes are recovered from shapes', () => {
    const cases: Array<[number, number, number, number, number, string]> = [
      [768, 16, 12, 16, 256, 'pMF-B/16'],
      [1024, 32, 16, 16, 256, 'pMF-L/16'],
      [1280, 48, 16, 16, 256, 'pMF-H/16'],
      [768, 16, 12, 32, 512, 'pMF-B/32'],
      [1024, 32, 16, 32, 512, 'pMF-L/32'],
      [1280, 48, 16, 32, 512, 'pMF-H/32'],
    ];
    for (const [d, depth, heads, patch, res, label] of cases) {
      const a = inferArchitecture(officialTensors(d, depth, heads, patch, res), {}, 'pytorch');
      assert.equal(a.family, 'pmfDiT-official');
      assert.equal(a.label, label);
      const c = a.config;
      assert.deepEqual(
        [c.hidden_size, c.depth, c.num_heads, c.patch_size, c.input_size, c.num_classes, c.aux_head_depth, c.v_head, c.in_channels],
        [d, depth, heads, patch, res, 1000, 8, true, 3],
        label,
      );
      assert.deepEqual([c.num_class_tokens, c.num_cfg_tokens, c.num_interval_tokens, c.num_time_tokens], [8, 4, 2, 4]);
      assert.equal(c.mlp_hidden, d === 1280 ? 3416 : Math.floor((d * 8) / 3));
    }
    const custom = inferArchitecture(officialTensors(512, 16, 8, 16, 256), {}, 'pytorch');
    assert.equal(custom.family, 'pmfDiT-official');
    assert.equal(custom.label, undefined);
    assert.equal(custom.config.hidden_size, 512);
    const wrongDepth = inferArchitecture(officialTensors(768, 12, 12, 16, 256), {}, 'pytorch');
    assert.equal(wrongDepth.label, undefined, 'B width but not B depth');
  });

  test('metadata wins over key names; a converted official model keeps its label', () => {
    const tensors = officialTensors(768, 16, 12, 16, 256);
    const meta = { 'pmf.architecture': JSON.stringify({ name: 'pmfDiT', hidden_size: 768, depth: 16, num_heads: 12, patch_size: 16, prefix_tokens: { time: 4 } }) };
    const a = inferArchitecture(tensors, meta, 'onnx');
    assert.equal(a.family, 'pmfDiT');
    assert.equal(a.label, 'pMF-B/16');
    assert.equal(a.config['prefix_tokens.time'], 4);
    assert.equal(inferArchitecture(tensors, meta, 'pytorch').family, 'pmfDiT-official', 'pmf.architecture is ONNX metadata');
    const unknown = inferArchitecture([{ name: 'encoder.weight', dtype: 'float32', shape: [3, 4], numel: 12 }], {}, 'safetensors');
    assert.equal(unknown.family, 'unknown');
  });
});

// ---- statistics -----------------------------------------------------------------------------

function f32Tensor(values: Float32Array, offset = 0): { source: ByteSource; t: TensorEntry } {
  const bytes = new Uint8Array(offset + values.byteLength);
  bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), offset);
  return {
    source: bufferSource(bytes),
    t: { name: 'x', dtype: 'float32', shape: [values.length], numel: values.length, data: { offset, byteLength: values.byteLength } },
  };
}

describe('tensor statistics', () => {
  test('NaN and inf are counted apart; the histogram covers the finite values over [min, max]', async () => {
    const { source, t } = f32Tensor(new Float32Array([1, NaN, -Infinity, 0, 3, Infinity, -2, 0]));
    const st = await tensorStats(source, t, { bins: 4 });
    assert.deepEqual([st.count, st.nan, st.inf, st.zeros, st.min, st.max, st.absMax], [8, 1, 2, 2, -2, 3, 3]);
    close(st.mean, 0.4, 'mean');
    close(st.std, Math.sqrt((2.4 ** 2 + 0.4 ** 2 * 2 + 0.6 ** 2 + 2.6 ** 2) / 5), 'std');
    assert.deepEqual(st.histogram, { lo: -2, hi: 3, counts: [1, 2, 1, 1] });
  });

  test('several chunks, a misaligned offset: the same moments as a direct computation, progress to 1', async () => {
    const n = 1_500_000; // 6 MB: two chunks
    const values = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.001) * 3 + (i % 7));
    const { source, t } = f32Tensor(values, 3);
    // read once, the values held for the histogram (the default below 64 MB)
    const held: number[] = [];
    const once = await tensorStats(source, t, { onProgress: (f) => held.push(f) });
    assert.deepEqual(held, [0.5, 1]);
    // read twice (a tensor larger than holdBytes): the same statistics
    const progress: number[] = [];
    const st = await tensorStats(source, t, { onProgress: (f) => progress.push(f), holdBytes: 0 });
    assert.deepEqual(once, st);
    let mean = 0;
    for (const v of values) mean += v;
    mean /= n;
    let m2 = 0;
    for (const v of values) m2 += (v - mean) ** 2;
    close(st.mean, mean, 'mean', 1e-9);
    close(st.std, Math.sqrt(m2 / n), 'std', 1e-9);
    assert.equal(st.histogram.counts.length, 64);
    assert.equal(st.histogram.counts.reduce((a, b) => a + b, 0), n);
    assert.deepEqual(progress, [0.25, 0.5, 0.75, 1]);
  });

  test('an AbortSignal stops it with an AbortError', async () => {
    const { source, t } = f32Tensor(new Float32Array(4_000_000));
    const ac = new AbortController();
    await assert.rejects(tensorStats(source, t, { signal: ac.signal, onProgress: () => ac.abort() }), { name: 'AbortError' });
    await assert.rejects(tensorStats(source, t, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  test('half-precision decoding, constant tensors, missing data', async () => {
    assert.deepEqual([0x3c00, 0x7bff, 0x0001, 0xc000, 0x8000].map(float16ToNumber), [1, 65504, 2 ** -24, -2, -0]);
    assert.equal(float16ToNumber(0xfc00), -Infinity);
    assert.ok(Number.isNaN(float16ToNumber(0x7e00)));
    assert.deepEqual([0x3f80, 0xc2f6, 0x0000].map(bfloat16ToNumber), [1, -123, 0]);

    const { source, t } = f32Tensor(new Float32Array([2, 2, 2]));
    const st = await tensorStats(source, t, { bins: 5 });
    assert.deepEqual([st.min, st.max, st.std, st.histogram.counts], [2, 2, 0, [0, 0, 3, 0, 0]]);

    const none: TensorEntry = { name: 'v', dtype: 'float32', shape: [2], numel: 2, note: 'non-contiguous (strides [2])' };
    await assert.rejects(tensorStats(source, none), (e: unknown) => e instanceof InspectError && e.code === 'unsupported' && e.message === none.note);
  });

  test('formatParams', () => {
    assert.deepEqual([950, 12_345, 3_038_769, 1_200_000_000, 999_999].map(formatParams), ['950', '12.3K', '3.04M', '1.2B', '1M']);
  });
});

// ---- helpers for hand-made archives ---------------------------------------------------------

/** A ZIP archive of stored (uncompressed) files; CRCs are left 0 (listing does not check them). */
function storedZip(files: Record<string, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const n = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt32LE(data.length, 20);
    dir.writeUInt32LE(data.length, 24);
    dir.writeUInt16LE(n.length, 28);
    dir.writeUInt32LE(offset, 42);
    parts.push(local, n, data);
    central.push(dir, n);
    offset += 30 + n.length + data.length;
  }
  const cdSize = central.reduce((a, b) => a + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(central.length / 2, 8);
  end.writeUInt16LE(central.length / 2, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}

test('the same truncation gets the same code and the same words in every format', async () => {
  const words = (name: string) => new RegExp(`^${name.replace(/\./g, '\\.')} is truncated: .+ \\(an interrupted download or copy\\?\\)\\. Download or copy it again\\.$`);
  const files: Array<[string, Uint8Array]> = [
    ['tensors.safetensors', fixture('tensors.safetensors')],
    ['pmfdit.pt', fixture('pmfdit.pt')],
    ['legacy.pt', fixture('legacy.pt')],
    ['official-tiny.onnx', fixture('official-tiny.onnx')],
    ['model.onnx', new Uint8Array(fs.readFileSync(FASHION))],
  ];
  for (const [name, bytes] of files) {
    for (const keep of [0.3, 0.6, 0.95]) {
      const cut = bytes.subarray(0, Math.floor(bytes.length * keep));
      await rejectsWith(cut, name, 'truncated', words(name));
    }
  }
});

test('messages say what is wrong in words, never in JavaScript internals', async () => {
  // a ZIP entry compressed with method 99 (AES): was "unsupported compression method: 99"
  const zip = storedZip({ 'a/data.pkl': Buffer.from([0x80, 0x02, 0x7d, 0x2e]) });
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  view.setUint16(8, 99, true);
  for (let i = 0; i + 4 <= zip.length; i++) if (view.getUint32(i, true) === 0x02014b50) view.setUint16(i + 10, 99, true);
  await rejectsWith(zip, 'aes.pt', 'unsupported', /^aes\.pt: its entry a\/data\.pkl is compressed with ZIP method 99 \(AES encryption\), which neither PyTorch nor pMF Lab reads\. Save it again with torch\.save\.$/);
  // a 2^93-element shape: was "9900000000000000T parameters"
  const f32 = new Uint8Array(8);
  const { summary } = await inspectBytes(safetensors({ w: { dtype: 'F32', shape: [2 ** 31, 2 ** 31, 2 ** 31], data_offsets: [0, 8] } }, f32), 'huge.safetensors');
  assert.equal(formatParams(summary.totalParams), '9.90e+27');
  assert.equal(formatParams(118_200_000), '118M');
});

test('FLOPs per image of the official sizes: pMF-B/16 is 33.3 GMAC (66.7 GFLOP), as issue 10 counts it', () => {
  const official = (hidden: number, depth: number, patch: number) => ({
    hidden_size: hidden, depth, patch_size: patch, in_channels: 3, input_size: patch === 16 ? 256 : 512,
    mlp_hidden: hidden > 1024 ? Math.ceil(Math.floor((hidden * 8) / 3) / 8) * 8 : Math.floor((hidden * 8) / 3),
    bottleneck_channels: hidden <= 1024 ? 128 : 256, num_classes: 1000, num_class_tokens: 8, num_time_tokens: 4,
    cfg_inputs: true, num_cfg_tokens: 4, num_interval_tokens: 2,
  });
  const g = (c: Record<string, number | boolean>) => ditFlopsPerImage(c)! / 1e9;
  assert.ok(Math.abs(g(official(768, 16, 16)) - 66.66) < 0.05, String(g(official(768, 16, 16))));
  // 512 px with 32 px patches has the same 256 image tokens: about the same cost, a larger embedding
  assert.ok(g(official(768, 16, 32)) > g(official(768, 16, 16)) && g(official(768, 16, 32)) < 1.1 * g(official(768, 16, 16)));
  assert.ok(g(official(1280, 48, 16)) > 6 * g(official(768, 16, 16)));
  // from the bundled model's ONNX metadata (prefix tokens listed, image_tokens given)
  assert.ok(Math.abs(ditFlopsPerImage({ hidden_size: 192, depth: 6, mlp_hidden: 512, patch_size: 7, bottleneck_channels: 64, image_tokens: 16, in_channels: 1,
    'prefix_tokens.class_tokens': 4, 'prefix_tokens.omega': 1, 'prefix_tokens.t_min': 1, 'prefix_tokens.t_max': 1, 'prefix_tokens.time': 2 })! / 1e9 - 0.137) < 0.001);
  assert.equal(ditFlopsPerImage({ hidden_size: 192 }), undefined);
});

test('names from a file that JavaScript objects also have (toString, constructor, __proto__) are no dtypes; a header nested 10,000 deep and negative ONNX dims are refused in words (found by bench/fuzz.ts)', async () => {
  for (const dtype of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    const { summary } = await inspectBytes(safetensors({ w: { dtype, shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'odd.safetensors');
    assert.equal(typeof summary.tensors[0].dtype, 'string', dtype);
    assert.ok(summary.findings.some((f) => f.message.includes(`unknown dtype ${dtype}`)), dtype);
  }
  const deep = '{"a":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}';
  await rejectsWith(safetensors(undefined, new Uint8Array(0), deep), 'deep.safetensors', 'corrupt', /^deep\.safetensors: its safetensors header nests 10001 levels deep/);
  const decoded = fullModelType.decode(fixture('official-tiny.onnx')) as OnnxModel;
  decoded.graph!.initializer![0].dims = [-4, 8];
  const { summary } = await inspectBytes(fullModelType.encode(decoded).finish(), 'neg.onnx');
  const t = summary.tensors[0];
  assert.equal(t.numel, 0);
  assert.match(t.note ?? '', /^invalid shape \[-4, 8\]/);
  assert.ok(summary.totalParams >= 0);
});
