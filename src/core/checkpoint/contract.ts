// Validates an ONNX header against the pMF checkpoint contract (docs/checkpoint-format.md,
// section 5) and turns it into a PmfModelInfo. One piece (over 400 lines) because it is the
// contract's one reader: the metadata parsers and the graph checks share its order and messages. Stops at the first violation, with the
// documented message. Order: the pmf.* metadata (is this a pMF checkpoint, which version,
// what kind of model), then the graph signature (output, inputs, input groups), then shapes.
import { DEFAULT_T_EPS } from '../fields';
import { IMAGENET_CLASS_NAMES, isImagenetPlaceholder } from '../imagenetClasses';
import type { OnnxHeader } from './onnxReader';
import { parsePrecision } from './precision';
import {
  CheckpointError,
  CONTRACT_INPUTS,
  FORMAT_VERSION,
  FLOW_SOLVERS,
  type FlowSolver,
  type Guidance,
  type InputName,
  MODEL_TYPES,
  type ModelType,
  type PmfModelInfo,
  type SamplingSettings,
  type TensorSpec,
} from './types';

const DEFAULT_NOISE_SCALE = 1;
const DEFAULT_SAMPLING: SamplingSettings = { steps: 1, omega: 1, tMin: 0, tMax: 1 };
const ORTHONORMAL_TOLERANCE = 1e-3;
const CFG_INPUTS: readonly InputName[] = ['omega', 't_min', 't_max'];

const KNOWN_KEYS = new Set([
  'pmf.format_version', 'pmf.prediction', 'pmf.kind', 'pmf.name', 'pmf.description', 'pmf.data_range',
  'pmf.noise_scale', 'pmf.t_eps', 'pmf.num_classes', 'pmf.class_names', 'pmf.image_size', 'pmf.channels',
  'pmf.patch_size', 'pmf.dim', 'pmf.embedding', 'pmf.default_sampling', 'pmf.architecture', 'pmf.training',
  'pmf.precision', 'pmf.model_type', 'pmf.guidance',
]);

/** The metadata part of PmfModelInfo. */
type MetadataInfo = Omit<PmfModelInfo, 'inputs' | 'inputSpecs' | 'outputSpec' | 'fixedBatch' | 'hasCfg' | 'guidance' |
  'metadata'> & { twoPass: boolean };

export function validateContract(header: OnnxHeader, fileName: string): PmfModelInfo {
  const { twoPass, ...info } = readMetadata(header, fileName);
  const outputSpec = checkOutput(header, info.declaredPrediction, fileName);
  const inputSpecs = checkInputs(header.inputs, info, fileName);
  const inputs = inputSpecs.map((s) => s.name as InputName);
  checkInputGroups(inputs, info.numClasses);
  const hasCfg = CFG_INPUTS.every((n) => inputs.includes(n));
  const guidance = checkGuidance(twoPass, hasCfg, info, fileName);
  checkShapes(inputSpecs[0], outputSpec, info);
  const fixedBatch = findFixedBatch([...inputSpecs, outputSpec], info.warnings);
  return {
    ...info,
    inputs,
    inputSpecs,
    outputSpec,
    fixedBatch,
    hasCfg,
    guidance,
    metadata: header.metadata,
  };
}

// ---- metadata -------------------------------------------------------------------------

