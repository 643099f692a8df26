// The exact pMF fields of Gaussian data, as a network: known answers for sampler and trajectory tests.
// Data x ~ N(mu, s^2) per dimension, noise N(0, 1):
//   u(z_t, r, t) = (z_t - z_r) / (t - r),  z_r = (1 - r) mu + sig(r) / sig(t) (z_t - (1 - t) mu),
//   sig(t)^2 = (1 - t)^2 s^2 + t^2,  v(z_t, t) = (z_t - E[x | z_t]) / t.
// With the exact u the sampler lands on the ODE end point z_0 = mu + s z_1 for any number of steps.
import type { PmfModelInfo } from '../../src/core/checkpoint/types';
import type { Feeds } from '../../src/core/sampler';

export const MU = 0.3;
export const S = 0.5;
export const sig = (t: number) => Math.sqrt((1 - t) ** 2 * S * S + t * t);

export function gaussianInfo(prediction: 'x' | 'u', inputs: PmfModelInfo['inputs'], extra: Partial<PmfModelInfo> = {}): PmfModelInfo {
  return {
    formatVersion: 1, name: 'gaussian', description: '', prediction, declaredPrediction: prediction, modelType: 'mean-flow', kind: 'toy', dataRange: [-2, 2], noiseScale: 1,
    tEps: 0.05, numClasses: 0, classNames: [], dim: 3, defaultSampling: { steps: 1, omega: 1, tMin: 0, tMax: 1 },
    architecture: {}, training: {}, inputs, inputSpecs: [], outputSpec: { name: prediction, elemType: 'float32', dims: [] },
    sampleShape: [3], hasCfg: false, guidance: 'none', warnings: [], metadata: {}, ...extra,
  };
}

/** The exact field as an evaluator, for either prediction type; reads t and h from the feeds. */
export function exactEvaluator(prediction: 'x' | 'u', calls: Feeds[] = [], delta = 0) {
  return async (feeds: Feeds) => {
    calls.push(feeds);
    const z = feeds.z!.data as Float32Array;
    const t = feeds.t!.data as Float32Array;
    const h = feeds.h!.data as Float32Array;
    const per = z.length / t.length;
    const out = new Float32Array(z.length);
    for (let i = 0; i < t.length; i++) {
      const ti = t[i];
      const ri = ti - h[i];
      for (let j = i * per; j < (i + 1) * per; j++) {
        let u: number;
        if (ti - ri > 1e-7) {
          const zr = (1 - ri) * MU + (sig(ri) / sig(ti)) * (z[j] - (1 - ti) * MU);
          u = (z[j] - zr) / (ti - ri);
        } else {
          const post = MU + ((1 - ti) * S * S / sig(ti) ** 2) * (z[j] - (1 - ti) * MU);
          u = (z[j] - post) / Math.max(ti, 1e-6);
        }
        u += delta;
        out[j] = prediction === 'u' ? u : z[j] - Math.max(ti, 0.05) * u;
      }
    }
    return out;
  };
}
