// Runs an ONNX model with onnxruntime-node on the CPU provider, for the Python exporter's
// parity check (Debian has no Python onnxruntime). Usage: node ort_run.mjs manifest.json
// manifest: {model, out_dir, inputs: [{name, dtype: float32|int64, shape, file}]}
// Prints [{name, shape, file}] for the outputs (raw float32 files in out_dir).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(join(process.cwd(), 'package.json'));
const ort = require('onnxruntime-node');

const manifest = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const feeds = {};
for (const inp of manifest.inputs) {
  const buf = readFileSync(inp.file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const data = inp.dtype === 'int64' ? new BigInt64Array(ab) : new Float32Array(ab);
  feeds[inp.name] = new ort.Tensor(inp.dtype, data, inp.shape);
}
const session = await ort.InferenceSession.create(manifest.model, { executionProviders: ['cpu'] });
const results = await session.run(feeds);
const outs = [];
for (const name of session.outputNames) {
  const t = results[name];
  const file = join(manifest.out_dir, `out_${name}.bin`);
  writeFileSync(file, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  outs.push({ name, shape: t.dims, file });
}
process.stdout.write(JSON.stringify(outs));
