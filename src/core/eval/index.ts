// Evaluating a generator's samples: feature statistics exact under sharding, the Frechet
// distance, Inception Score, precision/recall and density/coverage (docs/evaluation.md).
export { EXACT_SUM_LIMIT, ExactSums } from './exactSum';
export {
  DEFAULT_BLOCK_SIZE,
  FeatureStatistics,
  blockSums,
  featureMoments,
  momentsFromSums,
  packedIndex,
  shardRange,
  type FeatureMoments,
  type StatisticsSnapshot,
} from './featureStatistics';
export { frechetDistance, frechetResult, frechetTerms, traceSqrtProduct, type FrechetResult } from './frechet';
export { inceptionScore, type InceptionScore } from './inceptionScore';
export { densityCoverage, manifoldMetrics, precisionRecall, type DensityCoverage, type PrecisionRecall } from './manifold';
export { pivotedCholesky, rowProducts } from './linalg';
export { EvalAccumulator, type EvalAccumulatorOptions, type EvalSnapshot } from './evalAccumulator';
export { FEATURE_BATCH_BYTES, SAMPLE_RULE, UINT8_RULE, featureBatch, sampleClass, sampleSeed, softmaxRows, toLevels } from './evalPlan';
export { FEATURE_NET_KEY, FEATURE_NET_VERSION, FeatureNetError, readFeatureNet, type FeatureNetInfo } from './featureNet';
