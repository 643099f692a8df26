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
export { frechetDistance, traceSqrtProduct, type FrechetResult } from './frechet';
export { inceptionScore, type InceptionScore } from './inceptionScore';
export { densityCoverage, precisionRecall, type DensityCoverage, type PrecisionRecall } from './manifold';
export { pivotedCholesky, rowProducts } from './linalg';
