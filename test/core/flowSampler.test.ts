// The flow-matching sampler (src/core/flowSampler.ts) against closed forms: a linear field, where
// Euler's and Heun's N-step results are known polynomials, and Gaussian data, where the exact v
// carries z_1 to mu + s z_1; the error orders (1 and 2); two-pass guidance; the evaluations.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PmfModelInfo } from '../../src/core/checkpoint/types';
import { flowSample, flowVelocity, integrate, solverEvaluations } from '../../src/core/flowSampler';
import { CancelledError, type Feeds, validateSampling } from '../../src/core/sampler';
import { gaussianInfo, MU, S, sig } from '../helpers/gaussian';

/** A flow-matching model on D = 3 points, with the given output and inputs. */
function fmInfo(declared: 'x' | 'v', extra: Partial<PmfModelInfo> = {}): PmfModelInfo {
  return gaussianInfo(declared === 'x' ? 'x' : 'u', ['z', 't'], { modelType: 'flow-matching', declaredPrediction: declared,
    defaultSolver: 'euler', ...extra });
}

/** Gaussian data x ~ N(mu, s^2): the exact v(z_t, t) = (z_t - E[x | z_t]) / t, as an x or v output; reads t only. */
function gaussianFm(declared: 'x' | 'v', calls: Feeds[] = []) {
  return async (feeds: Feeds) => {
    calls.push(feeds);
    assert.equal(feeds.h, undefined, 'a flow-matching model is never fed h');
    const z = feeds.z!.data as Float32Array;
    const t = feeds.t!.data as Float32Array;
    const per = z.length / t.length;
    return Float32Array.from(z, (zj, j) => {
      const ti = t[Math.floor(j / per)];
      const x = MU + ((1 - ti) * S * S / sig(ti) ** 2) * (zj - (1 - ti) * MU);
      return declared === 'x' ? x : (zj - x) / ti;
    });
  };
}

const Z1 = Float32Array.from([1.2, -0.7, 0.1, 2.0, -1.5, 0.0]);
const noGuidance = { omega: 1, tMin: 0, tMax: 1 };
const maxErr = (z0: Float32Array) => Math.max(...Array.from(z0, (v, j) => Math.abs(v - (MU + S * Z1[j]))));

describe('integrate: closed forms of a linear field dz/dt = a z', () => {
  const a = 1.5;
  const linear = async (z: Float32Array) => Float32Array.from(z, (v) => a * v);
  const z1 = Float32Array.from([1, -2]);
  for (const steps of [1, 4, 16]) {
    test(`${steps} step(s): Euler gives (1 - a h)^N z_1, Heun (1 - a h + (a h)^2 / 2)^(N-1) (1 - a h) z_1`, async () => {
      const h = 1 / steps;
      const euler = await integrate(linear, z1, 1, 0, steps, 'euler');
      const heun = await integrate(linear, z1, 1, 0, steps, 'heun');
      const fe = (1 - a * h) ** steps;
      const fh = (1 - a * h + (a * h) ** 2 / 2) ** (steps - 1) * (1 - a * h);
      z1.forEach((v, j) => {
        assert.ok(Math.abs(euler[j] - fe * v) < 1e-5, `euler ${euler[j]} vs ${fe * v}`);
        assert.ok(Math.abs(heun[j] - fh * v) < 1e-5, `heun ${heun[j]} vs ${fh * v}`);
      });
    });
  }

  test('the errors against z_1 e^-a shrink as h for Euler and as h^2 for Heun', async () => {
    const err = async (steps: number, solver: 'euler' | 'heun') =>
      Math.abs((await integrate(linear, Float32Array.of(1), 1, 0, steps, solver))[0] - Math.exp(-a));
    const eulerRatio = (await err(32, 'euler')) / (await err(64, 'euler'));
    const heunRatio = (await err(32, 'heun')) / (await err(64, 'heun'));
    assert.ok(Math.abs(eulerRatio - 2) < 0.1, `Euler error ratio ${eulerRatio}`);
    assert.ok(Math.abs(heunRatio - 4) < 0.3, `Heun error ratio ${heunRatio}`);
  });

  test('integrating between any two times: t = 0.8 to 0.3', async () => {
    const z = await integrate(linear, Float32Array.of(2), 0.8, 0.3, 256, 'heun');
    assert.ok(Math.abs(z[0] - 2 * Math.exp(-a * 0.5)) < 1e-5);
  });
});