function readMetadata(header: OnnxHeader, fileName: string): MetadataInfo {
  const md = new Metadata(header.metadata);
  const warnings: string[] = [];

  const versionText = md.text('pmf.format_version');
  if (versionText === undefined) {
    throw new CheckpointError(
      'no-pmf-metadata',
      `${fileName} has no pmf.format_version metadata: it is an ONNX model but not a pMF checkpoint. ` +
        `Export it with 'pmf_trainer export' or add the pmf.* metadata (docs/checkpoint-format.md).`,
    );
  }
  const formatVersion = parseVersion(versionText);
  if (formatVersion > FORMAT_VERSION) {
    throw new CheckpointError(
      'future-version',
      `${fileName} uses pMF checkpoint format version ${formatVersion}; this pMF Lab reads up to version ` +
        `${FORMAT_VERSION}. Update pMF Lab.`,
    );
  }

  const modelType = (md.optional('pmf.model_type', plainString) ?? 'mean-flow') as ModelType;
  if (!MODEL_TYPES.includes(modelType)) {
    throw new CheckpointError('bad-model-type', `${fileName}: unknown model type '${clip(modelType)}': pmf.model_type ` +
      `must be 'mean-flow' (the default: a network of z, r and t) or 'flow-matching' (a network of z and t only).`);
  }
  const flow = modelType === 'flow-matching';
  const declaredPrediction = md.required('pmf.prediction', flow ? "what the output is: 'x' or 'v'" :
    "what the output is: 'x' or 'u'", plainString) as PmfModelInfo['declaredPrediction'];
  if (flow && declaredPrediction !== 'x' && declaredPrediction !== 'v') {
    throw new CheckpointError('bad-prediction', `${fileName}: unknown prediction kind '${clip(declaredPrediction)}' for a ` +
      `flow-matching model: pmf.prediction must be 'x' or 'v' (a network without r has no average velocity u).`);
  }
  if (!flow && declaredPrediction !== 'x' && declaredPrediction !== 'u') {
    throw new CheckpointError('bad-prediction', `Unknown prediction kind '${declaredPrediction}': pmf.prediction must be 'x' or 'u'.`);
  }
  // v(z, t) = u(z, t, t): the conversions read a v output as u (the runtime evaluates it at r = t only).
  const prediction = declaredPrediction === 'x' ? 'x' : 'u';
  const guidanceKey = md.optional('pmf.guidance', plainString);
  if (guidanceKey !== undefined && guidanceKey !== 'two-pass') {
    throw new CheckpointError('guidance', `${fileName}: pmf.guidance is '${clip(guidanceKey)}'; the one value it takes is ` +
      `'two-pass' (CFG by a conditional and an unconditional pass; a model with omega, t_min and t_max inputs needs no key).`);
  }
  const kind = md.required('pmf.kind', "'image' or 'toy'", plainString);
  if (kind !== 'image' && kind !== 'toy') {
    throw new CheckpointError('bad-kind', `Unknown model kind '${kind}': pmf.kind must be 'image' or 'toy'.`);
  }
  const dataRange = md.required('pmf.data_range', 'the [lo, hi] range of the data, which the runtime maps to pixels', range);
  const numClasses = md.required('pmf.num_classes', '0 for an unconditional model', integer(0));
  const stated = md.optional('pmf.class_names', stringArray) ?? Array.from({ length: numClasses }, (_, i) => String(i));
  // A 1000-class model whose names are placeholders (convert-official without --class-names) gets ImageNet-1k's.
  const classNames = isImagenetPlaceholder(stated) ? [...IMAGENET_CLASS_NAMES] : stated;
  if (classNames.length !== numClasses) {
    throw new CheckpointError('class-names', `pmf.class_names has ${classNames.length} names for ${numClasses} classes.`);
  }

  const shapeInfo = kind === 'image' ? readImageShape(md) : readToyShape(md);

  const noiseScale = md.optional('pmf.noise_scale', positiveNumber);
  const tEps = md.optional('pmf.t_eps', positiveNumber);
  const sampling = md.optional('pmf.default_sampling', samplingSettings);
  const defaultSolver = flow ? md.optional('pmf.default_sampling', solverOf) ?? 'euler' : undefined;
  if (noiseScale === undefined) warnings.push(`pmf.noise_scale is not set; using ${DEFAULT_NOISE_SCALE}.`);
  if (tEps === undefined) warnings.push(`pmf.t_eps is not set; using ${DEFAULT_T_EPS}.`);
  if (sampling === undefined) warnings.push('pmf.default_sampling is not set; using 1 step, omega 1, interval [0, 1].');
  const precisionRecord = md.optional('pmf.precision', jsonObject);
  const precision = precisionRecord && parsePrecision(precisionRecord);
  if (precisionRecord && !precision) warnings.push('pmf.precision names no weight precision (its "weights" field); ignored.');
  for (const key of md.unknownPmfKeys()) {
    warnings.push(`Unknown metadata key ${key}: kept, but this version of pMF Lab does not use it.`);
  }

  return {
    formatVersion,
    name: md.optional('pmf.name', plainString) ?? baseName(fileName),
    description: md.optional('pmf.description', plainString) ?? header.docString,
    prediction,
    declaredPrediction,
    modelType,
    kind,
    dataRange,
    noiseScale: noiseScale ?? DEFAULT_NOISE_SCALE,
    tEps: tEps ?? DEFAULT_T_EPS,
    numClasses,
    classNames,
    ...shapeInfo,
    defaultSampling: sampling ?? { ...DEFAULT_SAMPLING },
    architecture: md.optional('pmf.architecture', jsonObject) ?? {},
    training: md.optional('pmf.training', jsonObject) ?? {},
    ...(precision ? { precision } : {}),
    ...(defaultSolver ? { defaultSolver } : {}),
    twoPass: guidanceKey === 'two-pass',
    warnings,
  };
}

