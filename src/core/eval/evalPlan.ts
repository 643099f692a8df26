// What sample i of an evaluation run is, and how its pixels reach the feature network: the rules
// every shard applies, so that n machines running `pmf eval --shard k/n` make exactly the images
// of one run.

/** Sample i's noise seed: (seed + i) mod 2^32. */
export function sampleSeed(seed: number, i: number): number {
  return (seed + i) % 2 ** 32;
}

/** Sample i's class: i mod C for a class-conditional model (balanced classes), C (unconditional) otherwise. */
export function sampleClass(i: number, numClasses: number): number {
  return numClasses > 0 ? i % numClasses : 0;
}

/** The rule above in words, for the protocol every score is saved with. */
export const SAMPLE_RULE = 'sample i: noise seed (seed + i) mod 2^32, class i mod num_classes';
/** The pixel conversion, in words (the same as a saved PNG's). */
export const UINT8_RULE = 'uint8 = clip(floor((x - lo) * 255 / (hi - lo) + 0.5), 0, 255), fed to the network as float levels 0..255';

/**
 * Generated samples [n, C, H, W] in the data range [lo, hi] -> 8-bit levels as float32, for a
 * feature network with `netChannels` channels: rounded half up and clipped exactly as a saved PNG
 * (core/image toUint8HWC), a grey model's channel repeated for a colour network.
 */
export function toLevels(samples: Float32Array, n: number, shape: readonly number[], dataRange: readonly [number, number],
  netChannels: number): Float32Array {
  const [C, H, W] = shape;
  const plane = H * W;
  if (samples.length !== n * C * plane) throw new RangeError(`expected ${n} samples of ${C}x${H}x${W}, got ${samples.length} values`);
  if (netChannels !== C && !(C === 1 && netChannels === 3)) {
    throw new RangeError(`the feature network takes ${netChannels}-channel images; the model makes ${C}-channel ones`);
  }
  const [lo, hi] = dataRange;
  const scale = 255 / (hi - lo);
  const out = new Float32Array(n * netChannels * plane);
  for (let s = 0; s < n; s++) {
    for (let c = 0; c < netChannels; c++) {
      const src = (s * C + (C === 1 ? 0 : c)) * plane;
      const dst = (s * netChannels + c) * plane;
      for (let p = 0; p < plane; p++) {
        const v = Math.floor((samples[src + p] - lo) * scale + 0.5);
        out[dst + p] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return out;
}

/** The most 8-bit levels (float32 bytes) of the feature network's input per run: see featureBatch. */
export const FEATURE_BATCH_BYTES = 16 * 2 ** 20;

/**
 * How many images the feature network runs on at once: as many as fit FEATURE_BATCH_BYTES of
 * float32 levels, at most 256 and at least `minBatch`, counting an image at the size the graph
 * resizes it to when it says so (`resize` "bilinear-299": Inception's activations grow with the
 * 299x299 image, not the input's). A small CNN on 28x28 runs about twice as fast per image at
 * 256 as at 64; Inception-v3 is no faster past a few images (batch 4 or 16 against 85 at
 * 256x256, 2 threads: 54-153 and 57-90 against 117-209 ms per image, on a shared machine) and its
 * peak RSS grows about 30 MB per image (0.4 GB at 4, 2.7 GB at 85), so such images run 15 at a time.
 */
export function featureBatch(channels: number, size: readonly [number, number], resize: string, minBatch = 1): number {
  const m = /^[a-z]+-(\d+)$/i.exec(resize);
  const [h, w] = m ? [Math.max(size[0], Number(m[1])), Math.max(size[1], Number(m[1]))] : size;
  const fit = Math.floor(FEATURE_BATCH_BYTES / (4 * channels * h * w));
  return Math.max(1, Math.floor(minBatch), Math.min(256, fit));
}

/** Softmax of each row of logits (n x K), in float64 (max-subtracted). */
export function softmaxRows(logits: Float32Array, k: number): Float64Array {
  const n = logits.length / k;
  const out = new Float64Array(logits.length);
  for (let s = 0; s < n; s++) {
    let mx = -Infinity;
    for (let c = 0; c < k; c++) mx = Math.max(mx, logits[s * k + c]);
    let z = 0;
    for (let c = 0; c < k; c++) z += (out[s * k + c] = Math.exp(logits[s * k + c] - mx));
    for (let c = 0; c < k; c++) out[s * k + c] /= z;
  }
  return out;
}
