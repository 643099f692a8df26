// The field measurements (src/core/analysis) against known answers: data on a known subspace,
// white noise, pure frequencies, exact plane decompositions.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  appendFrame, computeMeasurements, defaultPatchStride, emptySeries, FrameMeasurer, highFrequencyShare, patchDimension, pointDimension, powerSpectrum,
  projectToPlane, toyPlaneView,
} from '../../src/core/analysis';
import { gaussian } from '../../src/core/noise';
import { Measurements } from '../../src/shared/protocol/visualizer';

/** k orthonormal vectors of dimension d (Gram-Schmidt of Gaussian vectors). */
function orthonormal(k: number, d: number, seed: number): Float64Array[] {
  const basis: Float64Array[] = [];
  for (let i = 0; basis.length < k; i++) {
    const v = Float64Array.from(gaussian(seed + i, d));
    for (const b of basis) {
      const dot = v.reduce((s, vi, j) => s + vi * b[j], 0);
      for (let j = 0; j < d; j++) v[j] -= dot * b[j];
    }
    const norm = Math.hypot(...v);
    basis.push(v.map((vi) => vi / norm));
  }
  return basis;
}

/**
 * n CHW images tiled with p x p patches, tile t = sum_i sigma_i s_i e_i with orthonormal
 * patterns e_i (vectors over channel, row, column) and the signs s of t's bits: when the
 * tiles per batch are a multiple of 2^k the tile covariance is exactly diag(sigma^2) in that
 * basis, with mean 0.
 */
function tiledImages(n: number, C: number, H: number, W: number, p: number, sigmas: number[], seed: number): Float32Array {
  const patterns = orthonormal(sigmas.length, C * p * p, seed);
  const images = new Float32Array(n * C * H * W);
  let t = 0;
  for (let i = 0; i < n; i++) {
    for (let y0 = 0; y0 < H; y0 += p) {
      for (let x0 = 0; x0 < W; x0 += p, t++) {
        let k = 0;
        for (let c = 0; c < C; c++) {
          for (let dy = 0; dy < p; dy++) {
            for (let dx = 0; dx < p; dx++, k++) {
              const value = sigmas.reduce((s, sigma, j) => s + sigma * ((t >> j) & 1 ? -1 : 1) * patterns[j][k], 0);
              images[((i * C + c) * H + y0 + dy) * W + x0 + dx] = value;
            }
          }
        }
      }
    }
  }
  return images;
}

/** A CHW image from a function of (channel, row, column). */
function image(C: number, H: number, W: number, f: (c: number, y: number, x: number) => number): Float32Array {
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[(c * H + y) * W + x] = f(c, y, x);
  return out;
}

const SHAPES: [number, number, number][] = [[1, 28, 28], [3, 28, 28], [1, 32, 32], [3, 32, 32], [1, 16, 20], [3, 16, 20]];

