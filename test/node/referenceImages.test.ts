// Reference statistics made a chunk at a time (src/node/evalReference.ts makeReference over an
// ImageSource): a folder of PNGs gives the statistics of the same images in memory, bit for bit,
// and the chunk size changes nothing (the exact statistics a run keeps), so a reference set of any
// size costs one chunk of memory. A stray image of another size (pmf generate's grid.png) is
// named with what to do. Real engine, the bundled classifier, the Fashion-MNIST test images.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EngineClient } from '../../src/engine/client';
import { imageFolderSource, levelsSource, makeReference, readFashionMnist, readReference } from '../../src/node/evalReference';
import { encodePng } from '../../src/node/png';
import { ENGINE, REPO, requireBuilt } from '../helpers/paths';

const NET = join(REPO, 'models', 'eval', 'fashion-mnist-classifier.onnx');
const N = 40;
const tmp = mkdtempSync(join(tmpdir(), 'pmf-ref-images-'));
let client: EngineClient;
let levels: Float32Array;

before(async () => {
  requireBuilt();
  client = new EngineClient({ enginePath: ENGINE });
  levels = (await readFashionMnist('test')).levels.slice(0, N * 784);
  mkdirSync(join(tmp, 'images'));
  for (let i = 0; i < N; i++) {
    const png = await encodePng({ pixels: Uint8Array.from(levels.subarray(i * 784, (i + 1) * 784)), width: 28, height: 28, channels: 1 });
    writeFileSync(join(tmp, 'images', `${String(i).padStart(3, '0')}.png`), png);
  }
});
after(async () => {
  await client?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

async function make(name: string, images: Awaited<ReturnType<typeof imageFolderSource>>, chunkImages?: number) {
  const out = join(tmp, `${name}.npz`);
  await makeReference(client, { netPath: NET, provider: 'cpu', threads: 1, source: name, images, keep: 25, out, chunkImages });
  return readReference(out);
}

test('a folder of PNGs, read 7 at a time, gives the in-memory statistics of the same images bit for bit', async () => {
  const whole = await make('memory', levelsSource(levels, N, [28, 28]));
  const folder = await imageFolderSource(join(tmp, 'images'), 1);
  assert.deepEqual([folder.n, folder.size, folder.channels], [N, [28, 28], 1]);
  const chunked = await make('folder', folder, 7);
  assert.equal(whole.count, N);
  assert.deepEqual(chunked.mu, whole.mu);
  assert.deepEqual(chunked.sigma, whole.sigma);
  assert.deepEqual(chunked.features, whole.features, 'the first 25 images\' features, across chunk boundaries');
  assert.equal(whole.features!.length, 25 * whole.dim);
});

test('pmf generate\'s grid.png in the folder is named before any work, with what to do', async () => {
  const dir = join(tmp, 'with-grid');
  mkdirSync(dir);
  for (let i = 0; i < 3; i++) {
    writeFileSync(join(dir, `s${i}.png`), await encodePng({ pixels: new Uint8Array(784).fill(40 * i), width: 28, height: 28, channels: 1 }));
  }
  writeFileSync(join(dir, 'grid.png'), await encodePng({ pixels: new Uint8Array(56 * 56), width: 56, height: 56, channels: 1 }));
  await assert.rejects(imageFolderSource(dir, 1), /with-grid: 3 images are 28x28, but grid\.png is 56x56: the images of a reference folder share one size .*\(grid\.png is the grid pmf generate writes beside its samples: move it out\)/);
});
