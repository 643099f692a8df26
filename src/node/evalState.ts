// An evaluation shard's state as a .npz file (written all or nothing after every block of
// samples, so an interrupted shard resumes where it stopped): the protocol it was run under, how
// far it got, and its EvalAccumulator (feature statistics, class counts, Inception Score sums and
// the kept features), exactly.
import { EvalAccumulator, type EvalSnapshot } from '../core/eval';
import type { NpyArray } from './npy';
import { NpzError, readNpz, readShardStatistics, writeShardStatistics } from './npz';

const MARKER = 'pmf_eval_state';
const VERSION = 1;
const OPTION_KEYS = ['total', 'featureDim', 'logitClasses', 'modelClasses', 'keep', 'splits', 'blockSize'] as const;

export interface EvalState<P> {
  protocol: P;
  /** The shard's sample range [start, end) and how many of its samples (from start) are done. */
  start: number;
  end: number;
  done: number;
  accumulator: EvalAccumulator;
}

/** Writes the state to `path`, all or nothing. */
export async function writeEvalState<P>(path: string, s: EvalState<P>): Promise<void> {
  const snap = s.accumulator.snapshot();
  const o = snap.options;
  const f64 = (a: Float64Array) => ({ data: a, shape: [a.length] });
  await writeShardStatistics(path, s.accumulator.statistics, {
    [MARKER]: { data: Float64Array.of(VERSION), shape: [] },
    protocol_json: { data: new TextEncoder().encode(JSON.stringify(s.protocol)), shape: [Buffer.byteLength(JSON.stringify(s.protocol))] },
    range: { data: Float64Array.of(s.start, s.end, s.done), shape: [3] },
    options: { data: Float64Array.from(OPTION_KEYS.map((k) => o[k])), shape: [OPTION_KEYS.length] },
    class_total: f64(snap.classTotal),
    class_correct: f64(snap.classCorrect),
    split_count: f64(snap.splitCount),
    split_prob_limbs: f64(snap.splitProbLimbs),
    split_entropy_limbs: f64(snap.splitEntropyLimbs),
    kept_indices: f64(snap.keptIndices),
    kept_features: { data: snap.keptFeatures, shape: [snap.keptIndices.length, o.featureDim] },
  });
}

/** Reads a state file written by writeEvalState; errors name the file. */
export async function readEvalState<P>(path: string): Promise<EvalState<P>> {
  let a: Map<string, NpyArray>;
  try {
    a = await readNpz(path, [MARKER, 'protocol_json', 'range', 'options', 'class_total', 'class_correct', 'split_count',
      'split_prob_limbs', 'split_entropy_limbs', 'kept_indices', 'kept_features']);
  } catch (e) {
    if (e instanceof NpzError && e.message.includes(`no '${MARKER}' array`)) {
      throw new NpzError(path, `${path} is not a pmf eval state file (pmf eval --shard writes those).`);
    }
    throw e;
  }
  if (a.get(MARKER)!.values[0] !== VERSION) throw new NpzError(path, `${path} is a pmf eval state of format ${a.get(MARKER)!.values[0]}; this pMF Lab reads format ${VERSION}.`);
  let protocol: P;
  try {
    protocol = JSON.parse(new TextDecoder().decode(Uint8Array.from(a.get('protocol_json')!.values))) as P;
  } catch (e) {
    throw new NpzError(path, `${path} is damaged: its protocol is not JSON (${(e as Error).message}).`);
  }
  const statistics = await readShardStatistics(path);
  const [start, end, done] = a.get('range')!.values;
  const ov = a.get('options')!.values;
  const options = Object.fromEntries(OPTION_KEYS.map((k, i) => [k, ov[i]])) as EvalSnapshot['options'];
  const snap: EvalSnapshot = {
    options,
    statistics: statistics.snapshot(),
    classTotal: a.get('class_total')!.values,
    classCorrect: a.get('class_correct')!.values,
    splitCount: a.get('split_count')!.values,
    splitProbLimbs: a.get('split_prob_limbs')!.values,
    splitEntropyLimbs: a.get('split_entropy_limbs')!.values,
    keptIndices: a.get('kept_indices')!.values,
    keptFeatures: Float32Array.from(a.get('kept_features')!.values),
  };
  let accumulator: EvalAccumulator;
  try {
    accumulator = EvalAccumulator.fromSnapshot(snap);
  } catch (e) {
    throw new NpzError(path, `${path} is damaged: ${(e as Error).message}.`);
  }
  if (!(start >= 0 && start <= end && done >= 0 && start + done <= end && accumulator.count === done)) {
    throw new NpzError(path, `${path} is damaged: it says samples ${start}..${end} with ${done} done, but holds ${accumulator.count}.`);
  }
  return { protocol, start, end, done, accumulator };
}
