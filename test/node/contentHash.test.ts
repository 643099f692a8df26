// The sha256 an evaluation's protocol names a model by (src/node/contentHash.ts): the file's own
// for a single-file model, the .onnx and its weights as one stream for an external-data model
// (weights that differ give another hash, though the .onnx is the same), remembered until a file
// changes. Real files: the bundled Fashion-MNIST model, and the same model with external data.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { onnxContentSha256 } from '../../src/node/contentHash';
import { writeExternalDataModel } from '../engine/externalData';
import { FASHION } from '../helpers/paths';

const tmp = mkdtempSync(join(tmpdir(), 'pmf-hash-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const sha = (...bufs: Buffer[]) => bufs.reduce((h, b) => h.update(b), createHash('sha256')).digest('hex');

test('a single-file model: the sha256 of the file', async () => {
  assert.equal(await onnxContentSha256(FASHION), sha(readFileSync(FASHION)));
});

test('an external-data model: the .onnx then its weights; other weights, another hash', async () => {
  const { model, data } = writeExternalDataModel(readFileSync(FASHION), tmp, 'fx.onnx');
  const whole = sha(readFileSync(model), readFileSync(data));
  assert.equal(await onnxContentSha256(model), whole);
  assert.notEqual(whole, sha(readFileSync(model)), 'the weights are in the hash');

  // the same .onnx, one weight byte changed (same size; a new modification time): a new hash
  const bytes = readFileSync(data);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(data, bytes);
  const later = new Date(Date.now() + 5000);
  utimesSync(data, later, later);
  const changed = await onnxContentSha256(model);
  assert.equal(changed, sha(readFileSync(model), bytes));
  assert.notEqual(changed, whole);
});

test('remembered while the files keep their size and time; a missing weights file is named', async () => {
  const { model, data } = writeExternalDataModel(readFileSync(FASHION), tmp, 'fy.onnx');
  const first = onnxContentSha256(model);
  assert.equal(onnxContentSha256(model), first, 'the second call shares the first read');
  await first;
  rmSync(data);
  assert.throws(() => onnxContentSha256(model), /fy\.onnx\.data is missing/);
});
