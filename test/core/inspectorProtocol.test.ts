// The inspector's webview protocol (webview/inspector/protocol.ts) with the numbers the core
// produces at the edges: the host validates each message before posting it, and what it posts
// reaches the webview as JSON, which has no NaN or infinity.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bufferSource, inspectCheckpoint, tensorDiff, tensorStats, type TensorEntry } from '../../src/core/checkpoint/inspect';
import { ToWebview } from '../../src/shared/protocol/inspector';

const f32 = (...v: number[]) => bufferSource(new Uint8Array(new Float32Array(v).buffer));
const tensor = (name: string, n: number): TensorEntry => ({ name, dtype: 'float32', shape: [n], numel: n, data: { offset: 0, byteLength: 4 * n } });
const overJson = (msg: unknown) => ToWebview.parse(JSON.parse(JSON.stringify(ToWebview.parse(msg))));

test('statistics of an all-NaN tensor reach the webview, NaN as null', async () => {
  const stats = await tensorStats(f32(NaN, NaN), tensor('n', 2));
  assert.ok(Number.isNaN(stats.mean) && Number.isNaN(stats.histogram.lo));
  const received = overJson({ type: 'stats', index: 0, stats });
  assert.ok(received.type === 'stats');
  assert.deepEqual([received.stats.min, received.stats.mean, received.stats.histogram.lo, received.stats.nan], [null, null, null, 2]);
});

test('the distance to an all-zero tensor (infinite) and its cosine (NaN) reach the webview as null', async () => {
  const d = await tensorDiff(f32(0, 0), tensor('z', 2), f32(0, 1), tensor('o', 2));
  assert.equal(d.relative, Infinity);
  assert.ok(Number.isNaN(d.cosine));
  const received = overJson({ type: 'diff', index: 0, other: 'o', transposed: false, diff: d });
  assert.ok(received.type === 'diff');
  assert.deepEqual(received.diff, { count: 2, nonFinite: 0, relative: null, maxAbs: 1, cosine: null, identical: false });
});

test('finite figures cross unchanged', async () => {
  const stats = await tensorStats(f32(1, 2, 3), tensor('x', 3));
  const received = overJson({ type: 'stats', index: 3, stats });
  assert.ok(received.type === 'stats');
  assert.deepEqual([received.stats.min, received.stats.max, received.stats.mean], [1, 3, 2]);
});

test('a flow-matching checkpoint\'s contract reaches the webview with its model type, output, guidance and solver', async () => {
  const file = join(__dirname, '../../../test/fixtures/models/fm-x-two-pass.onnx');
  const summary = await inspectCheckpoint(bufferSource(new Uint8Array(readFileSync(file))), 'fm-x-two-pass.onnx');
  const received = overJson({ type: 'summary', summary, actions: { run: true, convert: false }, ms: 1 });
  assert.ok(received.type === 'summary' && received.summary.format === 'onnx' && received.summary.onnx.contract.ok);
  const info = received.summary.onnx.contract.info;
  assert.deepEqual([info.modelType, info.declaredPrediction, info.guidance, info.defaultSolver], ['flow-matching', 'x', 'two-pass', 'heun']);
});