type ShapeInfo = Pick<PmfModelInfo, 'imageSize' | 'channels' | 'patchSize' | 'dim' | 'embedding' | 'sampleShape'>;

function readImageShape(md: Metadata): ShapeInfo {
  const imageSize = md.required('pmf.image_size', 'image models: the height and width H = W of a sample', integer(1));
  const channels = md.required('pmf.channels', 'image models: the number of channels C of a sample', integer(1));
  const patchSize = md.optional('pmf.patch_size', integer(1));
  return { imageSize, channels, patchSize, sampleShape: [channels, imageSize, imageSize] };
}

function readToyShape(md: Metadata): ShapeInfo {
  const dim = md.required('pmf.dim', 'toy models: the dimension D of a point', integer(1));
  const embedding = md.required(
    'pmf.embedding',
    'toy models: the D x 2 matrix that embeds the 2D data plane, for projecting points back to it',
    numberRows,
  );
  checkEmbedding(embedding, dim);
  return { dim, embedding, sampleShape: [dim] };
}

/** P must be D x 2 with P^T P = I (within ORTHONORMAL_TOLERANCE). */
function checkEmbedding(p: number[][], dim: number): void {
  const fail = (detail: string): never => {
    throw new CheckpointError('embedding', `pmf.embedding must be a ${dim} x 2 column-orthonormal matrix: ${detail}.`);
  };
  if (p.length !== dim) fail(`it has ${p.length} rows for pmf.dim = ${dim}`);
  p.forEach((row, i) => {
    if (row.length !== 2) fail(`row ${i} has ${row.length} entries`);
  });
  const dot = (a: number, b: number) => p.reduce((s, row) => s + row[a] * row[b], 0);
  for (const c of [0, 1]) {
    if (Math.abs(dot(c, c) - 1) > ORTHONORMAL_TOLERANCE) fail(`column ${c} has norm ${Math.sqrt(dot(c, c)).toFixed(4)}, not 1`);
  }
  if (Math.abs(dot(0, 1)) > ORTHONORMAL_TOLERANCE) fail(`its columns have dot product ${dot(0, 1).toFixed(4)}, not 0`);
}

function parseVersion(text: string): number {
  const v = parseJsonOr(text);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new CheckpointError('bad-version', `pmf.format_version must be a positive integer, found '${clip(text)}'.`);
  }
  return v;
}

/** Typed access to metadata_props; parsers throw 'bad-json' for values of the wrong type. */
class Metadata {
  constructor(private readonly props: Record<string, string>) {}

  text(key: string): string | undefined {
    return Object.hasOwn(this.props, key) ? this.props[key] : undefined;
  }

