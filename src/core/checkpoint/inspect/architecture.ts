// Which network a checkpoint holds, from what it says about itself or else from its tensors'
// names and shapes. Rules, first match wins:
//   1. ONNX pmf.architecture metadata (written by pmf_trainer export);
//   2. a model configuration in the metadata (the trainer's model_config_json, a run config, ...);
//   3. the official pMF key names (net. prefix, _flax_linear wrappers, net.rope_freqs), sizes
//      recovered from shapes as trainer/pmf_trainer/official.py infer_config does;
//   4. our pmfDiT's key names (trainer/pmf_trainer/model_dit.py), with or without a prefix;
//   5. the toy MLP's key names (trainer/pmf_trainer/model_mlp.py: net.<i>.weight/bias).
import type { ArchitectureGuess, CheckpointFormat, TensorEntry } from './types';

type Config = ArchitectureGuess['config'];

/** The official sizes (paper Sec. 5; config.py OFFICIAL_SIZES): width -> size letter, depth, heads. */
const OFFICIAL_SIZES: ReadonlyArray<{ size: string; hidden: number; depth: number; heads: number }> = [
  { size: 'B', hidden: 768, depth: 16, heads: 12 },
  { size: 'L', hidden: 1024, depth: 32, heads: 16 },
  { size: 'H', hidden: 1280, depth: 48, heads: 16 },
];

export function inferArchitecture(tensors: TensorEntry[], metadata: Record<string, string>, format: CheckpointFormat): ArchitectureGuess {
  return (
    (format === 'onnx' ? fromOnnxMetadata(metadata) : undefined) ??
    fromConfigMetadata(metadata) ??
    fromOfficialKeys(tensors) ??
    fromPmfDiTKeys(tensors) ??
    fromToyMlpKeys(tensors) ?? { family: 'unknown', config: {}, basis: 'no known tensor naming (not a pMF model, or renamed keys)' }
  );
}

/** "pMF-B/16" when hidden size, depth, heads and patch size are those of an official model. */
export function officialLabel(config: Config): string | undefined {
  const s = OFFICIAL_SIZES.find((o) => o.hidden === config.hidden_size && o.depth === config.depth && o.heads === config.num_heads);
  return s && (config.patch_size === 16 || config.patch_size === 32) ? `pMF-${s.size}/${config.patch_size}` : undefined;
}

function guess(family: ArchitectureGuess['family'], config: Config, basis: string): ArchitectureGuess {
  const dit = family === 'pmfDiT' || family === 'pmfDiT-official';
  const label = dit ? officialLabel(config) : undefined;
  const flops = dit ? ditFlopsPerImage(config) : undefined;
  if (flops !== undefined) config.gflops_per_image = Number((flops / 1e9).toPrecision(3));
  return { family, ...(label ? { label } : {}), config, basis };
}

/**
 * Floating-point operations of one network evaluation per image (2 per multiply-add) on the u
 * path: patch embedding, per block the q/k/v/out projections (4 T d^2), attention (2 T^2 d) and
 * the SwiGLU MLP (3 T d h), the final layer; T counts the prefix tokens too. pMF-B/16: 33.3 GMAC,
 * 66.7 GFLOP. Undefined when the configuration lacks a size it needs.
 */
export function ditFlopsPerImage(c: Config): number | undefined {
  const num = (k: string) => (typeof c[k] === 'number' ? c[k] : undefined);
  const d = num('hidden_size');
  const depth = num('depth');
  const h = num('mlp_hidden');
  const p = num('patch_size');
  const ch = num('in_channels') ?? 3;
  const k = num('bottleneck_channels');
  const image = num('image_tokens') ?? (num('input_size') !== undefined && p ? (num('input_size')! / p) ** 2 : undefined);
  if (!d || !depth || !h || !p || !k || !image) return undefined;
  // prefix tokens, as the ONNX metadata lists them or as the official shapes give them
  const listed = Object.keys(c).filter((key) => key.startsWith('prefix_tokens.'));
  const prefix = listed.length
    ? listed.reduce((n, key) => n + (num(key) ?? 0), 0)
    : (num('num_classes') ? num('num_class_tokens') ?? 0 : 0) + (num('num_time_tokens') ?? 0) +
      (c.cfg_inputs === true ? (num('num_cfg_tokens') ?? 0) + 2 * (num('num_interval_tokens') ?? 0) : 0);
  const T = image + prefix;
  const block = 4 * T * d * d + 2 * T * T * d + 3 * T * d * h;
  const embed = image * (p * p * ch * k + k * d);
  const final = image * d * p * p * ch;
  return 2 * (depth * block + embed + final);
}

