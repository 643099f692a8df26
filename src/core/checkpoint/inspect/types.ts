// What pMF: Inspect Checkpoint shows about a file: one summary for every format (.onnx,
// .safetensors, PyTorch .pt/.pth/.ckpt), read without running anything in it.
import type { CheckpointErrorCode, PmfModelInfo, TensorSpec } from '../types';

/** Random access to a file's bytes (a Node file handle, a buffer in memory, ...). */
export interface ByteSource {
  readonly size: number;
  /**
   * Exactly `length` bytes from `offset` as a plain Uint8Array (not a Node Buffer: see plainView);
   * rejects when the range runs past the end.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** One tensor (weight) of a checkpoint. */
export interface TensorEntry {
  name: string;
  /** Lower-case element type: float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool, ... */
  dtype: string;
  shape: number[];
  numel: number;
  /**
   * Where its elements lie, little-endian and contiguous, for statistics. `file` is set for
   * ONNX external data (a path relative to the checkpoint's folder). Absent when they cannot be
   * read in place; `note` then says why.
   */
  data?: { offset: number; byteLength: number; file?: string };
  note?: string;
  /**
   * ONNX: the nodes that read this initializer (node name, else operator type), at most
   * MAX_USED_BY. Exporters name many weights `onnx::MatMul_1914`; the consumer
   * (/net/shared_blocks.0/attn/q_proj/MatMul) says which module they belong to.
   */
  usedBy?: string[];
}

export const MAX_USED_BY = 8;

export interface Finding {
  severity: 'info' | 'warning' | 'danger';
  message: string;
}

/** The network as far as the file tells it. */
export interface ArchitectureGuess {
  family: 'pmfDiT-official' | 'pmfDiT' | 'toy-mlp' | 'unknown';
  /** e.g. "pMF-B/16" when the sizes match a model of the paper's tables. */
  label?: string;
  /** hidden_size, depth, num_heads, patch_size, in_channels, num_classes, ... as inferred. */
  config: Record<string, number | string | boolean>;
  /** How the guess was made (metadata, key names and shapes, ...). */
  basis: string;
}

export type ContractResult =
  | { ok: true; info: PmfModelInfo }
  | { ok: false; code: CheckpointErrorCode; message: string };

export interface OnnxDetails {
  irVersion: number;
  producer: string;
  opsets: Array<{ domain: string; version: number }>;
  nodeCount: number;
  /** Operator type -> how many nodes use it. */
  opCounts: Record<string, number>;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** The pMF checkpoint contract (docs/checkpoint-format.md) applied to the file. */
  contract: ContractResult;
}

export interface PickleGlobal {
  module: string;
  name: string;
  /** On the list of what a PyTorch state dict legitimately references (tensor rebuilders, storages, OrderedDict, ...). */
  allowed: boolean;
}

export interface PickleDetails {
  /** 'zip': torch.save since PyTorch 1.6; 'torchscript': a torch.jit archive; 'legacy': the pre-1.6 format. */
  layout: 'zip' | 'torchscript' | 'legacy';
  protocol: number;
  /** Every global the pickle references, each once, in order of first use. */
  globals: PickleGlobal[];
  /** Where the tensors were found, e.g. "state_dict", "model", "ema.shadows[0]" or "" (top level). */
  tensorPath: string;
  /** Other top-level keys and what they hold, e.g. {"step": "int 4600", "optimizer": "dict (12 keys)"}. */
  topLevel: Record<string, string>;
}

/** What every summary holds, whatever the format. */
export interface SummaryCommon {
  fileName: string;
  fileSize: number;
  tensors: TensorEntry[];
  totalParams: number;
  /** Parameters per dtype. */
  paramsByDtype: Record<string, number>;
  /** ONNX metadata_props, safetensors __metadata__; empty for pickles unless they hold a JSON config. */
  metadata: Record<string, string>;
  architecture: ArchitectureGuess;
  /** Safety, consistency and contract findings, most severe first. */
  findings: Finding[];
}

/**
 * What one format tells beyond the tensors, keyed on the format: every ONNX file has its graph's
 * details, every PyTorch file (zip, TorchScript, legacy or plain pickle) its pickle's, and
 * safetensors has nothing more than its header's tensors and metadata.
 */
export type FormatDetails =
  | { format: 'onnx'; onnx: OnnxDetails }
  | { format: 'safetensors' }
  | { format: 'pytorch'; pickle: PickleDetails };

export type CheckpointFormat = FormatDetails['format'];

/** The summary of a checkpoint; narrow on `format` for the format's details. */
export type CheckpointSummary = SummaryCommon & FormatDetails;

export interface TensorStats {
  count: number;
  /** Over finite values; NaN when there are none. */
  min: number;
  max: number;
  mean: number;
  std: number;
  absMax: number;
  nan: number;
  inf: number;
  zeros: number;
  /** Equal-width bins over [min, max] of the finite values. */
  histogram: { lo: number; hi: number; counts: number[] };
}

export interface StatsOptions {
  bins?: number;
  /**
   * Decoded values kept between the moments and the histogram pass (default 64 MB). A tensor
   * larger than this is read twice instead; 0 always reads twice.
   */
  holdBytes?: number;
  signal?: AbortSignal;
  /** Fraction done, 0..1. */
  onProgress?: (fraction: number) => void;
}

/**
 * A file that cannot be inspected; `message` is meant for the user as is and names the file.
 * The codes and the CLI's exit code for each are in docs/errors.md. 'dangerous' carries the
 * danger findings of what was read before reading stopped (a Python load would run that code).
 */
export class InspectError extends Error {
  constructor(
    readonly code:
      | 'empty' | 'unknown-format' | 'truncated' | 'corrupt' | 'unsupported' | 'too-large'
      | 'not-a-file' | 'budget' | 'ambiguous' | 'dangerous',
    message: string,
    readonly findings: Finding[] = [],
  ) {
    super(message);
    this.name = 'InspectError';
  }
}