  optional<T>(key: string, parse: Parser<T>): T | undefined {
    const text = this.text(key);
    return text === undefined ? undefined : parse(key, text);
  }

  required<T>(key: string, why: string, parse: Parser<T>): T {
    const text = this.text(key);
    if (text === undefined) throw new CheckpointError('missing-metadata', `${key} is required (${why}).`);
    return parse(key, text);
  }

  unknownPmfKeys(): string[] {
    return Object.keys(this.props).filter((k) => k.startsWith('pmf.') && !KNOWN_KEYS.has(k));
  }
}

type Parser<T> = (key: string, text: string) => T;

function badJson(key: string, detail: string): CheckpointError {
  return new CheckpointError('bad-json', `${key} is not valid: ${detail}.`);
}

function parseJson(key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badJson(key, `'${clip(text)}' is not JSON (${(err as Error).message})`);
  }
}

/** JSON.parse, or undefined when the text is not JSON. */
function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const plainString: Parser<string> = (_key, text) => text;

function integer(min: number): Parser<number> {
  return (key, text) => {
    const v = parseJson(key, text);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw badJson(key, `expected an integer >= ${min}, found '${clip(text)}'`);
    }
    return v;
  };
}

const positiveNumber: Parser<number> = (key, text) => {
  const v = parseJson(key, text);
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw badJson(key, `expected a positive number, found '${clip(text)}'`);
  }
  return v;
};

const range: Parser<[number, number]> = (key, text) => {
  const v = parseJson(key, text);
  if (!Array.isArray(v) || v.length !== 2 || !v.every(isFiniteNumber) || v[0] >= v[1]) {
    throw badJson(key, `expected [lo, hi] with lo < hi, found '${clip(text)}'`);
  }
  return [v[0], v[1]];
};

const stringArray: Parser<string[]> = (key, text) => {
  const v = parseJson(key, text);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw badJson(key, `expected a list of strings, found '${clip(text)}'`);
  }
  return v;
};

/** A list of rows of numbers; the embedding check then checks the D x 2 shape. */
const numberRows: Parser<number[][]> = (key, text) => {
  const v = parseJson(key, text);
  if (!Array.isArray(v) || !v.every((row) => Array.isArray(row) && row.every(isFiniteNumber))) {
    throw badJson(key, `expected a list of [number, number] rows, found '${clip(text)}'`);
  }
  return v;
};

const jsonObject: Parser<Record<string, unknown>> = (key, text) => {
  const v = parseJson(key, text);
  if (!isPlainObject(v)) throw badJson(key, `expected a JSON object, found '${clip(text)}'`);
  return v;
};

