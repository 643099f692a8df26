// Inception Score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))), from the classifier's
// class probabilities of the generated samples. As in the usual implementations (OpenAI's
// improved-GAN code, torch-fidelity, guided-diffusion's evaluator): the N samples are cut, in
// order, into `splits` parts of floor(N / splits) samples (a remainder is left out), p(y) is the
// mean of the probabilities within each part, and the score is the mean and the (population)
// standard deviation over the parts of exp(mean KL). 0·log 0 counts as 0.

export interface InceptionScore {
  mean: number;
  std: number;
  splits: number;
  /** Samples used (splits · floor(N / splits)). */
  used: number;
}

/** probs: N x classes, row-major (each row a probability vector: softmax outputs). */
export function inceptionScore(probs: Float32Array | Float64Array, classes: number, splits = 10): InceptionScore {
  if (!Number.isInteger(classes) || classes < 1 || probs.length % classes !== 0) throw new RangeError(`${probs.length} probabilities is not a whole number of ${classes}-class rows`);
  const n = probs.length / classes;
  if (!Number.isInteger(splits) || splits < 1 || n < splits) throw new RangeError(`${n} samples cannot be cut into ${splits} splits`);
  for (let i = 0; i < probs.length; i++) {
    if (!(probs[i] >= 0 && probs[i] <= 1)) throw new RangeError(`probability ${probs[i]} (sample ${Math.floor(i / classes)}) is not in [0, 1]`);
  }
  const part = Math.floor(n / splits);
  const scores: number[] = [];
  const py = new Float64Array(classes);
  for (let k = 0; k < splits; k++) {
    py.fill(0);
    for (let s = k * part; s < (k + 1) * part; s++) for (let c = 0; c < classes; c++) py[c] += probs[s * classes + c];
    for (let c = 0; c < classes; c++) py[c] /= part;
    let kl = 0;
    for (let s = k * part; s < (k + 1) * part; s++) {
      for (let c = 0; c < classes; c++) {
        const p = probs[s * classes + c];
        if (p > 0) kl += p * (Math.log(p) - Math.log(py[c]));
      }
    }
    scores.push(Math.exp(kl / part));
  }
  const mean = scores.reduce((a, b) => a + b, 0) / splits;
  const std = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / splits);
  return { mean, std, splits, used: part * splits };
}