// ---- 1, 2: what the file says ----------------------------------------------------------------

function fromOnnxMetadata(metadata: Record<string, string>): ArchitectureGuess | undefined {
  const arch = parseObject(metadata['pmf.architecture']);
  if (!arch) return undefined;
  const family = familyOf(arch.name);
  if (!family) return undefined;
  return guess(family, flatten(arch), 'the pmf.architecture metadata');
}

function fromConfigMetadata(metadata: Record<string, string>): ArchitectureGuess | undefined {
  const keys = Object.keys(metadata).sort((a, b) => Number(b === 'model_config_json') - Number(a === 'model_config_json'));
  for (const key of keys) {
    const obj = parseObject(metadata[key]);
    if (!obj) continue;
    for (const cfg of [obj, obj.model]) {
      if (!isObject(cfg)) continue;
      const family = familyOf(cfg.arch);
      if (family) return guess(family, flatten(cfg), `the model configuration in '${key}'`);
    }
  }
  return undefined;
}

function familyOf(name: unknown): 'pmfDiT' | 'toy-mlp' | undefined {
  return name === 'pmfDiT' ? 'pmfDiT' : name === 'toyMLP' ? 'toy-mlp' : undefined;
}

// ---- 3, 4: pmfDiT key names and shapes ----------------------------------------------------------

function fromOfficialKeys(tensors: TensorEntry[]): ArchitectureGuess | undefined {
  const shapes = shapeMap(tensors);
  const official = shapes.has('net.rope_freqs') || tensors.some((t) => t.name.startsWith('net.') && /\._flax_(linear|embedding)\./.test(t.name));
  if (!official || !shapes.has('net.pos_embed') || !shapes.has('net.x_embedder.proj1.weight')) return undefined;
  const config = ditConfig(shapes, 'net.', true);
  if (config.v_head === true) {
    // The paper counts parameters without the auxiliary v head, which inference drops (B/16: 118M).
    config.params_without_v_head = tensors
      .filter((t) => !/^net\.(v_heads\.|v_final_layer\.)/.test(t.name) && t.name !== 'net.rope_freqs')
      .reduce((n, t) => n + t.numel, 0);
  }
  return guess('pmfDiT-official', config, 'official pMF key names and tensor shapes');
}

function fromPmfDiTKeys(tensors: TensorEntry[]): ArchitectureGuess | undefined {
  const shapes = shapeMap(tensors);
  const anchor = tensors.find((t) => t.name.endsWith('x_embedder.proj1.weight'));
  if (!anchor) return undefined;
  const prefix = anchor.name.slice(0, -'x_embedder.proj1.weight'.length);
  if (!shapes.has(`${prefix}pos_embed`)) return undefined;
  return guess('pmfDiT', ditConfig(shapes, prefix, false), `pmfDiT key names${prefix ? ` (under '${prefix.slice(0, -1)}')` : ''} and tensor shapes`);
}

