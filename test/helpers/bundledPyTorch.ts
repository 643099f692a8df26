// The bundled Fashion-MNIST model as a PyTorch checkpoint. The tree holds one copy of its weights
// (model.onnx); the trainer's `rebuild-pytorch` builds the .pt from it (bit-identical to the
// model.pt publish-image wrote, checked against the ONNX in onnxruntime) for the tests that
// need a real PyTorch file: the inspector's .pt reader, --compare, the throughput baseline.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FASHION, REPO } from './paths';

/** The path of the rebuilt model.pt, cached in the temp folder by the ONNX's size and mtime. */
export function fashionMnistPt(): string {
  const st = statSync(FASHION);
  const dir = join(tmpdir(), `pmf-lab-fashion-mnist-${st.size}-${Math.round(st.mtimeMs)}`);
  const out = join(dir, 'model.pt');
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(join(REPO, 'scripts', 'pmf-trainer'), ['rebuild-pytorch', '--onnx', FASHION, '--out', out], { encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(out)) {
    throw new Error(`scripts/pmf-trainer rebuild-pytorch failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}`);
  }
  return out;
}
