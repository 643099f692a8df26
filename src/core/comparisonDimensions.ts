// The effective dimension "pMF: Compare Models" shows along t: the participation ratio of the
// p x p patches a model's network sees (its tokens: non-overlapping, stride p), pooled over the
// samples, of x and of u at each frame. The Field Visualizer's measure (core/analysis
// patchDimension) at the tokens' stride, computed without an eigendecomposition:
// PR = (sum l)^2 / sum l^2 = tr(S)^2 / ||S||_F^2 for the covariance S, so a 112 x 112 model's
// 16 x 16 patches (dimension 256) take a fraction of a second per model along all of t.
import { valuesPerSample } from './fieldLayout';

export interface TokenDimensions {
  /** Participation ratio of x's tokens, per frame (1 .. p * p * C). */
  x: number[];
  /** The same of u. */
  u: number[];
  /** p * p * C: the most either can be. */
  patchDim: number;
}

/**
 * The participation ratio of the tokens of n images [n, C, H, W] (the p x p x C patches at
 * stride p, vectors ordered channel, row, column): between 1 and p * p * C, 0 without variance.
 */
export function tokenDimension(images: Float32Array, n: number, sampleShape: readonly number[], patchSize: number): number {
  const [C, H, W] = sampleShape;
  const p = patchSize;
  if (!Number.isInteger(p) || p < 1 || p > Math.min(H, W)) throw new RangeError(`patch size must be an integer in [1, ${Math.min(H, W)}], got ${p}`);
  if (images.length !== n * C * H * W) throw new RangeError(`images hold ${images.length} values, expected n * C * H * W = ${n * C * H * W}`);
  const d = C * p * p;
  const rows = Math.floor(H / p);
  const cols = Math.floor(W / p);
  const m = n * rows * cols;
  // the tokens, centred
  const X = new Float64Array(m * d);
  const mean = new Float64Array(d);
  let t = 0;
  for (let i = 0; i < n; i++) {
    for (let ty = 0; ty < rows; ty++) {
      for (let tx = 0; tx < cols; tx++, t++) {
        let k = 0;
        for (let c = 0; c < C; c++) {
          for (let dy = 0; dy < p; dy++) {
            const o = ((i * C + c) * H + ty * p + dy) * W + tx * p;
            for (let dx = 0; dx < p; dx++, k++) X[t * d + k] = images[o + dx];
          }
        }
        for (k = 0; k < d; k++) mean[k] += X[t * d + k];
      }
    }
  }
  for (let k = 0; k < d; k++) mean[k] /= m;
  for (let j = 0; j < m; j++) for (let k = 0; k < d; k++) X[j * d + k] -= mean[k];
  // m S = X^T X (upper triangle); the 1 / m cancels in the ratio
  const S = new Float64Array(d * d);
  for (let j = 0; j < m; j++) {
    const o = j * d;
    for (let a = 0; a < d; a++) {
      const xa = X[o + a];
      if (xa === 0) continue;
      const row = a * d;
      for (let b = a; b < d; b++) S[row + b] += xa * X[o + b];
    }
  }
  let trace = 0;
  let frob = 0;
  for (let a = 0; a < d; a++) {
    trace += S[a * d + a];
    frob += S[a * d + a] ** 2;
    for (let b = a + 1; b < d; b++) frob += 2 * S[a * d + b] ** 2;
  }
  // a field holding +-Inf gives Inf / Inf: report 0 (no finite dimension) rather than NaN, which the protocol refuses
  return Number.isFinite(trace) && Number.isFinite(frob) && trace > 0 && frob > 0 ? (trace * trace) / frob : 0;
}

/**
 * Frames of x and u ([frames, n, ...sampleShape] each), measured frame by frame: onFrame sees
 * each frame's two numbers as they are done (the caller may stop between frames by throwing).
 */
export function tokenDimensions(x: Float32Array, u: Float32Array, frames: number, n: number, sampleShape: readonly number[],
  patchSize: number, onFrame?: (frame: number, dimX: number, dimU: number) => void): TokenDimensions {
  if (sampleShape.length !== 3) throw new RangeError(`image sampleShape must be [C, H, W], got [${sampleShape.join(', ')}]`);
  const block = n * valuesPerSample(sampleShape);
  if (x.length !== frames * block || u.length !== frames * block) {
    throw new RangeError(`x and u hold ${x.length} and ${u.length} values, expected frames * n * per = ${frames * block}`);
  }
  const out: TokenDimensions = { x: [], u: [], patchDim: patchSize * patchSize * sampleShape[0] };
  for (let f = 0; f < frames; f++) {
    const dx = tokenDimension(x.subarray(f * block, (f + 1) * block), n, sampleShape, patchSize);
    const du = tokenDimension(u.subarray(f * block, (f + 1) * block), n, sampleShape, patchSize);
    out.x.push(dx);
    out.u.push(du);
    onFrame?.(f, dx, du);
  }
  return out;
}
