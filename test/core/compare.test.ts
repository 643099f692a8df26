// Comparing two checkpoints (src/core/checkpoint/inspect/compare.ts): the bundled Fashion-MNIST
// model's ONNX export against its PyTorch weights (names differ by the exporter's 'net.' and its
// onnx::MatMul_N names, MatMul weights are stored transposed), and hand-made safetensors files
// whose differences are known in closed form.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { bufferSource, inspectCheckpoint, matchTensors, tensorDiff, type ByteSource } from '../../src/core/checkpoint/inspect';
import { fashionMnistPt } from '../helpers/bundledPyTorch';
import { safetensorsOf } from './safetensorsFixture';

const REPO = path.resolve(__dirname, '../../..');
const MODEL = (f: string) => path.join(REPO, 'models', 'fashion-mnist', f);

async function open(bytes: Uint8Array, name: string) {
  const source: ByteSource = bufferSource(bytes);
  return { source, summary: await inspectCheckpoint(source, name) };
}

test("the ONNX export holds exactly the PyTorch weights: every tensor paired, MatMul weights transposed", async () => {
  const a = await open(fs.readFileSync(MODEL('model.onnx')), 'model.onnx');
  const b = await open(fs.readFileSync(fashionMnistPt()), 'model.pt');
  const m = matchTensors(a.summary, b.summary);
  assert.equal(m.pairs.length, b.summary.tensors.length);
  assert.deepEqual([m.onlyA, m.onlyB], [[], []]);
  const transposed = m.pairs.filter((p) => p.transposed);
  assert.ok(transposed.length >= 42, `${transposed.length} transposed pairs (q/k/v/out, w1/w2/w3 of 6 blocks at least)`);
  assert.ok(transposed.every((p) => a.summary.tensors[p.a].name.startsWith('onnx::MatMul_')));
  const q = m.pairs.find((p) => b.summary.tensors[p.b].name === 'shared_blocks.0.attn.q_proj.weight')!;
  assert.ok(q.transposed, 'a square MatMul weight is paired transposed too');
  assert.equal(b.summary.tensors[m.pairs.find((p) => a.summary.tensors[p.a].name === 'net.pos_embed')!.b].name, 'pos_embed');
  for (const p of m.pairs) {
    const d = await tensorDiff(a.source, a.summary.tensors[p.a], b.source, b.summary.tensors[p.b], { transposed: p.transposed });
    assert.ok(d.identical, `${b.summary.tensors[p.b].name}: relative ${d.relative}`);
    assert.equal(d.count, b.summary.tensors[p.b].numel);
  }
  // compared without the transpose, a square MatMul weight is far from its Linear weight
  const straight = await tensorDiff(a.source, a.summary.tensors[q.a], b.source, b.summary.tensors[q.b]);
  assert.ok(straight.relative > 0.5 && Math.abs(straight.cosine) < 0.2, `relative ${straight.relative}, cosine ${straight.cosine}`);
});

test('an official checkpoint against its convert-official export: every exported tensor paired and identical, only the v head left', async () => {
  // official-tiny.pt keeps the official code's ._flax_linear / ._flax_embedding wrapper modules; the
  // converter drops them, the v head (sampling does not use it) and rope_freqs (the export computes
  // RoPE with real cos / sin tables instead).
  const FIX = (f: string) => path.join(REPO, 'test', 'fixtures', 'checkpoints', f);
  const a = await open(fs.readFileSync(FIX('official-tiny.pt')), 'official-tiny.pt');
  const b = await open(fs.readFileSync(FIX('official-tiny.onnx')), 'official-tiny.onnx');
  const m = matchTensors(a.summary, b.summary);
  assert.deepEqual(m.onlyB, [], 'every tensor of the export has its official namesake');
  assert.equal(m.pairs.length, b.summary.tensors.length);
  const left = m.onlyA.map((i) => a.summary.tensors[i].name);
  assert.ok(left.length > 0 && left.every((n) => /^net\.(v_heads\.|v_final_layer\.|rope_freqs$)/.test(n)),
    `unpaired official tensors: ${left.join(', ')}`);
  const wrapped = m.pairs.find((p) => a.summary.tensors[p.a].name === 'net.h_embedder.mlp.0._flax_linear.weight');
  assert.ok(wrapped, 'a ._flax_linear weight is paired');
  for (const p of m.pairs) {
    const d = await tensorDiff(a.source, a.summary.tensors[p.a], b.source, b.summary.tensors[p.b], { transposed: p.transposed });
    assert.ok(d.identical, `${a.summary.tensors[p.a].name}: relative ${d.relative}`);
  }
  assert.ok(m.pairs.filter((p) => p.transposed).length >= 10, 'the MatMul weights are compared transposed');
});

test('differences in closed form; dtypes may differ; wrappers and shapes; NaN pairs', async () => {
  const a = await open(safetensorsOf({
    'module.w': { shape: [2, 2], values: [1, 2, 3, 4] },
    'module.t': { shape: [2, 3], values: [1, 2, 3, 4, 5, 6] },
    'module.zero': { shape: [2], values: [0, 0] },
    'module.nan': { shape: [3], values: [1, NaN, 3] },
    'module.odd': { shape: [3], values: [1, 2, 3] },
    'module.gone': { shape: [1], values: [7] },
  }), 'a.safetensors');
  const b = await open(safetensorsOf({
    w: { shape: [2, 2], values: [1, 2, 3, 5], dtype: 'F16' },
    t: { shape: [3, 2], values: [1, 4, 2, 5, 3, 6] },
    zero: { shape: [2], values: [0, 0] },
    nan: { shape: [3], values: [1, 2, 3] },
    odd: { shape: [4], values: [1, 2, 3, 4] },
    extra: { shape: [1], values: [8] },
  }), 'b.safetensors');
  const m = matchTensors(a.summary, b.summary);
  const pair = (name: string) => m.pairs.find((p) => a.summary.tensors[p.a].name === `module.${name}`)!;
  assert.deepEqual(m.onlyA.map((i) => a.summary.tensors[i].name), ['module.gone']);
  assert.deepEqual(m.onlyB.map((j) => b.summary.tensors[j].name), ['extra']);
  assert.ok(pair('odd').shapeMismatch);
  assert.ok(pair('t').transposed, 'a [2, 3] against a [3, 2] is compared as its transpose');
  const diff = (name: string) => {
    const p = pair(name);
    return tensorDiff(a.source, a.summary.tensors[p.a], b.source, b.summary.tensors[p.b], { transposed: p.transposed });
  };
  const w = await diff('w');
  assert.equal(w.relative, 1 / Math.sqrt(30)); // ||(0,0,0,1)|| / ||(1,2,3,4)||
  assert.equal(w.maxAbs, 1);
  assert.ok(Math.abs(w.cosine - 34 / Math.sqrt(30 * 39)) < 1e-12);
  assert.equal(w.identical, false);
  assert.equal((await diff('t')).identical, true);
  assert.deepEqual(await diff('zero'), { count: 2, nonFinite: 0, relative: 0, maxAbs: 0, cosine: NaN, identical: true });
  const nan = await diff('nan');
  assert.deepEqual([nan.count, nan.nonFinite, nan.identical, nan.relative], [2, 1, false, 0]);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(tensorDiff(a.source, a.summary.tensors[pair('w').a], b.source, b.summary.tensors[pair('w').b], { signal: ac.signal }),
    { name: 'AbortError' });
});
