// The registry of checkpoint formats (src/core/checkpoint/inspect/formats.ts): each format's sniff
// takes its own files and none of the others', and detect() picks it for them. A format added to
// FORMATS needs its fixtures in FIXTURES below.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { bufferSource, inspectCheckpoint } from '../../src/core/checkpoint/inspect';
import { detect, HEAD_BYTES } from '../../src/core/checkpoint/inspect/detect';
import { FORMATS } from '../../src/core/checkpoint/inspect/formats';
import { safetensorsOf } from './safetensorsFixture';

const DIR = path.resolve(__dirname, '../../..', 'test', 'fixtures', 'checkpoints');

/** Files of each format, by the reader's name. */
const FIXTURES: Record<string, string[]> = {
  'pytorch-zip': ['pmfdit.pt', 'scripted.pt', 'training.pt'],
  'pytorch-pickle': ['legacy.pt', 'numpy.pkl'],
  safetensors: ['tensors.safetensors'],
  onnx: ['official-tiny.onnx'],
};

function head(file: string): Uint8Array {
  const bytes = fs.readFileSync(path.join(DIR, file));
  return new Uint8Array(bytes.subarray(0, Math.min(bytes.length, HEAD_BYTES)));
}

describe('the registry of checkpoint formats', () => {
  test('every format has a unique name and fixtures here', () => {
    const names = FORMATS.map((f) => f.name);
    assert.equal(new Set(names).size, names.length, names.join(', '));
    assert.deepEqual(names.slice().sort(), Object.keys(FIXTURES).sort(), 'each format in FORMATS needs its fixtures in FIXTURES');
  });

  test("each format's sniff accepts its own fixtures and rejects the others'", () => {
    for (const format of FORMATS) {
      for (const [owner, files] of Object.entries(FIXTURES)) {
        for (const file of files) {
          assert.equal(format.sniff(head(file)), owner === format.name, `${format.name} on ${file} (a ${owner} file)`);
        }
      }
    }
  });

  test('detect() picks the format of each fixture, and the summary carries that format', async () => {
    for (const [owner, files] of Object.entries(FIXTURES)) {
      for (const file of files) {
        const found = detect(head(file));
        assert.ok(!('unknown' in found), `${file}: ${JSON.stringify(found)}`);
        assert.equal(found.name, owner, file);
        const s = await inspectCheckpoint(bufferSource(fs.readFileSync(path.join(DIR, file))), file);
        assert.equal(s.format, found.format, file);
      }
    }
  });

  test("'weak' signatures come after the signatures of files that are no checkpoint: bzip2 starts with an ONNX field tag", () => {
    const onnx = FORMATS.find((f) => f.name === 'onnx') ?? assert.fail('no onnx format');
    assert.equal(onnx.signature, 'weak');
    const bz2 = new TextEncoder().encode('BZh91AY&SY\x00\x00');
    assert.ok(onnx.sniff(bz2), "'B' is the tag of ModelProto field 8");
    assert.deepEqual(detect(bz2), { unknown: 'bzip2-compressed data: decompress it first' });
  });

  test('a summary is keyed on its format: ONNX and PyTorch summaries carry their details, safetensors none', async () => {
    const onnx = await inspectCheckpoint(bufferSource(fs.readFileSync(path.join(DIR, 'official-tiny.onnx'))), 'a.onnx');
    assert.ok(onnx.format === 'onnx' && onnx.onnx.nodeCount > 0 && !('pickle' in onnx));
    const pt = await inspectCheckpoint(bufferSource(fs.readFileSync(path.join(DIR, 'legacy.pt'))), 'a.pt');
    assert.ok(pt.format === 'pytorch' && pt.pickle.layout === 'legacy' && !('onnx' in pt));
    const st = await inspectCheckpoint(bufferSource(safetensorsOf({ w: { shape: [2], values: [1, 2] } })), 'a.safetensors');
    assert.equal(st.format, 'safetensors');
    assert.ok(!('onnx' in st) && !('pickle' in st));
  });
});
