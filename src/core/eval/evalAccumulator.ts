// Everything an evaluation run keeps about its samples, mergeable exactly across shards:
//   - the features' sufficient statistics (FeatureStatistics: exact, order-independent);
//   - with class logits: per class, how many samples the network assigns to the class they were
//     generated for (class-consistency; integer counts), and the Inception Score's per-split sums
//     (Σ p(y|x) and Σ p log p over each split's samples, in ExactSums: order-independent);
//   - the features of the first `keep` sample indices (precision/recall, density/coverage need
//     the samples themselves; a fixed subset keeps the shard files and the k-NN search small).
// A sample is identified by its global index i, so one run and any set of shards covering
// the same indices give bit-identical totals.
import { ExactSums } from './exactSum';
import { FeatureStatistics, type StatisticsSnapshot } from './featureStatistics';

export interface EvalAccumulatorOptions {
  /** Samples in the whole run (fixes the Inception Score's splits). */
  total: number;
  featureDim: number;
  /** Classes of the logits (0: the network has none). */
  logitClasses: number;
  /** Classes the samples were generated for (0: unconditional model). */
  modelClasses: number;
  /** Sample indices below this keep their features (precision/recall, density/coverage). */
  keep: number;
  splits: number;
  blockSize?: number;
}

/** Plain data for saving (see EvalAccumulator.fromSnapshot). */
export interface EvalSnapshot {
  options: Required<EvalAccumulatorOptions>;
  statistics: StatisticsSnapshot;
  /** [modelClasses]: samples of each generated class, and those the network put in it. */
  classTotal: Float64Array;
  classCorrect: Float64Array;
  /** Samples counted in each split, and the splits' exact sums' limbs: Σ p [splits x 4·K] and Σ p log p [splits x 4]. */
  splitCount: Float64Array;
  splitProbLimbs: Float64Array;
  splitEntropyLimbs: Float64Array;
  keptIndices: Float64Array;
  keptFeatures: Float32Array;
}

export class EvalAccumulator {
  readonly statistics: FeatureStatistics;
  readonly options: Required<EvalAccumulatorOptions>;
  private readonly classTotal: Float64Array;
  private readonly classCorrect: Float64Array;
  private readonly splitCount: Float64Array;
  private readonly splitProb: ExactSums[];
  private readonly splitEntropy: ExactSums[];
  private readonly kept = new Map<number, Float32Array>();
  private readonly part: number;

  constructor(opts: EvalAccumulatorOptions) {
    this.options = { blockSize: 1024, ...opts };
    const o = this.options;
    if (!Number.isSafeInteger(o.total) || o.total < 2) throw new RangeError(`an evaluation needs at least 2 samples, got ${o.total}`);
    if (!Number.isInteger(o.splits) || o.splits < 1) throw new RangeError(`splits must be a positive integer, got ${o.splits}`);
    this.statistics = new FeatureStatistics(o.featureDim, o.blockSize);
    this.classTotal = new Float64Array(o.modelClasses);
    this.classCorrect = new Float64Array(o.modelClasses);
    this.part = Math.floor(o.total / o.splits);
    const splits = o.logitClasses > 0 && this.part > 0 ? o.splits : 0;
    this.splitCount = new Float64Array(splits);
    this.splitProb = Array.from({ length: splits }, () => new ExactSums(o.logitClasses));
    this.splitEntropy = Array.from({ length: splits }, () => new ExactSums(1));
  }

  get count(): number {
    return this.statistics.count;
  }

  /**
   * Adds samples firstIndex .. firstIndex + n - 1: features n x D; probs n x K (softmax of the
   * logits) or undefined; classes[s]: the class sample s was generated for.
   */
  add(firstIndex: number, features: Float32Array, probs: Float64Array | undefined, classes: readonly number[]): void {
    const { featureDim: d, logitClasses: k, modelClasses, keep, total } = this.options;
    const n = features.length / d;
    if (!Number.isInteger(n) || n !== classes.length) throw new RangeError(`${features.length} feature values for ${classes.length} samples of ${d}`);
    if (firstIndex < 0 || firstIndex + n > total) throw new RangeError(`samples ${firstIndex}..${firstIndex + n - 1} are outside the run's 0..${total - 1}`);
    if (k > 0 && (!probs || probs.length !== n * k)) throw new RangeError(`expected ${n} x ${k} class probabilities`);
    this.statistics.addBatch(firstIndex, features); // refuses a sample counted twice before anything else changes
    for (let s = 0; s < n; s++) {
      const i = firstIndex + s;
      if (i < keep) this.kept.set(i, features.slice(s * d, (s + 1) * d));
      if (!probs) continue;
      const row = probs.subarray(s * k, (s + 1) * k);
      if (modelClasses > 0) {
        let best = 0;
        for (let c = 1; c < k; c++) if (row[c] > row[best]) best = c;
        this.classTotal[classes[s]]++;
        if (best === classes[s]) this.classCorrect[classes[s]]++;
      }
      const split = Math.floor(i / this.part);
      if (split < this.splitCount.length) {
        let h = 0;
        for (let c = 0; c < k; c++) if (row[c] > 0) h += row[c] * Math.log(row[c]);
        this.splitProb[split].addVector(row);
        this.splitEntropy[split].addVector(Float64Array.of(h));
        this.splitCount[split]++;
      }
    }
  }