describe('patchDimension', () => {
  test('patches on a k-dim subspace with equal variances: participation ratio k, 95 % in k components', () => {
    const images = tiledImages(2, 1, 16, 16, 4, [1, 1, 1], 100);
    const dim = patchDimension(images, 2, [1, 16, 16], 4, { stride: 4 });
    assert.equal(dim.patchDim, 16);
    assert.equal(dim.eigenvalues.length, 16);
    assert.ok(Math.abs(dim.participationRatio - 3) < 1e-6, String(dim.participationRatio));
    assert.equal(dim.components95, 3);
    for (const l of dim.eigenvalues.slice(0, 3)) assert.ok(Math.abs(l - 1) < 1e-6, String(l));
    for (const l of dim.eigenvalues.slice(3)) assert.ok(l < 1e-9, String(l));
  });

  test('unequal variances 16, 4, 1/4 (C = 3): ratio 20.25^2 / 272.0625, 95 % in 2 components', () => {
    const images = tiledImages(1, 3, 8, 8, 2, [4, 2, 0.5], 200);
    const dim = patchDimension(images, 1, [3, 8, 8], 2, { stride: 2 });
    assert.equal(dim.patchDim, 12);
    assert.ok(Math.abs(dim.participationRatio - 20.25 ** 2 / 272.0625) < 1e-6, String(dim.participationRatio));
    assert.equal(dim.components95, 2);
    assert.deepEqual(dim.eigenvalues.slice(0, 3).map((l) => Math.round(l * 1e6) / 1e6), [16, 4, 0.25]);
  });

  test('overlapping patches (default stride 1) of a sum of plane waves stay in their 4-dim span', () => {
    const n = 3;
    const images = new Float32Array(n * 28 * 28);
    for (let i = 0; i < n; i++) {
      const [a, b, c, d] = gaussian(300 + i, 4);
      images.set(image(1, 28, 28, (_, y, x) => a * Math.cos(0.7 * x) + b * Math.sin(0.7 * x) + c * Math.cos(1.3 * y) + d * Math.sin(1.3 * y)), i * 784);
    }
    assert.equal(defaultPatchStride(n, 28, 28, 5), 1);
    const dim = patchDimension(images, n, [1, 28, 28], 5);
    assert.ok(dim.participationRatio > 1 && dim.participationRatio <= 4 + 1e-6, String(dim.participationRatio));
    assert.ok(dim.components95 <= 4);
    for (const l of dim.eigenvalues.slice(4)) assert.ok(l < 1e-6 * dim.eigenvalues[0], String(l));
  });

  for (const C of [1, 3]) {
    test(`i.i.d. Gaussian noise (C = ${C}): participation ratio near d, components95 near ceil(0.95 d)`, () => {
      const n = C === 1 ? 8 : 4;
      const images = gaussian(400 + C, n * C * 64 * 64);
      const dim = patchDimension(images, n, [C, 64, 64], 4);
      const d = 16 * C;
      assert.equal(dim.patchDim, d);
      assert.ok(Math.abs(dim.participationRatio / d - 1) < 0.03, `${dim.participationRatio} vs ${d}`);
      // Equal eigenvalues need ceil(0.95 d) components; sampling spread can save one or two.
      const equal = Math.ceil(0.95 * d);
      assert.ok(dim.components95 <= equal && dim.components95 >= equal - Math.max(1, 0.03 * d), `${dim.components95} vs ${equal}`);
    });
  }

  test('default stride: 1 while patches are few, else p / 2 or more to stay under the cap', () => {
    assert.equal(defaultPatchStride(4, 28, 28, 4), 1);
    assert.equal(defaultPatchStride(8, 64, 64, 4), 2); // 8 * 61^2 = 29768 patches at stride 1
    const stride = defaultPatchStride(4, 256, 256, 16);
    assert.ok(stride >= 8);
    assert.ok(4 * (Math.floor(240 / stride) + 1) ** 2 <= 20_000);
    assert.equal(defaultPatchStride(4, 64, 64, 4, 100), 13);
  });

  test('no variance gives zeros, not NaN', () => {
    const dim = patchDimension(new Float32Array(2 * 3 * 8 * 8).fill(0.3), 2, [3, 8, 8], 4);
    assert.deepEqual(dim, { participationRatio: 0, components95: 0, patchDim: 48, eigenvalues: new Array(48).fill(0) });
    const points = pointDimension(new Float32Array(5 * 3).fill(-0.7), 5, 3);
    assert.deepEqual(points, { participationRatio: 0, components95: 0, patchDim: 3, eigenvalues: [0, 0, 0] });
  });

  test('rejects patches larger than the image and mismatched lengths', () => {
    assert.throws(() => patchDimension(new Float32Array(28 * 28), 1, [1, 28, 28], 32), /patch size/);
    assert.throws(() => patchDimension(new Float32Array(10), 1, [1, 28, 28], 4), /expected n \* C \* H \* W/);
  });
});

