// .npz reference statistics (src/node/npz.ts): round trips, files written by numpy (np.savez,
// np.savez_compressed, an ADM-style file with images beside the statistics, Fortran order), files
// read by numpy, and bad files, whose errors name the file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeNpy, encodeNpyArray } from '../../src/node/npy';
import { FeatureStatistics } from '../../src/core/eval';
import { gaussian } from '../../src/core/noise';
import { crc32, encodeNpz, readNpz, readReferenceStatistics, readShardStatistics, writeNpz, writeReferenceStatistics, writeShardStatistics } from '../../src/node/npz';

const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
const noNumpy = probe.status === 0 ? false : `${PYTHON} with numpy is not available: install python3-numpy`;

const dir = mkdtempSync(join(tmpdir(), 'pmf-npz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function python(code: string, ...args: string[]): string {
  const r = spawnSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function stats(d: number): { mu: Float64Array; sigma: Float64Array } {
  const mu = Float64Array.from({ length: d }, (_, i) => i / 7 - 0.3);
  const sigma = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) sigma[i * d + j] = 1 / (1 + i + j) + (i === j ? 0.5 : 0);
  return { mu, sigma };
}

describe('npz', () => {
  test('reference statistics round-trip bit for bit', async () => {
    const path = join(dir, 'ref.npz');
    const s = stats(9);
    await writeReferenceStatistics(path, s, { count: { data: Float64Array.of(50000), shape: [] } });
    const r = await readReferenceStatistics(path);
    assert.equal(r.dim, 9);
    assert.deepEqual([...r.mu], [...s.mu]);
    assert.deepEqual([...r.sigma], [...s.sigma]);
    const all = await readNpz(path);
    assert.deepEqual([...all.keys()].sort(), ['count', 'mu', 'sigma']);
    assert.deepEqual(all.get('count')!.shape, []);
    assert.equal(all.get('count')!.values[0], 50000);
  });

  test('a file written here is read by numpy', { skip: noNumpy }, async () => {
    const path = join(dir, 'for-numpy.npz');
    const s = stats(5);
    await writeNpz(path, { mu: { data: s.mu, shape: [5] }, sigma: { data: s.sigma, shape: [5, 5] }, f: { data: Float32Array.of(1.5, -2), shape: [2] } });
    const out = JSON.parse(python(`
import sys, json, numpy as np
z = np.load(sys.argv[1])
print(json.dumps({k: {'dtype': str(z[k].dtype), 'shape': list(z[k].shape), 'v': z[k].ravel().tolist()} for k in sorted(z.files)}))
`, path)) as Record<string, { dtype: string; shape: number[]; v: number[] }>;
    assert.deepEqual(out.mu, { dtype: 'float64', shape: [5], v: [...s.mu] });
    assert.deepEqual(out.sigma, { dtype: 'float64', shape: [5, 5], v: [...s.sigma] });
    assert.deepEqual(out.f, { dtype: 'float32', shape: [2], v: [1.5, -2] });
  });

  for (const save of ['savez', 'savez_compressed']) {
    test(`reads statistics numpy wrote with np.${save} (float32 and float64, an ADM-style file with images beside them)`, { skip: noNumpy }, async () => {
      const p32 = join(dir, `${save}-32.npz`);
      const p64 = join(dir, `${save}-64.npz`);
      const values = JSON.parse(python(`
import sys, json, numpy as np
d = 6
rng = np.random.default_rng(1)
x = rng.standard_normal((50, d))
mu, sigma = x.mean(0), np.cov(x, rowvar=False)
np.${save}(sys.argv[1], arr_0=rng.integers(0, 255, (4, 8, 8, 3), dtype=np.uint8), mu=mu.astype(np.float32), sigma=sigma.astype(np.float32),
           mu_s=np.zeros(3, np.float32), sigma_s=np.eye(3, dtype=np.float32))
np.${save}(sys.argv[2], mu=mu, sigma=np.asfortranarray(sigma))
print(json.dumps({'mu32': mu.astype(np.float32).tolist(), 'sigma32': sigma.astype(np.float32).ravel().tolist(), 'mu': mu.tolist(), 'sigma': sigma.ravel().tolist()}))
`, p32, p64)) as Record<'mu32' | 'sigma32' | 'mu' | 'sigma', number[]>;
      const r32 = await readReferenceStatistics(p32);
      assert.equal(r32.dim, 6);
      assert.deepEqual([...r32.mu], values.mu32);
      assert.deepEqual([...r32.sigma], values.sigma32);
      const r64 = await readReferenceStatistics(p64);
      assert.deepEqual([...r64.mu], values.mu);
      assert.deepEqual([...r64.sigma], values.sigma);
      const images = (await readNpz(p32, ['arr_0'])).get('arr_0')!;
      assert.deepEqual(images.shape, [4, 8, 8, 3]);
      assert.equal(images.dtype, 'u1');
    });
  }

  test('Fortran-ordered and big-endian arrays are read in C order', { skip: noNumpy }, async () => {
    const path = join(dir, 'fortran.npz');
    python(`
import sys, numpy as np
m = np.arange(6, dtype=np.float64).reshape(2, 3)
np.savez(sys.argv[1], m=np.asfortranarray(m), b=m.astype('>f4'), i=np.arange(3, dtype=np.int64) - 1)
`, path);
    const a = await readNpz(path);
    assert.deepEqual(a.get('m')!.shape, [2, 3]);
    assert.deepEqual([...a.get('m')!.values], [0, 1, 2, 3, 4, 5]);
    assert.deepEqual([...a.get('b')!.values], [0, 1, 2, 3, 4, 5]);
    assert.deepEqual([...a.get('i')!.values], [-1, 0, 1]);
  });

  test('bad files give errors that name the file and say what is wrong', async () => {
    const good = encodeNpz({ mu: { data: Float64Array.of(1, 2), shape: [2] }, sigma: { data: Float64Array.of(1, 0, 0, 1), shape: [2, 2] } });
    const at = (name: string, bytes: Uint8Array | string): string => {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      return p;
    };
    const cases: [string, RegExp][] = [
      [join(dir, 'missing.npz'), /missing\.npz: there is no such file/],
      [at('empty.npz', ''), /empty\.npz is not a \.npz file: it is empty/],
      [at('text.npz', 'mu,sigma\n1,2\n'.repeat(10)), /text\.npz is not a readable \.npz file: it is not a ZIP archive, or it is truncated/],
      [at('truncated.npz', good.subarray(0, good.length - 40)), /truncated\.npz is not a readable \.npz file.*truncated/],
      [at('no-sigma.npz', encodeNpz({ mu: { data: Float64Array.of(1, 2), shape: [2] } })), /no-sigma\.npz has no 'sigma' array \(it holds 'mu'\)/],
      [at('shape.npz', encodeNpz({ mu: { data: Float64Array.of(1, 2), shape: [2] }, sigma: { data: new Float64Array(6), shape: [2, 3] } })), /shape\.npz: 'sigma' has shape \(2, 3\) but 'mu' has 2 values; \(2, 2\) was expected/],
      [at('mu2d.npz', encodeNpz({ mu: { data: Float64Array.of(1, 2), shape: [1, 2] }, sigma: { data: new Float64Array(4), shape: [2, 2] } })), /mu2d\.npz: 'mu' has shape \(1, 2\); a vector/],
      [at('nan.npz', encodeNpz({ mu: { data: Float64Array.of(1, NaN), shape: [2] }, sigma: { data: new Float64Array(4), shape: [2, 2] } })), /nan\.npz: 'mu' holds a value that is not finite/],
    ];
    mkdirSync(join(dir, 'folder.npz'));
    cases.push([join(dir, 'folder.npz'), /folder\.npz is a folder, not a \.npz file/]);
    // a .npy entry whose data is cut off (the ZIP itself intact)
    const shortNpy = encodeNpyArray(Float64Array.of(1, 2), [2]).subarray(0, 128 + 4);
    cases.push([at('short-entry.npz', rawNpz({ 'mu.npy': shortNpy, 'sigma.npy': encodeNpyArray(new Float64Array(4), [2, 2]) })), /short-entry\.npz: the array 'mu' is truncated/]);
    cases.push([at('not-npy.npz', rawNpz({ 'mu.npy': Buffer.from('hello'), 'sigma.npy': encodeNpyArray(new Float64Array(4), [2, 2]) })), /not-npy\.npz: the array 'mu' is not a NumPy \.npy array/]);
    for (const [path, message] of cases) {
      await assert.rejects(readReferenceStatistics(path), (e: Error) => {
        assert.match(e.message, message);
        assert.ok(e.message.includes(path), `${e.message} names ${path}`);
        return true;
      });
    }
  });

  test('a write that fails leaves nothing and names the path', async () => {
    const path = join(dir, 'no-such-folder', 'ref.npz');
    await assert.rejects(writeReferenceStatistics(path, stats(2)), /no-such-folder.*does not exist/);
    const ok = join(dir, 'ok.npz');
    await writeReferenceStatistics(ok, stats(2));
    assert.ok(readFileSync(ok).length > 0);
  });

  test('shard statistics files: shards written and merged from files equal one run bit for bit', async () => {
    const d = 5;
    const n = 2600;
    const f = gaussian(77, n * d).map((x, i) => x + (i % d));
    const whole = new FeatureStatistics(d);
    whole.addBatch(0, f);
    const ref = whole.finish();
    const cuts = [0, 1000, 1500, 2049, n]; // none on a block boundary (1024)
    const paths: string[] = [];
    for (let k = 0; k + 1 < cuts.length; k++) {
      const st = new FeatureStatistics(d);
      st.addBatch(cuts[k], f.subarray(cuts[k] * d, cuts[k + 1] * d));
      paths.push(join(dir, `shard-${k}.npz`));
      await writeShardStatistics(paths[k], st);
    }
    const merged = await readShardStatistics(paths[3]);
    for (const p of [paths[1], paths[0], paths[2]]) merged.merge(await readShardStatistics(p));
    const m = merged.finish();
    assert.ok(Buffer.from(m.covariance.buffer).equals(Buffer.from(ref.covariance.buffer)));
    assert.ok(Buffer.from(m.mean.buffer).equals(Buffer.from(ref.mean.buffer)));
    await assert.rejects(readShardStatistics(join(dir, 'ref.npz')), /ref\.npz is not a pMF Lab shard statistics file/);
    const again = await readShardStatistics(paths[0]);
    assert.throws(() => merged.merge(again), /overlap/);
  });

  test('decodeNpy reads what encodeNpyArray writes', () => {
    const a = decodeNpy(encodeNpyArray(Float64Array.of(0.1, -3), [1, 2]), 'x');
    assert.deepEqual(a, { dtype: 'f8', shape: [1, 2], values: Float64Array.of(0.1, -3) });
  });
});

/** A stored ZIP of the given raw entry bytes (to make .npz files whose entries are damaged). */
function rawNpz(entries: Record<string, Uint8Array>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const n = Buffer.from(name);
    const l = Buffer.alloc(30);
    l.writeUInt32LE(0x04034b50, 0);
    l.writeUInt16LE(20, 4);
    l.writeUInt32LE(crc32(data), 14);
    l.writeUInt32LE(data.length, 18);
    l.writeUInt32LE(data.length, 22);
    l.writeUInt16LE(n.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt32LE(crc32(data), 16);
    c.writeUInt32LE(data.length, 20);
    c.writeUInt32LE(data.length, 24);
    c.writeUInt16LE(n.length, 28);
    c.writeUInt32LE(offset, 42);
    locals.push(l, n, Buffer.from(data));
    centrals.push(c, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const e = Buffer.alloc(22);
  e.writeUInt32LE(0x06054b50, 0);
  e.writeUInt16LE(Object.keys(entries).length, 8);
  e.writeUInt16LE(Object.keys(entries).length, 10);
  e.writeUInt32LE(cd.length, 12);
  e.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, e]);
}