  /** Adds another shard's accumulator (other samples of the same run). */
  merge(other: EvalAccumulator): void {
    const a = this.options;
    const b = other.options;
    for (const key of Object.keys(a) as Array<keyof typeof a>) {
      if (a[key] !== b[key]) throw new RangeError(`cannot merge: the shards differ in ${key} (${a[key]} and ${b[key]})`);
    }
    this.statistics.merge(other.statistics); // refuses overlapping shards
    for (let c = 0; c < this.classTotal.length; c++) {
      this.classTotal[c] += other.classTotal[c];
      this.classCorrect[c] += other.classCorrect[c];
    }
    for (let s = 0; s < this.splitCount.length; s++) {
      this.splitCount[s] += other.splitCount[s];
      this.splitProb[s].addExact(other.splitProb[s]);
      this.splitEntropy[s].addExact(other.splitEntropy[s]);
    }
    for (const [i, f] of other.kept) this.kept.set(i, f);
  }

  /** Class-consistency: the share of samples the network assigns to their class, overall and per class. */
  classConsistency(): { overall: number; perClass: number[] } | undefined {
    if (this.classTotal.length === 0 || this.options.logitClasses === 0) return undefined;
    let t = 0;
    let c = 0;
    for (let k = 0; k < this.classTotal.length; k++) {
      t += this.classTotal[k];
      c += this.classCorrect[k];
    }
    return { overall: c / t, perClass: Array.from(this.classTotal, (tk, k) => (tk > 0 ? this.classCorrect[k] / tk : NaN)) };
  }

  /**
   * Inception Score over the run's splits (as core/eval inceptionScore: `splits` parts of
   * floor(N / splits) samples in index order): IS_s = exp(H_s / n_s - Σ_y p̄_y log p̄_y), with
   * H_s = Σ_x Σ_y p log p and p̄ the split's mean probability, which is mean KL(p(y|x) || p̄).
   */
  inceptionScore(): { mean: number; std: number; splits: number; used: number } | undefined {
    const S = this.splitCount.length;
    if (S === 0) return undefined;
    for (let s = 0; s < S; s++) {
      if (this.splitCount[s] !== this.part) throw new RangeError(`split ${s} holds ${this.splitCount[s]} of its ${this.part} samples: the run is not complete`);
    }
    const scores: number[] = [];
    for (let s = 0; s < S; s++) {
      const p = this.splitProb[s].toFloat64();
      const h = this.splitEntropy[s].toFloat64()[0];
      let cross = 0;
      for (let c = 0; c < p.length; c++) {
        const m = p[c] / this.part;
        if (m > 0) cross += m * Math.log(m);
      }
      scores.push(Math.exp(h / this.part - cross));
    }
    const mean = scores.reduce((x, y) => x + y, 0) / S;
    const std = Math.sqrt(scores.reduce((x, y) => x + (y - mean) ** 2, 0) / S);
    return { mean, std, splits: S, used: S * this.part };
  }

  /** The kept features in index order (count x D). */
  keptFeatures(): { indices: number[]; features: Float32Array } {
    const indices = [...this.kept.keys()].sort((x, y) => x - y);
    const d = this.options.featureDim;
    const features = new Float32Array(indices.length * d);
    indices.forEach((i, s) => features.set(this.kept.get(i)!, s * d));
    return { indices, features };
  }

  snapshot(): EvalSnapshot {
    const k = this.options.logitClasses;
    const S = this.splitCount.length;
    const splitProbLimbs = new Float64Array(S * 4 * k);
    const splitEntropyLimbs = new Float64Array(S * 4);
    for (let s = 0; s < S; s++) {
      splitProbLimbs.set(this.splitProb[s].toLimbs(), s * 4 * k);
      splitEntropyLimbs.set(this.splitEntropy[s].toLimbs(), s * 4);
    }
    const kept = this.keptFeatures();
    return {
      options: { ...this.options },
      statistics: this.statistics.snapshot(),
      classTotal: Float64Array.from(this.classTotal),
      classCorrect: Float64Array.from(this.classCorrect),
      splitCount: Float64Array.from(this.splitCount),
      splitProbLimbs,
      splitEntropyLimbs,
      keptIndices: Float64Array.from(kept.indices),
      keptFeatures: kept.features,
    };
  }

  static fromSnapshot(s: EvalSnapshot): EvalAccumulator {
    const acc = new EvalAccumulator(s.options);
    const k = s.options.logitClasses;
    const S = acc.splitCount.length;
    if (s.classTotal.length !== acc.classTotal.length || s.classCorrect.length !== acc.classCorrect.length ||
      s.splitCount.length !== S || s.splitProbLimbs.length !== S * 4 * k || s.splitEntropyLimbs.length !== S * 4 ||
      s.keptFeatures.length !== s.keptIndices.length * s.options.featureDim) {
      throw new RangeError('the saved evaluation state does not match its own settings');
    }
    const stats = FeatureStatistics.fromSnapshot(s.statistics);
    if (stats.dim !== s.options.featureDim || stats.blockSize !== s.options.blockSize) throw new RangeError('the saved statistics do not match the saved settings');
    acc.statistics.merge(stats);
    acc.classTotal.set(s.classTotal);
    acc.classCorrect.set(s.classCorrect);
    acc.splitCount.set(s.splitCount);
    for (let sp = 0; sp < S; sp++) {
      acc.splitProb[sp].addExact(ExactSums.fromLimbs(s.splitProbLimbs.subarray(sp * 4 * k, (sp + 1) * 4 * k), k));
      acc.splitEntropy[sp].addExact(ExactSums.fromLimbs(s.splitEntropyLimbs.subarray(sp * 4, (sp + 1) * 4), 1));
    }
    const d = s.options.featureDim;
    s.keptIndices.forEach((i, j) => acc.kept.set(i, s.keptFeatures.slice(j * d, (j + 1) * d)));
    return acc;
  }
}
