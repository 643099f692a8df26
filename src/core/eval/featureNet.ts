// The feature-network contract (docs/evaluation.md, "Feature networks"): an ONNX file that maps
// 8-bit images to the features FID is computed in (and, optionally, class logits), described by
// one metadata entry. The engine runs it; this file reads and checks what the header says.
import { z } from 'zod';
import type { OnnxHeader } from '../checkpoint/onnxReader';
import type { TensorSpec } from '../checkpoint/types';

export const FEATURE_NET_KEY = 'pmf_feature_net';
export const FEATURE_NET_VERSION = 1;

const Metadata = z.object({
  format_version: z.literal(FEATURE_NET_VERSION),
  name: z.string().min(1),
  channels: z.number().int().positive(),
  /** [H, W] the input must have, or null when the graph takes any size (and resizes inside). */
  input_size: z.tuple([z.number().int().positive(), z.number().int().positive()]).nullable(),
  /** What the graph does to the size, e.g. 'none' or 'bilinear-299'. */
  resize: z.string().min(1),
  feature_dim: z.number().int().positive(),
  logit_classes: z.number().int().nonnegative(),
  class_names: z.array(z.string()).nullable().optional(),
  source: z.object({ file: z.string(), sha256: z.string() }).loose().nullable().optional(),
  /** Figures real data scores with this network (a model card's, e.g. test accuracy, FD train vs test). */
  real_data: z.record(z.string(), z.unknown()).nullable().optional(),
}).loose();

export interface FeatureNetInfo {
  name: string;
  channels: number;
  inputSize: [number, number] | null;
  resize: string;
  featureDim: number;
  /** 0 when the network has no `logits` output. */
  logitClasses: number;
  classNames: string[] | null;
  source: { file: string; sha256: string } | null;
  realData: Record<string, unknown> | null;
  /** Output names in the order the engine reads them: features, then logits when present. */
  outputs: string[];
}

/** A file that is not a feature network, or breaks the contract; `message` names the file and says what to do. */
export class FeatureNetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeatureNetError';
  }
}

function dimOk(d: TensorSpec['dims'][number] | undefined, want: number | null): boolean {
  if (want === null) return true;
  return typeof d !== 'number' || d === want; // a symbolic or unknown size takes any value
}

/** Reads and checks a feature network's header; throws FeatureNetError with an actionable message. */
export function readFeatureNet(header: OnnxHeader, fileName: string): FeatureNetInfo {
  const raw = header.metadata[FEATURE_NET_KEY];
  if (raw === undefined) {
    const hint = header.metadata['pmf.format_version'] !== undefined
      ? ' It is a pMF generator: pass it as the model, and a feature network (such as models/eval/fashion-mnist-classifier.onnx) as --net.'
      : ' Export one with `scripts/pmf-trainer export-classifier` or `scripts/pmf-trainer convert-inception` (docs/evaluation.md).';
    throw new FeatureNetError(`${fileName} is not a pMF Lab feature network: it has no '${FEATURE_NET_KEY}' metadata.${hint}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new FeatureNetError(`${fileName}: its '${FEATURE_NET_KEY}' metadata is not JSON (${(e as Error).message}).`);
  }
  const parsed = Metadata.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FeatureNetError(`${fileName}: its '${FEATURE_NET_KEY}' metadata is invalid at ` +
      `'${issue.path.join('.') || '(root)'}': ${issue.message} (docs/evaluation.md, "Feature networks").`);
  }
  const m = parsed.data;
  const input = header.inputs.find((i) => i.name === 'images');
  if (!input || header.inputs.length !== 1) {
    throw new FeatureNetError(`${fileName}: a feature network takes one input named 'images' [N, C, H, W]; ` +
      `it declares ${header.inputs.map((i) => `'${i.name}'`).join(', ') || 'none'}.`);
  }
  if (input.elemType !== 'float32' || (!input.unknownRank && input.dims.length !== 4)) {
    throw new FeatureNetError(`${fileName}: its input 'images' must be float32 [N, C, H, W], ` +
      `it is ${input.elemType} [${input.dims.map((d) => d ?? '?').join(', ')}].`);
  }
  if (!input.unknownRank && (!dimOk(input.dims[1], m.channels) || !dimOk(input.dims[2], m.input_size?.[0] ?? null) ||
    !dimOk(input.dims[3], m.input_size?.[1] ?? null))) {
    throw new FeatureNetError(`${fileName}: its input 'images' is [${input.dims.map((d) => d ?? '?').join(', ')}], but its ` +
      `metadata says ${m.channels} channels${m.input_size ? ` at ${m.input_size.join('x')}` : ''}.`);
  }
  const features = header.outputs.find((o) => o.name === 'features');
  if (!features) throw new FeatureNetError(`${fileName}: a feature network has an output named 'features' [N, D]; it has none.`);
  if (typeof features.dims[1] === 'number' && features.dims[1] !== m.feature_dim) {
    throw new FeatureNetError(`${fileName}: its output 'features' has ${features.dims[1]} values per image, its metadata says ${m.feature_dim}.`);
  }
  const logits = header.outputs.find((o) => o.name === 'logits');
  if (m.logit_classes > 0 && !logits) {
    throw new FeatureNetError(`${fileName}: its metadata names ${m.logit_classes} classes but it has no 'logits' output.`);
  }
  if (logits && typeof logits.dims[1] === 'number' && logits.dims[1] !== m.logit_classes) {
    throw new FeatureNetError(`${fileName}: its output 'logits' has ${logits.dims[1]} classes, its metadata says ${m.logit_classes}.`);
  }
  if (m.class_names && m.class_names.length !== m.logit_classes) {
    throw new FeatureNetError(`${fileName}: its metadata names ${m.class_names.length} classes for ${m.logit_classes} logits.`);
  }
  return {
    name: m.name,
    channels: m.channels,
    inputSize: m.input_size,
    resize: m.resize,
    featureDim: m.feature_dim,
    logitClasses: m.logit_classes > 0 && logits ? m.logit_classes : 0,
    classNames: m.class_names ?? null,
    source: m.source ? { file: m.source.file, sha256: m.source.sha256 } : null,
    realData: m.real_data ?? null,
    outputs: m.logit_classes > 0 && logits ? ['features', 'logits'] : ['features'],
  };
}
