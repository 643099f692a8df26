// The four fields of a trajectory and how their values lie in one flat Float32Array:
//   [frames, 4, n, per]  for each frame the z_t, x, u, v of n samples, `per` values each
//   (per = product of the sample shape; a toy's data-plane view has per = 2, its off-plane norms per = 1).
// Every reader of such an array (engine, extension, webview, CLI) goes through FieldLayout, so the
// index arithmetic lives here once.

export const FIELD_NAMES = ['z', 'x', 'u', 'v'] as const;
export type FieldName = (typeof FIELD_NAMES)[number];

/** The values of one sample: the product of a sample shape ([C, H, W] or [D]). */
export function valuesPerSample(sampleShape: readonly number[]): number {
  return sampleShape.reduce((a, b) => a * b, 1);
}

export class FieldLayout {
  /** Values of one field of one frame (n samples). */
  readonly fieldSize: number;
  /** Values of one frame (4 fields). */
  readonly frameSize: number;

  constructor(readonly n: number, readonly per: number) {
    this.fieldSize = n * per;
    this.frameSize = 4 * n * per;
  }

  static of(n: number, sampleShape: readonly number[]): FieldLayout {
    return new FieldLayout(n, valuesPerSample(sampleShape));
  }

  /** How many whole frames `values` values are (NaN when they do not split into frames). */
  framesIn(values: number): number {
    return values % this.frameSize === 0 ? values / this.frameSize : NaN;
  }

  /** Frames start..start+count-1 of `data` ([count, 4, n, per]), a view. */
  frames(data: Float32Array, start: number, count = 1): Float32Array {
    return data.subarray(start * this.frameSize, (start + count) * this.frameSize);
  }

  /** Field k (0 z, 1 x, 2 u, 3 v) of frame f, [n, per], a view. */
  field(data: Float32Array, f: number, k: number): Float32Array {
    const o = (f * 4 + k) * this.fieldSize;
    return data.subarray(o, o + this.fieldSize);
  }

  /** Sample s of field k of frame f, [per], a view. */
  sample(data: Float32Array, f: number, k: number, s: number): Float32Array {
    const o = ((f * 4 + k) * this.n + s) * this.per;
    return data.subarray(o, o + this.per);
  }

  /** Index of value i of sample s of field k of frame f. */
  index(f: number, k: number, s: number, i = 0): number {
    return ((f * 4 + k) * this.n + s) * this.per + i;
  }
}
