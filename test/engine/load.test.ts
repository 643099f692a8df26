// Loading models by path: external data, the optimised model cache, the memory check and the
// load phases, with the real onnxruntime-node and the bundled Fashion-MNIST model (12 MB of
// weights, so the tests set PMF_CACHE_MIN_BYTES=0 to cache it; bench/load.ts measures a
// B/16-sized model). Timings are reported (t.diagnostic), not asserted.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readCheckpoint } from '../../src/core/checkpoint';
import { scanOnnxLayout } from '../../src/core/checkpoint/onnxReader';
import { EngineClient, EngineError } from '../../src/engine/client';
import type { LoadProgressParams, LoadResult } from '../../src/engine/protocol';
import { type FileRecord, fileRecord, ModelCache } from '../../src/node/modelCache';
import { openModelFile } from '../../src/node/modelFile';
import { ENGINE, FASHION, FIXTURE, requireBuilt, TOY } from '../helpers/paths';
import { writeExternalDataModel } from './externalData';

requireBuilt();
const tmp = mkdtempSync(join(tmpdir(), 'pmf-load-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const fashionBytes = readFileSync(FASHION);

/** The bundled model with its weights in `<dir>/fashion-x.onnx.data`. */
function externalFashion(name: string): { model: string; data: string } {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  return writeExternalDataModel(fashionBytes, dir, 'fashion-x.onnx');
}

const SAMPLING = { seeds: [1, 2, 3, 4], labels: [0, 3, 7, 10], steps: 2, omega: 2, tMin: 0, tMax: 1, batchSize: 4 };

/** One engine with `env`: loads `model`, generates SAMPLING, ends. */
async function loadAndGenerate(model: string, env: NodeJS.ProcessEnv, onProgress?: (p: LoadProgressParams) => void):
  Promise<{ load: LoadResult; samples: Float32Array; ms: number }> {
  const client = new EngineClient({ enginePath: ENGINE, env });
  try {
    await client.hello();
    const t0 = performance.now();
    const load = await client.load(model, 'cpu', undefined, undefined, onProgress);
    const ms = performance.now() - t0;
    const g = await client.generate({ ...SAMPLING, modelId: load.modelId });
    return { load, samples: g.samples, ms };
  } finally {
    await client.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<EngineError> {
  let err: EngineError | undefined;
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof EngineError, `expected an EngineError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    err = e;
    return true;
  });
  return err!;
}

/** A fresh cache folder for the engine, caching models of any size. */
function cacheEnv(name: string, extra: NodeJS.ProcessEnv = {}): { env: NodeJS.ProcessEnv; cache: ModelCache } {
  const dir = join(tmp, `cache-${name}`);
  return { env: { PMF_CACHE_DIR: dir, PMF_CACHE_MIN_BYTES: '0', ...extra }, cache: new ModelCache(join(dir, 'onnxruntime')) };
}

const plainEnv = { PMF_CACHE_DIR: 'off' };
let referenceSamples: Float32Array | undefined;
/** SAMPLING from the bundled model as it is, without the cache. */
async function reference(): Promise<Float32Array> {
  referenceSamples ??= (await loadAndGenerate(FASHION, plainEnv)).samples;
  return referenceSamples;
}

describe('the contract from the header alone', () => {
  test('scanOnnxLayout gives readCheckpoint the same contract as the whole file, and finds the weights', () => {
    for (const path of [FASHION, TOY('u', 16), FIXTURE('image-no-cfg')]) {
      const bytes = new Uint8Array(readFileSync(path));
      const layout = scanOnnxLayout({ size: bytes.length, read: (o, l) => bytes.slice(o, o + l) }, 'm.onnx');
      assert.deepEqual(readCheckpoint(layout.header, 'm.onnx'), readCheckpoint(bytes, 'm.onnx'));
      assert.ok(layout.header.length < 200_000, `${path}: the header holds no weights (${layout.header.length} bytes)`);
      assert.deepEqual(layout.external, []);
    }
    const f = openModelFile(FASHION);
    assert.ok(f.weightBytes > 0.9 * fashionBytes.length && f.weightBytes < fashionBytes.length, `weights ${f.weightBytes}`);
  });

  test('an external-data model: its weights file is found, checked and counted', () => {
    const { model, data } = externalFashion('layout');
    const f = openModelFile(model);
    assert.ok(statSync(model).size < 0.1 * fashionBytes.length, `the graph file holds no weights (${statSync(model).size} bytes)`);
    assert.deepEqual(f.layout.external.map((e) => [e.location, e.end]), [['fashion-x.onnx.data', statSync(data).size]]);
    assert.equal(f.weightBytes, openModelFile(FASHION).weightBytes);
    assert.deepEqual(f.info, readCheckpoint(fashionBytes, 'fashion-x.onnx'));
  });

  test('a truncated model and a non-model get readOnnxHeader\'s messages', () => {
    const cut = join(tmp, 'cut.onnx');
    writeFileSync(cut, fashionBytes.subarray(0, Math.floor(fashionBytes.length * 0.6)));
    assert.throws(() => openModelFile(cut), /cut\.onnx is not an ONNX model \(its data ends in the middle of a field/);
    const png = join(tmp, 'picture.onnx');
    writeFileSync(png, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
    assert.throws(() => openModelFile(png), /picture\.onnx is not an ONNX model \(it is a PNG image\)/);
  });
});

describe('loading by path', () => {
  test('an external-data model generates the same samples as the same model inline', async (t) => {
    const { model } = externalFashion('same');
    const inline = await loadAndGenerate(FASHION, plainEnv);
    referenceSamples = inline.samples;
    const ext = await loadAndGenerate(model, plainEnv);
    assert.equal(ext.load.modelCache?.state, 'unused');
    assert.equal(ext.load.weightBytes, inline.load.weightBytes);
    const d = maxAbsDiff(ext.samples, inline.samples);
    t.diagnostic(`max |external - inline| = ${d}`);
    assert.ok(d <= 1e-6, `max |external - inline| = ${d}`);
  });

  test('external data that is missing, truncated, a FIFO or outside the folder is refused before onnxruntime sees it', async () => {
    const client = new EngineClient({ enginePath: ENGINE, env: plainEnv });
    try {
      const missing = externalFashion('missing');
      rmSync(missing.data);
      await rejectsWith(client.load(missing.model, 'cpu'), 'checkpoint', /its weights file fashion-x\.onnx\.data is missing/);
      const short = externalFashion('short');
      truncateSync(short.data, statSync(short.data).size - 1000);
      await rejectsWith(client.load(short.model, 'cpu'), 'checkpoint', /fashion-x\.onnx\.data is truncated/);
      const fifo = externalFashion('fifo');
      rmSync(fifo.data);
      assert.equal(spawnSync('mkfifo', [fifo.data]).status, 0);
      await rejectsWith(client.load(fifo.model, 'cpu'), 'not-found', /is a FIFO \(named pipe\), not a file/);
      // a location ../x: the same model with its data one folder up
      const dir = join(tmp, 'outside', 'inner');
      mkdirSync(dir, { recursive: true });
      const m = writeExternalDataModel(fashionBytes, join(tmp, 'outside'), 'o.onnx');
      const graph = readFileSync(m.model);
      const from = Buffer.from('o.onnx.data');
      const to = Buffer.from('../o.onnx.d');
      writeFileSync(join(dir, 'o.onnx'), Buffer.from(graph.toString('latin1').split(from.toString('latin1')).join(to.toString('latin1')), 'latin1'));
      cpSync(m.data, join(tmp, 'outside', 'o.onnx.d'));
      await rejectsWith(client.load(join(dir, 'o.onnx'), 'cpu'), 'checkpoint', /points outside the model's folder/);
    } finally {
      await client.dispose();
    }
  });
});

describe('the optimised model cache', () => {
  test('a first load writes an entry, the next engine loads it: same samples, phases reported', async (t) => {
    const { env, cache } = cacheEnv('hit');
    const phases: string[][] = [[], []];
    const first = await loadAndGenerate(FASHION, env, (p) => phases[0].push(p.phase));
    const second = await loadAndGenerate(FASHION, env, (p) => phases[1].push(p.phase));
    assert.equal(first.load.modelCache?.state, 'written');
    assert.equal(second.load.modelCache?.state, 'hit');
    assert.deepEqual(phases, [['reading', 'optimising', 'cached', 'ready'], ['reading', 'cached', 'ready']]);
    assert.equal(cache.keys().length, 1);
    const entry = join(cache.root, cache.keys()[0]);
    assert.deepEqual(readdirSync(entry).sort(), ['entry.json', 'model.onnx', 'weights.bin']);
    assert.ok(maxAbsDiff(first.samples, second.samples) === 0, 'the first load runs the cached graph too');
    const d = maxAbsDiff(second.samples, await reference());
    assert.ok(d <= 1e-6, `max |cached - plain| = ${d}`);
    t.diagnostic(`Fashion-MNIST: first load ${first.ms.toFixed(0)} ms (optimise, save, load the entry), cached ${second.ms.toFixed(0)} ms; ` +
      `|cached - plain| ${d}`);
  });

  test('an external-data model is cached too, and a changed weights file invalidates its entry', async () => {
    const { env, cache } = cacheEnv('changed');
    const { model, data } = externalFashion('changed');
    const first = await loadAndGenerate(model, env);
    assert.equal(first.load.modelCache?.state, 'written');
    assert.ok(maxAbsDiff(first.samples, await reference()) <= 1e-6);
    assert.equal((await loadAndGenerate(model, env)).load.modelCache?.state, 'hit');
    const before = openModelFile(model).contentKey;
    // other weights, the same size, the same path: the first tensor (the patch embedding) x 1.5
    const bytes = readFileSync(data);
    const w = new Float32Array(bytes.buffer, bytes.byteOffset, 1024);
    for (let i = 0; i < w.length; i++) w[i] *= 1.5;
    writeFileSync(data, bytes);
    assert.notEqual(openModelFile(model).contentKey, before);
    const changed = await loadAndGenerate(model, env);
    assert.equal(changed.load.modelCache?.state, 'written', 'a fresh optimisation');
    assert.equal(cache.keys().length, 2);
    const plain = await loadAndGenerate(model, plainEnv);
    assert.ok(maxAbsDiff(changed.samples, plain.samples) <= 1e-6, 'the new entry computes the changed model');
    assert.ok(maxAbsDiff(changed.samples, await reference()) > 1e-3, 'and not the old one');
  });

  test('a corrupt or partial entry is ignored and written again', async () => {
    const { env, cache } = cacheEnv('corrupt');
    await loadAndGenerate(FASHION, env);
    const [key] = cache.keys();
    const entry = join(cache.root, key);
    const corruptions: Array<[string, () => void]> = [
      ['a truncated weights file', () => truncateSync(join(entry, 'weights.bin'), 4096)],
      ['other bytes in the weights file', () => {
        const b = readFileSync(join(entry, 'weights.bin'));
        b.fill(0x7f, 0, 65536);
        writeFileSync(join(entry, 'weights.bin'), b);
      }],
      ['a graph that is not ONNX, with its manifest', () => {
        writeFileSync(join(entry, 'model.onnx'), 'not a model');
        const m = JSON.parse(readFileSync(join(entry, 'entry.json'), 'utf8')) as { files: Record<string, FileRecord> };
        m.files['model.onnx'] = { size: 11, hash: fileRecord(join(entry, 'model.onnx')).hash };
        writeFileSync(join(entry, 'entry.json'), JSON.stringify(m));
      }],
      ['a broken manifest', () => writeFileSync(join(entry, 'entry.json'), '{"format":')],
      ['no manifest (an entry cut short)', () => rmSync(join(entry, 'entry.json'))],
    ];
    for (const [what, corrupt] of corruptions) {
      corrupt();
      const r = await loadAndGenerate(FASHION, env);
      assert.equal(r.load.modelCache?.state, 'written', `${what}: built again`);
      assert.ok(maxAbsDiff(r.samples, await reference()) <= 1e-6, `${what}: correct samples`);
      assert.deepEqual(cache.keys(), [key]);
      assert.equal((await loadAndGenerate(FASHION, env)).load.modelCache?.state, 'hit', `${what}: the new entry is used`);
    }
  });

  test('the cache keeps its most recent entries, and drops staging folders of ended processes', async () => {
    const { env, cache } = cacheEnv('bound', { PMF_CACHE_MAX_ENTRIES: '2' });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    mkdirSync(join(cache.root, `.staging-${dead.stdout}-abcdef`), { recursive: true });
    const keys: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const { model, data } = externalFashion(`bound-${name}`);
      const bytes = readFileSync(data);
      new Float32Array(bytes.buffer, bytes.byteOffset, 16)[0] += name.charCodeAt(0) / 1000; // three contents
      writeFileSync(data, bytes);
      await loadAndGenerate(model, env);
      keys.push(cache.keys().find((k) => !keys.includes(k))!);
    }
    assert.deepEqual(cache.keys().sort(), keys.slice(1).sort(), 'the least recently used entry went');
    assert.ok(!readdirSync(cache.root).some((n) => n.startsWith('.staging-')), 'no staging folder is left');
  });
});

describe('memory', () => {
  test('a model that cannot fit is refused before loading, with the figures (PMF_MEMORY_LIMIT_BYTES fakes the free memory)', async () => {
    const client = new EngineClient({ enginePath: ENGINE, env: { PMF_MEMORY_LIMIT_BYTES: String(4 * 2 ** 20) } });
    try {
      const e = await rejectsWith(client.load(FASHION, 'cpu'), 'memory',
        /model\.onnx needs about \d+ MB of memory to load \(\d+ MB of weights x 1\.5\), but only 4 MB is free \(PMF_MEMORY_LIMIT_BYTES\)/);
      assert.match(e.message, /Close other programs/);
    } finally {
      await client.dispose();
    }
  });

  test('with room to load but not to optimise into the cache, the model loads as it is', async () => {
    const weights = openModelFile(FASHION).weightBytes;
    const { env, cache } = cacheEnv('tight', { PMF_MEMORY_LIMIT_BYTES: String(Math.round(weights * 2)) });
    const r = await loadAndGenerate(FASHION, env);
    assert.equal(r.load.modelCache?.state, 'unused');
    assert.match(r.load.modelCache?.reason ?? '', /optimising into the cache takes about \d+ MB of memory/);
    assert.deepEqual(cache.keys(), []);
    assert.ok(maxAbsDiff(r.samples, await reference()) <= 1e-6);
  });
});