describe('flowSample on the exact v of Gaussian data', () => {
  for (const declared of ['x', 'v'] as const) {
    // Up to 16 steps every evaluated t is >= 1/16 > t_eps, where the clamp leaves v exact.
    test(`${declared} output: toward mu + s z_1, Euler's error halving and Heun's quartering from 8 to 16 steps`, async () => {
      const info = fmInfo(declared);
      const run = async (steps: number, solver: 'euler' | 'heun') =>
        maxErr(await flowSample(gaussianFm(declared), info, Z1, 2, noGuidance, steps, solver));
      const [e8, e16, h8, h16] = [await run(8, 'euler'), await run(16, 'euler'), await run(8, 'heun'), await run(16, 'heun')];
      assert.ok(Math.abs(e8 / e16 - 2) < 0.3, `Euler errors ${e8}, ${e16}`);
      assert.ok(Math.abs(h8 / h16 - 4) < 0.7, `Heun errors ${h8}, ${h16}`);
      assert.ok(h16 < 1e-2 && h16 < e16 / 10, `Heun ${h16} vs Euler ${e16}`);
    });
  }

  test('Euler evaluates N times on linspace(1, 0, N + 1), Heun 2N - 1 times (also at each step\'s r), feeding z and t only', async () => {
    const calls: Feeds[] = [];
    await flowSample(gaussianFm('x', calls), fmInfo('x'), Z1, 2, noGuidance, 4, 'euler');
    assert.deepEqual(calls.map((c) => c.t!.data[0]), [1, 0.75, 0.5, 0.25]);
    assert.deepEqual(Object.keys(calls[0]).sort(), ['t', 'z']);
    calls.length = 0;
    await flowSample(gaussianFm('x', calls), fmInfo('x'), Z1, 2, noGuidance, 4, 'heun');
    assert.equal(calls.length, solverEvaluations(4, 'heun'));
    assert.deepEqual(calls.map((c) => c.t!.data[0]), [1, 0.75, 0.75, 0.5, 0.5, 0.25, 0.25]);
  });

  test('cancellation stops between evaluations; progress counts steps', async () => {
    const ac = new AbortController();
    const seen: number[] = [];
    await assert.rejects(flowSample(gaussianFm('x'), fmInfo('x'), Z1, 2, noGuidance, 4, 'heun', {
      signal: ac.signal, onStep: (d) => { seen.push(d); if (d === 2) ac.abort(); },
    }), CancelledError);
    assert.deepEqual(seen, [1, 2]);
  });

  test('a MeanFlow model is refused', () => {
    assert.throws(() => flowVelocity(gaussianFm('x'), gaussianInfo('x', ['z', 't', 'h']), 2, noGuidance), /not a flow-matching one/);
  });
});

describe('guidance', () => {
  // x = c_y for class y (the null class 2: x = 0), so v = (z - c_y) / t per class.
  const centre = [0.5, -1, 0];
  const classModel = (calls: Feeds[]) => async (feeds: Feeds) => {
    calls.push(feeds);
    const y = feeds.y!.data as BigInt64Array;
    const per = (feeds.z!.data as Float32Array).length / y.length;
    return Float32Array.from(feeds.z!.data as Float32Array, (_, j) => centre[Number(y[Math.floor(j / per)])]);
  };
  const twoPass = fmInfo('x', { inputs: ['z', 't', 'y'], numClasses: 2, classNames: ['a', 'b'], guidance: 'two-pass' });

  test('two-pass: v = v_uncond + omega (v_cond - v_uncond) inside [t_min, t_max] from one call on 2n rows, v_cond outside', async () => {
    const calls: Feeds[] = [];
    const cond = { labels: [0, 1], omega: 3, tMin: 0.2, tMax: 0.6 };
    const v = flowVelocity(classModel(calls), twoPass, 2, cond);
    const z = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const inside = await v(z, 0.5);
    assert.equal(calls.at(-1)!.z!.dims[0], 4);
    assert.deepEqual(Array.from(calls.at(-1)!.y!.data as BigInt64Array), [0n, 1n, 2n, 2n]);
    z.forEach((zj, j) => {
      const c = centre[j < 3 ? 0 : 1];
      const expected = zj / 0.5 + 3 * ((zj - c) / 0.5 - zj / 0.5);
      assert.ok(Math.abs(inside[j] - expected) < 1e-5, `${inside[j]} vs ${expected}`);
    });
    const outside = await v(z, 0.8);
    assert.equal(calls.at(-1)!.z!.dims[0], 2);
    z.forEach((zj, j) => assert.ok(Math.abs(outside[j] - (zj - centre[j < 3 ? 0 : 1]) / 0.8) < 1e-5));
  });

  test('two-pass at omega 1, or for unconditional samples, is one pass', async () => {
    const calls: Feeds[] = [];
    await flowVelocity(classModel(calls), twoPass, 2, { labels: [0, 1], omega: 1, tMin: 0, tMax: 1 })(new Float32Array(6), 0.5);
    await flowVelocity(classModel(calls), twoPass, 2, { labels: [2, 2], omega: 3, tMin: 0, tMax: 1 })(new Float32Array(6), 0.5);
    assert.deepEqual(calls.map((c) => c.z!.dims[0]), [2, 2]);
  });

  test('CFG inputs are fed as the MeanFlow models take them; omega is checked for both kinds of guidance', async () => {
    const withInputs = fmInfo('x', { inputs: ['z', 't', 'y', 'omega', 't_min', 't_max'], numClasses: 2, hasCfg: true, guidance: 'inputs' });
    const calls: Feeds[] = [];
    await flowVelocity(classModel(calls), withInputs, 1, { labels: [1], omega: 2.5, tMin: 0.1, tMax: 0.9 })(new Float32Array(3), 0.5);
    assert.deepEqual(Object.keys(calls[0]), ['z', 't', 'y', 'omega', 't_min', 't_max']);
    assert.equal(calls[0].omega!.data[0], 2.5);
    for (const info of [withInputs, twoPass]) {
      assert.throws(() => validateSampling(info, { steps: 4, omega: 0.5, tMin: 0, tMax: 1 }), /omega must be >= 1/);
    }
  });
});