describe('spectrum', () => {
  /** |DFT|^2 of the mean-free channels by the 2D definition, summed over channels. */
  function naivePower(img: Float32Array, C: number, H: number, W: number): Float64Array {
    const power = new Float64Array(H * W);
    for (let c = 0; c < C; c++) {
      const ch = img.subarray(c * H * W, (c + 1) * H * W);
      const mean = ch.reduce((s, v) => s + v, 0) / (H * W);
      for (let ky = 0; ky < H; ky++) {
        for (let kx = 0; kx < W; kx++) {
          let re = 0;
          let im = 0;
          for (let y = 0; y < H; y++) {
            for (let x = 0; x < W; x++) {
              const angle = -2 * Math.PI * (((ky * y) % H) / H + ((kx * x) % W) / W);
              re += (ch[y * W + x] - mean) * Math.cos(angle);
              im += (ch[y * W + x] - mean) * Math.sin(angle);
            }
          }
          power[ky * W + kx] += re * re + im * im;
        }
      }
    }
    return power;
  }

  /** Expected share of white noise: non-DC bins beyond the cutoff over all non-DC bins. */
  function whiteNoiseShare(H: number, W: number, cutoff: number): number {
    let high = 0;
    for (let ky = -Math.ceil(H / 2) + 1; ky <= Math.floor(H / 2); ky++) {
      for (let kx = -Math.ceil(W / 2) + 1; kx <= Math.floor(W / 2); kx++) {
        if ((2 * ky / H) ** 2 + (2 * kx / W) ** 2 > cutoff ** 2) high++;
      }
    }
    return high / (H * W - 1);
  }

  for (const [C, H, W] of SHAPES) {
    test(`${C}x${H}x${W}: power spectrum is the DFT of the unpadded image`, () => {
      const img = gaussian(500 + H + W + C, C * H * W);
      const fast = powerSpectrum(img, C, H, W);
      const naive = naivePower(img, C, H, W);
      const scale = Math.max(...naive);
      for (let i = 0; i < H * W; i++) assert.ok(Math.abs(fast[i] - naive[i]) < 1e-9 * scale, `bin ${i}: ${fast[i]} vs ${naive[i]}`);
    });

    test(`${C}x${H}x${W}: white noise, smooth images, checkerboard, constant`, () => {
      const expected = whiteNoiseShare(H, W, 0.5);
      assert.ok(Math.abs(expected - (1 - Math.PI / 16)) < 0.03, `bin count ${expected} vs continuum ${1 - Math.PI / 16}`);
      let noise = 0;
      for (let s = 0; s < 16; s++) noise += highFrequencyShare(gaussian(600 + s, C * H * W), C, H, W) / 16;
      assert.ok(Math.abs(noise - expected) < 0.02, `${noise} vs ${expected}`);

      const wave = image(C, H, W, (c, y, x) => Math.cos(2 * Math.PI * (2 * x / W + y / H) + c));
      assert.ok(highFrequencyShare(wave, C, H, W) < 1e-9);
      const blob = image(C, H, W, (c, y, x) => (c + 1) * Math.exp(-((y - H / 2) ** 2 + (x - W / 2) ** 2) / (2 * 2.5 ** 2)));
      assert.ok(highFrequencyShare(blob, C, H, W) < 0.01);
      const checker = image(C, H, W, (c, y, x) => (c + 1) * ((x + y) % 2 ? -1 : 1));
      assert.ok(highFrequencyShare(checker, C, H, W) > 1 - 1e-9);
      assert.equal(highFrequencyShare(new Float32Array(C * H * W).fill(0.5), C, H, W), 0);
    });
  }

  test('a higher cutoff leaves less of white noise above it', () => {
    const img = gaussian(700, 32 * 32);
    assert.ok(highFrequencyShare(img, 1, 32, 32, 0.8) < highFrequencyShare(img, 1, 32, 32, 0.5));
    assert.equal(highFrequencyShare(img, 1, 32, 32, 0), 1);
  });
});

