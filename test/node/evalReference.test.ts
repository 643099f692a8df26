// The eval math against the reference implementations' numbers, computed here by /usr/bin/python3
// (Debian's numpy and scipy): the Frechet distance by pytorch-fid's route (numpy.cov, then
// scipy.linalg.sqrtm of s1·s2), and precision/recall/density/coverage by a numpy re-statement of
// clovaai/generative-evaluation-prdc's compute_prdc.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FeatureStatistics, densityCoverage, frechetDistance, precisionRecall } from '../../src/core/eval';
import { gaussian } from '../../src/core/noise';
import { encodeNpy } from '../../src/node/npy';

const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import numpy, scipy.linalg'], { encoding: 'utf8' });
const noScipy = probe.status === 0 ? false : `${PYTHON} with numpy and scipy is not available (${(probe.error?.message ?? probe.stderr).trim().split('\n').pop()}): install python3-scipy`;

const dir = mkdtempSync(join(tmpdir(), 'pmf-eval-ref-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function python(code: string, args: string[]): unknown {
  const r = spawnSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** n x d features with a fixed seed: correlated, shifted, scaled per dimension. */
function features(seed: number, n: number, d: number, shift = 0): Float32Array {
  const g = gaussian(seed, n * d);
  const out = new Float32Array(n * d);
  for (let s = 0; s < n; s++) {
    for (let i = 0; i < d; i++) out[s * d + i] = g[s * d + i] * (0.4 + (i % 7) * 0.2) + 0.5 * g[s * d + ((i * 5 + 1) % d)] + shift + 0.01 * i;
  }
  return out;
}

function saveNpy(name: string, f: Float32Array, n: number, d: number): string {
  const path = join(dir, name);
  writeFileSync(path, encodeNpy(f, [n, d]));
  return path;
}

const PYTORCH_FID = `
import sys, json, numpy as np, scipy.linalg
x = np.load(sys.argv[1]).astype(np.float64); y = np.load(sys.argv[2]).astype(np.float64)
mu1, s1 = x.mean(axis=0), np.cov(x, rowvar=False)
mu2, s2 = y.mean(axis=0), np.cov(y, rowvar=False)
diff = mu1 - mu2
covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
if not np.isfinite(covmean).all():
    offset = np.eye(s1.shape[0]) * 1e-6
    covmean = scipy.linalg.sqrtm((s1 + offset).dot(s2 + offset))
covmean = covmean.real
print(json.dumps({'fd': float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)),
                  'tr': float(np.trace(covmean)), 'mu1': mu1.tolist(), 's1': s1.ravel().tolist()}))
`;

describe('against scipy (the pytorch-fid route)', { skip: noScipy }, () => {
  // the last two: fewer samples than dimensions, so the covariances are singular (rank n - 1)
  for (const [d, n1, n2] of [[16, 200, 150], [64, 500, 400], [256, 1500, 1200], [64, 40, 50], [64, 300, 40]] as const) {
    test(`Frechet distance of random features, d = ${d}, ${n1} and ${n2} samples, agrees to 1e-6 relative`, () => {
      const x = features(100 + d, n1, d);
      const y = features(200 + d, n2, d, 0.1);
      const ref = python(PYTORCH_FID, [saveNpy(`x${d}-${n1}.npy`, x, n1, d), saveNpy(`y${d}-${n2}.npy`, y, n2, d)]) as { fd: number; tr: number; mu1: number[]; s1: number[] };
      const a = new FeatureStatistics(d);
      a.addBatch(0, x);
      const b = new FeatureStatistics(d);
      b.addBatch(0, y);
      const m1 = a.finish();
      const m2 = b.finish();
      // the statistics themselves agree with numpy's to rounding
      let covErr = 0;
      let covScale = 0;
      for (let i = 0; i < d * d; i++) {
        covErr = Math.max(covErr, Math.abs(m1.covariance[i] - ref.s1[i]));
        covScale = Math.max(covScale, Math.abs(ref.s1[i]));
      }
      assert.ok(covErr <= 1e-12 * covScale, `covariance differs from numpy.cov by ${covErr / covScale} relative`);
      const r = frechetDistance(m1.mean, m1.covariance, m2.mean, m2.covariance);
      const rel = Math.abs(r.distance - ref.fd) / Math.abs(ref.fd);
      assert.ok(rel <= 1e-6, `FD ${r.distance} vs scipy ${ref.fd}: ${rel} relative`);
      // scipy's sqrtm of a singular product is itself only good to about 1e-8
      const trTol = Math.min(n1, n2) <= d ? 1e-7 : 1e-9;
      assert.ok(Math.abs(r.traceSqrtProduct - ref.tr) <= trTol * ref.tr, `tr sqrt ${r.traceSqrtProduct} vs ${ref.tr}`);
    });
  }
});

const PRDC = `
import sys, json, numpy as np
real = np.load(sys.argv[1]).astype(np.float64); fake = np.load(sys.argv[2]).astype(np.float64)
def dist(a, b): return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
def radii(x, k):  # compute_nearest_neighbour_distances: the (k+1)-th smallest, self included
    d = dist(x, x)
    return np.sort(d, axis=1)[:, k]
out = {}
for k in (int(sys.argv[3]), int(sys.argv[4])):
    rr, fr, rf = radii(real, k), radii(fake, k), dist(real, fake)
    out[str(k)] = {'precision': float((rf < rr[:, None]).any(axis=0).mean()),
                   'recall': float((rf < fr[None, :]).any(axis=1).mean()),
                   'density': float((1.0 / k) * (rf < rr[:, None]).sum(axis=0).mean()),
                   'coverage': float((rf.min(axis=1) < rr).mean())}
print(json.dumps(out))
`;

describe('against a numpy re-statement of compute_prdc', { skip: noScipy }, () => {
  test('precision, recall (k = 3), density, coverage (k = 5)', () => {
    const d = 12;
    const real = features(7, 240, d);
    const fake = features(8, 180, d, 0.6);
    const ref = python(PRDC, [saveNpy('real.npy', real, 240, d), saveNpy('fake.npy', fake, 180, d), '3', '5']) as Record<string, Record<string, number>>;
    const pr = precisionRecall(real, fake, d);
    const dc = densityCoverage(real, fake, d);
    assert.equal(pr.k, 3);
    assert.equal(dc.k, 5);
    assert.equal(pr.precision, ref['3'].precision);
    assert.equal(pr.recall, ref['3'].recall);
    assert.ok(Math.abs(dc.density - ref['5'].density) < 1e-12, `density ${dc.density} vs ${ref['5'].density}`);
    assert.equal(dc.coverage, ref['5'].coverage);
    // the values are not trivial (the sets differ), so the comparison means something
    assert.ok(pr.precision > 0.05 && pr.precision < 0.95, `precision ${pr.precision}`);
    assert.ok(dc.coverage > 0.05 && dc.coverage < 0.95, `coverage ${dc.coverage}`);
  });

  test('identical sets: precision, recall and coverage are 1 (each sample lies inside its own ball)', () => {
    const d = 5;
    const x = features(9, 60, d);
    const pr = precisionRecall(x, x, d);
    assert.equal(pr.precision, 1);
    assert.equal(pr.recall, 1);
    assert.equal(densityCoverage(x, x, d).coverage, 1);
  });

  test('too few samples for k is an error', () => {
    assert.throws(() => precisionRecall(new Float32Array(6), new Float32Array(6), 2), /no 3-th nearest neighbour|at least 4/);
  });
});