/** {steps, omega, t_min, t_max}, each optional (defaults: 1, 1, 0, 1). */
const samplingSettings: Parser<SamplingSettings> = (key, text) => {
  const v = jsonObject(key, text);
  const field = (name: string, fallback: number, ok: (x: number) => boolean, expected: string): number => {
    if (v[name] === undefined) return fallback;
    const x = v[name];
    if (!isFiniteNumber(x) || !ok(x)) throw badJson(key, `${name} must be ${expected}, found ${JSON.stringify(x)}`);
    return x;
  };
  const inUnit = (x: number) => x >= 0 && x <= 1;
  const s: SamplingSettings = {
    steps: field('steps', DEFAULT_SAMPLING.steps, (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1'),
    omega: field('omega', DEFAULT_SAMPLING.omega, (x) => x >= 1, 'a number >= 1'),
    tMin: field('t_min', DEFAULT_SAMPLING.tMin, inUnit, 'a number in [0, 1]'),
    tMax: field('t_max', DEFAULT_SAMPLING.tMax, inUnit, 'a number in [0, 1]'),
  };
  if (s.tMin > s.tMax) throw badJson(key, `t_min (${s.tMin}) is greater than t_max (${s.tMax})`);
  return s;
};

/** The `solver` of a flow-matching model's default_sampling (undefined when it names none). */
const solverOf: Parser<FlowSolver | undefined> = (key, text) => {
  const v = jsonObject(key, text).solver;
  if (v === undefined) return undefined;
  if (!FLOW_SOLVERS.includes(v as FlowSolver)) {
    throw badJson(key, `solver must be ${FLOW_SOLVERS.map((s) => `'${s}'`).join(' or ')}, found ${JSON.stringify(v)}`);
  }
  return v as FlowSolver;
};

function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function clip(text: string, max = 60): string {
  return text.length <= max ? text : `${text.slice(0, max)}...`;
}

function baseName(fileName: string): string {
  return fileName.replace(/^.*[\\/]/, '').replace(/\.onnx$/i, '');
}

// ---- graph signature ------------------------------------------------------------------

function checkOutput(header: OnnxHeader, prediction: PmfModelInfo['declaredPrediction'], fileName: string): TensorSpec {
  if (header.outputs.length !== 1) {
    throw new CheckpointError(
      'output-count',
      `A pMF model has exactly one output (x or ${prediction === 'v' ? 'v' : 'u'}); ${fileName} has ${header.outputs.length}.`,
    );
  }
  const output = header.outputs[0];
  if (output.name !== prediction) {
    throw new CheckpointError(
      'output-name',
      `The output is named '${output.name}' but pmf.prediction is '${prediction}': name it '${prediction}'.`,
    );
  }
  // The table has no code of its own for the output's dtype; it shares input-dtype's.
  if (output.elemType !== 'float32') {
    throw new CheckpointError('input-dtype', `Output '${output.name}' must be float32, found ${output.elemType}.`);
  }
  return output;
}

/** Checks names, dtypes and ranks; returns the input specs in canonical order, z first. */
function checkInputs(declared: TensorSpec[], info: Omit<MetadataInfo, 'twoPass'>, fileName: string): TensorSpec[] {
  for (const spec of declared) {
    if (!(CONTRACT_INPUTS as readonly string[]).includes(spec.name)) {
      throw new CheckpointError(
        'unknown-input',
        `Input '${spec.name}' is not part of the pMF contract (${CONTRACT_INPUTS.join(', ')}).`,
      );
    }
  }
  const byName = new Map(declared.map((s) => [s.name, s]));
  const zShape = formatShape(['N', ...info.sampleShape]);
  if (!byName.has('z')) {
    throw new CheckpointError('missing-input', `Required input 'z' is missing (the state z_t, float32 ${zShape}).`);
  }
  if (info.modelType === 'flow-matching') {
    if (byName.has('h')) {
      throw new CheckpointError('unknown-input', `${fileName} declares input 'h', but a flow-matching model ` +
        `(pmf.model_type 'flow-matching') has no r and so no h = t - r: its inputs are z, t, y, omega, t_min, t_max.`);
    }
    if (!byName.has('t')) {
      throw new CheckpointError('missing-input', `Required input 't' is missing (a flow-matching model takes the time t ` +
        `of z_t, float32 [N]; ${fileName} declares no t).`);
    }
  }
  if (!byName.has('t') && !byName.has('h')) {
    throw new CheckpointError(
      'missing-input',
      `Required input 'h' is missing (a model needs the time: h = t - r for an average velocity, ` +
        `or t alone for a flow-matching model; this one declares neither t nor h).`,
    );
  }
  const specs = CONTRACT_INPUTS.flatMap((name) => byName.get(name) ?? []);
  for (const spec of specs) {
    const dtype = spec.name === 'y' ? 'int64' : 'float32';
    if (spec.elemType !== dtype) {
      throw new CheckpointError('input-dtype', `Input '${spec.name}' must be ${dtype}, found ${spec.elemType}.`);
    }
    // A tensor without a declared shape accepts any shape, so there is no rank to check.
    const [rank, shape] = spec.name === 'z' ? [1 + info.sampleShape.length, zShape] : [1, '[N]'];
    if (!spec.unknownRank && spec.dims.length !== rank) {
      throw new CheckpointError(
        'input-rank',
        `Input '${spec.name}' has rank ${spec.dims.length}; expected ${rank} (${shape}).`,
      );
    }
  }
  return specs;
}

function checkInputGroups(inputs: InputName[], numClasses: number): void {
  const cfg = CFG_INPUTS.filter((n) => inputs.includes(n));
  if (cfg.length > 0 && cfg.length < CFG_INPUTS.length) {
    throw new CheckpointError('cfg-partial', `omega, t_min and t_max come together; the model declares only ${listWords(cfg)}.`);
  }
  const hasY = inputs.includes('y');
  if (hasY && numClasses === 0) {
    throw new CheckpointError(
      'class-input',
      `The model declares input 'y' but pmf.num_classes is 0: set pmf.num_classes to the number of classes ` +
        `(y = num_classes is the unconditional class), or remove 'y' from an unconditional model.`,
    );
  }
  if (!hasY && numClasses > 0) {
    throw new CheckpointError(
      'class-input',
      `pmf.num_classes is ${numClasses} but the model declares no input 'y': a class-conditional model takes ` +
        `the class index as input 'y' (int64 [N]); set pmf.num_classes to 0 for an unconditional model.`,
    );
  }
  if (!hasY && cfg.length > 0) {
    throw new CheckpointError(
      'class-input',
      `The model declares omega, t_min and t_max but no input 'y': CFG inputs come only with class-conditional models.`,
    );
  }
}

/** pmf.guidance 'two-pass' needs a class-conditional flow-matching model without CFG inputs. */
function checkGuidance(twoPass: boolean, hasCfg: boolean, info: Omit<MetadataInfo, 'twoPass'>, fileName: string): Guidance {
  if (!twoPass) return hasCfg ? 'inputs' : 'none';
  const why = info.modelType !== 'flow-matching' ? 'it is a MeanFlow model (two-pass guidance is for flow-matching models)'
    : hasCfg ? 'it has omega, t_min and t_max inputs (the network guides itself)'
      : info.numClasses === 0 ? 'it is unconditional (pmf.num_classes 0: there is no class to guide towards)' : undefined;
  if (why) throw new CheckpointError('guidance', `${fileName} declares pmf.guidance 'two-pass', but ${why}.`);
  return 'two-pass';
}

/** Fixed dimensions of z and of the output must match the metadata's sample shape. */
function checkShapes(z: TensorSpec, output: TensorSpec, info: Omit<MetadataInfo, 'twoPass'>): void {
  const source =
    info.kind === 'image'
      ? `pmf.channels = ${info.channels}, pmf.image_size = ${info.imageSize}`
      : `pmf.dim = ${info.dim}`;
  for (const [label, spec] of [[`Input 'z'`, z], [`Output '${output.name}'`, output]] as const) {
    if (spec.unknownRank) continue;
    const expected = [spec.dims[0] ?? 'N', ...info.sampleShape];
    const fits =
      spec.dims.length === expected.length &&
      spec.dims.every((d, i) => i === 0 || typeof d !== 'number' || d === expected[i]);
    if (!fits) {
      throw new CheckpointError(
        'shape-mismatch',
        `${label} has shape ${formatShape(spec.dims)} but the metadata says ${formatShape(expected)} (${source}).`,
      );
    }
  }
}

/** The batch size when a tensor fixes it (a warning, not an error: the runtime then runs one batch at a time). */
function findFixedBatch(specs: TensorSpec[], warnings: string[]): number | undefined {
  const spec = specs.find((s) => typeof s.dims[0] === 'number');
  if (!spec) return undefined;
  const batch = spec.dims[0] as number;
  warnings.push(
    `The batch dimension is fixed (${spec.name} is ${formatShape(spec.dims)}): the runtime runs one batch of ${batch} at a time.`,
  );
  return batch;
}

function formatShape(dims: Array<number | string | null>): string {
  return `[${dims.map((d) => d ?? '?').join(', ')}]`;
}

function listWords(words: readonly string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}