/** The DiTConfig that official.py infer_config (or its equivalent for our key names) recovers from shapes. */
function ditConfig(shapes: Map<string, number[]>, p: string, official: boolean): Config {
  const lin = official ? '._flax_linear' : '';
  const emb = official ? '._flax_embedding' : '';
  const get = (k: string) => shapes.get(p + k);
  const cfg: Config = {};
  const pos = get('pos_embed') ?? [];
  const d = pos[pos.length - 1];
  const [bottleneck, inCh, patch] = get('x_embedder.proj1.weight') ?? [];
  const blocks = (group: string) => new Set([...shapes.keys()].flatMap((k) => {
    const m = k.startsWith(`${p}${group}.`) ? /^(\d+)\./.exec(k.slice(p.length + group.length + 1)) : null;
    return m ? [Number(m[1])] : [];
  })).size;
  const shared = blocks('shared_blocks');
  const uHeads = blocks('u_heads');
  const vHeads = blocks('v_heads');
  const tokens = (name: string) => get(`${name}_tokens`)?.[1];
  const numClassTokens = tokens('class');
  const numCfgTokens = tokens('omega');
  const numIntervalTokens = tokens('t_min');
  const numTimeTokens = tokens('time');
  const yTable = get(`y_embedder.embedding_table${emb}.weight`);
  const rope = get('rope_freqs');
  const qNorm = get('shared_blocks.0.attn.q_norm.weight') ?? get('u_heads.0.attn.q_norm.weight');
  const headDim = rope ? 2 * rope[1] : qNorm?.[0];
  const prefixTokens = (numClassTokens ?? 0) + (numCfgTokens ?? 0) + 2 * (numIntervalTokens ?? 0) + (numTimeTokens ?? 0);
  const numPatches = rope ? rope[0] : pos.length === 3 ? pos[1] - prefixTokens : undefined;
  const grid = numPatches !== undefined ? Math.round(Math.sqrt(numPatches)) : undefined;
  const mlp = get(`shared_blocks.0.mlp.w1${lin}.weight`) ?? get(`u_heads.0.mlp.w1${lin}.weight`);
  const freq = get(`h_embedder.mlp.0${lin}.weight`)?.[1];

  const set = (k: string, v: number | boolean | undefined) => {
    if (v !== undefined && (typeof v === 'boolean' || Number.isFinite(v))) cfg[k] = v;
  };
  set('hidden_size', d);
  set('depth', shared + uHeads);
  set('num_heads', d !== undefined && headDim ? d / headDim : undefined);
  set('patch_size', patch);
  set('in_channels', inCh);
  set('input_size', grid !== undefined && grid * grid === numPatches && patch !== undefined ? grid * patch : undefined);
  set('num_classes', yTable ? yTable[0] - 1 : 0);
  set('cfg_inputs', numCfgTokens !== undefined);
  set('aux_head_depth', uHeads);
  set('v_head', vHeads > 0);
  set('bottleneck_channels', bottleneck);
  set('num_class_tokens', numClassTokens);
  set('num_time_tokens', numTimeTokens);
  set('num_cfg_tokens', numCfgTokens);
  set('num_interval_tokens', numIntervalTokens);
  set('mlp_hidden', mlp?.[0]);
  set('frequency_embedding_size', freq);
  return cfg;
}

// ---- 5: the toy MLP -----------------------------------------------------------------------------

function fromToyMlpKeys(tensors: TensorEntry[]): ArchitectureGuess | undefined {
  if (!tensors.length) return undefined;
  const layers = new Map<number, number[]>();
  let prefix: string | undefined;
  for (const t of tensors) {
    const m = /^(.*?)net\.(\d+)\.(weight|bias)$/.exec(t.name);
    if (!m || (prefix !== undefined && m[1] !== prefix)) return undefined;
    prefix = m[1];
    if (m[3] === 'weight') {
      if (t.shape.length !== 2) return undefined;
      layers.set(Number(m[2]), t.shape);
    }
  }
  const weights = [...layers.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s);
  if (weights.length < 2) return undefined;
  const dim = weights[weights.length - 1][0];
  const widthIn = weights[0][1];
  const config: Config = { dim, hidden: weights[0][0], layers: weights.length };
  if ((widthIn - dim) % 2 === 0 && widthIn > dim) config.time_features = (widthIn - dim) / 2;
  return guess('toy-mlp', config, 'key names and shapes of a net.<i> MLP, like the toy model of Fig. 2');
}

// ---- helpers ------------------------------------------------------------------------------------

function shapeMap(tensors: TensorEntry[]): Map<string, number[]> {
  return new Map(tensors.map((t) => [t.name, t.shape]));
}

function parseObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Scalars of a JSON object, nested objects as dotted keys; lists are left out. */
function flatten(obj: Record<string, unknown>, prefix = '', out: Config = {}): Config {
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[prefix + k] = v;
    else if (isObject(v)) flatten(v, `${prefix}${k}.`, out);
  }
  return out;
}