describe('projectToPlane', () => {
  test('P a + w with w orthogonal to the plane gives back a and |w|', () => {
    const D = 8;
    const [e0, e1, ...rest] = orthonormal(D, D, 800);
    const P = Array.from({ length: D }, (_, k) => [e0[k], e1[k]]);
    const n = 20;
    const a = gaussian(801, 2 * n);
    const w = gaussian(802, (D - 2) * n);
    const points = new Float32Array(n * D);
    const wNorm: number[] = [];
    for (let i = 0; i < n; i++) {
      let sq = 0;
      for (let k = 0; k < D; k++) {
        const off = rest.reduce((s, e, j) => s + w[i * (D - 2) + j] * e[k], 0);
        points[i * D + k] = a[2 * i] * e0[k] + a[2 * i + 1] * e1[k] + off;
      }
      for (let j = 0; j < D - 2; j++) sq += w[i * (D - 2) + j] ** 2;
      wNorm.push(Math.sqrt(sq));
    }
    const { plane, offPlane } = projectToPlane(points, P);
    assert.equal(plane.length, 2 * n);
    assert.equal(offPlane.length, n);
    for (let i = 0; i < 2 * n; i++) assert.ok(Math.abs(plane[i] - a[i]) < 1e-5, `${plane[i]} vs ${a[i]}`);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(offPlane[i] - wNorm[i]) < 1e-5, `${offPlane[i]} vs ${wNorm[i]}`);
  });

  test('rejects a P without orthonormal columns or of the wrong shape', () => {
    assert.throws(() => projectToPlane(new Float32Array(4), [[1, 1], [0, 1]]), /orthonormal/);
    assert.throws(() => projectToPlane(new Float32Array(3), [[1, 0], [0, 1]]), /multiple of D/);
  });
});

