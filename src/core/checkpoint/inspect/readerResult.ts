// A checkpoint format as inspectCheckpoint sees it (one FormatReader per format, listed in
// formats.ts) and what its reader hands back, to which inspectCheckpoint adds the
// format-independent parts of the summary (parameter counts, architecture, general findings).
import type { PickleBudget } from './pickleMachine';
import type { TorchPickles } from './pytorchPickle';
import type { ByteSource, FormatDetails, InspectError, SummaryCommon } from './types';

/** What a reader found: the tensors, metadata and findings of the file, and its format's details. */
export type ReaderResult = Pick<SummaryCommon, 'tensors' | 'metadata' | 'findings'> & FormatDetails;

export interface ReadContext {
  /** The file's first bytes (HEAD_BYTES of detect.ts, or the whole file when it is smaller), as sniff saw them. */
  head: Uint8Array;
  /** The work and time budget for parsing the file's structure (pickles, and whatever else needs one). */
  budget: PickleBudget;
  /**
   * What torch.load's legacy path unpickled from the file (pytorchPickle.ts), read before any
   * reader; undefined for a ZIP archive, which torch.load opens as one.
   */
  torch?: TorchPickles;
  /**
   * The error for a file this reader finds, reading on, not to be of its format after all: the
   * 'unknown-format' error that says what the file looks like, as for a file no format claims.
   */
  notThisFormat(): InspectError;
}

/**
 * One checkpoint format: how its files start and how to read one. Adding a format is adding a
 * file that exports one of these and listing it in formats.ts (docs/architecture.md).
 */
export interface FormatReader {
  /** For tests and the docs: 'pytorch-zip', 'pytorch-pickle', 'safetensors', 'onnx', ... */
  readonly name: string;
  /** The summary's format (several readers may share one). */
  readonly format: FormatDetails['format'];
  /**
   * 'magic': the first bytes say the format (a signature); tried in the order of formats.ts.
   * 'weak': the first bytes only allow it (ONNX: a protobuf field tag); tried, in that order, after
   * the signatures of common files that are not checkpoints (detect.ts), so a PNG or a bzip2 file
   * is told as such rather than read as a damaged checkpoint.
   */
  readonly signature: 'magic' | 'weak';
  /** True when `head` (the file's first bytes) can start a file of this format. */
  sniff(head: Uint8Array): boolean;
  /**
   * The reader reads the pickles torch.load would unpickle from the file and reports their dangers
   * itself (the PyTorch formats). For any other reader, inspectCheckpoint puts the danger
   * findings of torch.load's pass before the reader's and, when there are some, turns the
   * reader's failure into InspectError 'dangerous'.
   */
  readonly readsTorchPickles?: boolean;
  /** Reads the file; throws InspectError (or ctx.notThisFormat()) when it cannot. */
  read(source: ByteSource, fileName: string, ctx: ReadContext): Promise<ReaderResult>;
}
