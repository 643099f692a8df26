// The inspector's worker thread (dist/inspectWorker.js through src/node/inspectJobs.ts), as the
// custom editor uses it: the same summary and statistics as the core computes in-process, errors
// that keep their kind and message, and cancellation that ends the thread.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { inspectCheckpoint, InspectError, type TensorStats } from '../../src/core/checkpoint/inspect';
import { openFileSource } from '../../src/node/fileSource';
import { inspectInWorker, statsInWorker } from '../../src/node/inspectJobs';
import { FASHION, REPO, requireBuilt } from '../helpers/paths';

const WORKER = join(REPO, 'dist', 'inspectWorker.js');
const CHECKPOINTS = join(REPO, 'test', 'fixtures', 'checkpoints');

before(() => requireBuilt());

test('a summary from the worker equals the one computed in-process', async () => {
  for (const file of [FASHION, join(CHECKPOINTS, 'pmfdit.pt'), join(CHECKPOINTS, 'malicious.pt'), join(CHECKPOINTS, 'tensors.safetensors')]) {
    const fromWorker = await inspectInWorker(WORKER, file, 'checkpoint');
    const src = await openFileSource(file);
    try {
      assert.deepEqual(fromWorker, await inspectCheckpoint(src, 'checkpoint'), file);
    } finally {
      await src.close();
    }
  }
});

test('statistics stream back one by one; a tensor without readable data reports its error', async () => {
  const summary = await inspectInWorker(WORKER, join(CHECKPOINTS, 'views.pt'), 'views.pt');
  const tensors = summary.tensors.map((tensor, index) => ({ index, tensor }));
  const results: Array<{ index: number; stats?: TensorStats; error?: string }> = [];
  await statsInWorker(WORKER, join(CHECKPOINTS, 'views.pt'), tensors, (r) => results.push(r));
  assert.deepEqual(results.map((r) => r.index), tensors.map((t) => t.index));
  const transposed = results[summary.tensors.findIndex((t) => t.name === 'transposed')];
  assert.match(transposed.error ?? '', /non-contiguous/);
  assert.ok(results.filter((r) => r.stats).length >= 3);
  for (const r of results.filter((x) => x.stats)) assert.equal(r.stats!.count, summary.tensors[r.index].numel);
});

test('errors keep their kind and message across the thread boundary', async () => {
  await assert.rejects(inspectInWorker(WORKER, join(CHECKPOINTS, 'truncated.pt'), 'truncated.pt'),
    (e: unknown) => e instanceof InspectError && e.code === 'truncated' && /truncated\.pt is truncated: it is an incomplete ZIP archive/.test(e.message));
  await assert.rejects(inspectInWorker(WORKER, join(CHECKPOINTS, 'no-such.pt'), 'no-such.pt'), /ENOENT/);
  // a file refused as unsafe keeps its DANGER findings across the boundary (the editor shows them)
  const evil = join(mkdtempSync(join(tmpdir(), 'pmf-jobs-')), 'evil.pt');
  writeFileSync(evil, Buffer.from('cos\nsystem\n(S\'touch x\'\ntR', 'latin1'));
  await assert.rejects(inspectInWorker(WORKER, evil, 'evil.pt'), (e: unknown) =>
    e instanceof InspectError && e.code === 'dangerous' && e.findings.some((f) => f.severity === 'danger' && /os\.system/.test(f.message)));
});

test('cancelling ends the job at once with an AbortError', async () => {
  const summary = await inspectInWorker(WORKER, FASHION, 'model.onnx');
  const tensors = Array.from({ length: 200 }, (_, i) => ({ index: i, tensor: summary.tensors[i % summary.tensors.length] }));
  const ac = new AbortController();
  let seen = 0;
  const job = statsInWorker(WORKER, FASHION, tensors, () => {
    if (++seen === 3) ac.abort();
  }, ac.signal);
  await assert.rejects(job, { name: 'AbortError' });
  assert.ok(seen < tensors.length, `stopped after ${seen} of ${tensors.length}`);
  const before = new AbortController();
  before.abort();
  await assert.rejects(inspectInWorker(WORKER, FASHION, 'model.onnx', before.signal), { name: 'AbortError' });
});

test('statistics of a huge tensor report the bytes read as they go, and stop when cancelled', async () => {
  // 1 GiB of float32 zeros in a sparse file
  const n = 2 ** 28;
  let header = JSON.stringify({ big: { dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] } });
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const file = join(mkdtempSync(join(tmpdir(), 'pmf-jobs-')), 'huge.safetensors');
  const head = Buffer.alloc(8 + header.length);
  head.writeUInt32LE(header.length, 0);
  head.write(header, 8);
  writeFileSync(file, head);
  truncateSync(file, head.length + 4 * n);
  const summary = await inspectInWorker(WORKER, file, 'huge.safetensors');
  const seen: Array<[number, number]> = [];
  const ac = new AbortController();
  const job = statsInWorker(WORKER, file, [{ index: 0, tensor: summary.tensors[0] }], () => {}, ac.signal, (done, total) => {
    seen.push([done, total]);
    if (seen.length === 5) ac.abort();
  });
  await assert.rejects(job, { name: 'AbortError' });
  assert.equal(seen.length, 5);
  assert.ok(seen.every(([d, t], i) => t === 4 * n && d > 0 && d < t && (i === 0 || d >= seen[i - 1][0])), JSON.stringify(seen));
  rmSync(file);
});