describe('computeMeasurements', () => {
  /** [frames, 4, n, 1, 28, 28]: x smooth (low-frequency waves), u and v noise, z their mix. */
  function syntheticImageFields(frames: number, n: number): Float32Array {
    const per = 28 * 28;
    const fields = new Float32Array(frames * 4 * n * per);
    for (let f = 0; f < frames; f++) {
      const t = 1 - f / Math.max(frames - 1, 1);
      for (let i = 0; i < n; i++) {
        const [a, b, c, phase] = gaussian(900 + f * n + i, 4);
        const x = image(1, 28, 28, (_, y, xx) => 0.5 * Math.tanh(a * Math.cos(2 * Math.PI * xx / 28 + phase) + b * Math.sin(2 * Math.PI * y / 28) + c * Math.cos(2 * Math.PI * (xx + y) / 28)));
        const e = gaussian(2000 + f * n + i, per);
        const z = x.map((xi, j) => (1 - t) * xi + t * e[j]);
        const u = e.map((ej, j) => ej - x[j]);
        const v = gaussian(3000 + f * n + i, per).map((vj, j) => vj - x[j]);
        [z, x, u, v].forEach((field, k) => fields.set(field, ((f * 4 + k) * n + i) * per));
      }
    }
    return fields;
  }

  test('images: x has far lower patch dimension and high-frequency share than u and v', () => {
    const frames = 3;
    const n = 4;
    const m = computeMeasurements(syntheticImageFields(frames, n), frames, n, [1, 28, 28], { patchSize: 4, kind: 'image' });
    Measurements.parse({ ...m, ms: 0 }); // the protocol's schema
    assert.equal(m.patchDim, 16);
    assert.equal(m.offPlaneNorm, undefined);
    for (const key of ['rms', 'participationRatio', 'components95', 'highFrequencyShare'] as const) {
      for (const name of ['z', 'x', 'u', 'v'] as const) assert.equal(m[key][name].length, frames);
    }
    for (let f = 0; f < frames; f++) {
      for (const name of ['u', 'v'] as const) {
        assert.ok(m.participationRatio.x[f] < m.participationRatio[name][f] / 3, `PR x ${m.participationRatio.x[f]} vs ${name} ${m.participationRatio[name][f]}`);
        assert.ok(m.components95.x[f] < m.components95[name][f]);
        assert.ok(m.highFrequencyShare.x[f] < 0.1 && m.highFrequencyShare[name][f] > 0.7);
        assert.ok(Math.abs(m.rms[name][f] - Math.hypot(1, m.rms.x[f])) < 0.1);
      }
    }
    assert.ok(m.participationRatio.z[0] > 12 && m.participationRatio.z[frames - 1] < m.participationRatio.u[frames - 1] / 3); // z_1 noise, z_0 = x
  });

  test('toys: x on the plane, u and v off it; plane view [frames, 4, n, 2] and [frames, 4, n]', () => {
    const D = 8;
    const [e0, e1] = orthonormal(2, D, 1000);
    const P = Array.from({ length: D }, (_, k) => [e0[k], e1[k]]);
    const frames = 2;
    const n = 50;
    const fields = new Float32Array(frames * 4 * n * D);
    for (let f = 0; f < frames; f++) {
      for (let i = 0; i < n; i++) {
        const [a, b] = gaussian(1100 + f * n + i, 2);
        const x = Float32Array.from(e0, (e, k) => a * e + b * e1[k]);
        const noise = gaussian(1200 + f * n + i, 3 * D);
        [noise.subarray(0, D), x, noise.subarray(D, 2 * D), noise.subarray(2 * D)]
          .forEach((field, k) => fields.set(field, ((f * 4 + k) * n + i) * D));
      }
    }
    const m = computeMeasurements(fields, frames, n, [D], { patchSize: 4, kind: 'toy', embedding: P });
    Measurements.parse({ ...m, ms: 0 });
    assert.equal(m.patchDim, D);
    assert.ok(m.offPlaneNorm !== undefined);
    for (let f = 0; f < frames; f++) {
      assert.ok(m.offPlaneNorm.x[f] < 1e-5);
      assert.ok(m.offPlaneNorm.u[f] > 1.5 && m.offPlaneNorm.v[f] > 1.5); // E|w| for 6 of 8 noise dims is about 2.3
      assert.ok(m.participationRatio.x[f] <= 2 + 1e-6 && m.components95.x[f] <= 2);
      assert.ok(m.participationRatio.u[f] > 5);
      for (const name of ['z', 'x', 'u', 'v'] as const) assert.equal(m.highFrequencyShare[name][f], 0);
    }
    const view = toyPlaneView(fields, frames, n, D, P);
    assert.equal(view.plane.length, frames * 4 * n * 2);
    assert.equal(view.offPlane.length, frames * 4 * n);
    const xFirst = (0 * 4 + 1) * n; // frame 0, field x, sample 0
    const [a, b] = gaussian(1100, 2);
    assert.ok(Math.abs(view.plane[2 * xFirst] - a) < 1e-5 && Math.abs(view.plane[2 * xFirst + 1] - b) < 1e-5);
    assert.throws(() => computeMeasurements(fields, frames, n, [D], { patchSize: 4, kind: 'toy' }), /embedding/);
  });

  test('frame by frame (FrameMeasurer, appendFrame) gives the series computeMeasurements gives; bad frames are refused', () => {
    const frames = 3;
    const n = 4;
    const fields = syntheticImageFields(frames, n);
    const all = computeMeasurements(fields, frames, n, [1, 28, 28], { patchSize: 4, kind: 'image' });
    const measurer = new FrameMeasurer(n, [1, 28, 28], { patchSize: 4, kind: 'image' });
    const series = measurer.series();
    assert.equal(series.patchDim, 16);
    assert.equal(series.offPlaneNorm, undefined);
    for (let f = 0; f < frames; f++) appendFrame(series, measurer.measure(fields.subarray(f * 4 * n * 784, (f + 1) * 4 * n * 784)));
    assert.deepEqual(series, all);
    assert.throws(() => measurer.measure(new Float32Array(10)), /expected 4 \* n \* per = 12544/);
    assert.throws(() => new FrameMeasurer(n, [1, 28, 28], { patchSize: 29, kind: 'image' }), /patch size must be an integer in \[1, 28\]/);
    assert.ok(emptySeries(2, 'toy').offPlaneNorm, 'toy series carry the off-plane norm');
  });
});

test('pointDimension with fewer points than dimensions (Gram path) matches the covariance path', () => {
  // 40 points on a 3-dim subspace of R^60 (Gram path) and the same cloud in R^3 (covariance path).
  const m = 40;
  const k = 3;
  const d = 60;
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const basis = Array.from({ length: k }, (_, i) => Array.from({ length: d }, (_, j) => (j === i * 7 ? 1 : 0)));
  const low = new Float32Array(m * k).map(() => rand());
  const high = new Float32Array(m * d);
  for (let i = 0; i < m; i++) for (let a = 0; a < k; a++) for (let j = 0; j < d; j++) high[i * d + j] += low[i * k + a] * basis[a][j];
  const g = pointDimension(high, m, d);
  const c = pointDimension(low, m, k);
  assert.equal(g.patchDim, d);
  assert.ok(Math.abs(g.participationRatio - c.participationRatio) < 1e-6, `${g.participationRatio} vs ${c.participationRatio}`);
  assert.equal(g.components95, c.components95);
});
