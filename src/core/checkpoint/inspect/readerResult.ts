// What each format's reader hands to inspectCheckpoint, which adds the format-independent parts
// of the summary (parameter counts, architecture, general findings).
import type { CheckpointFormat, Finding, OnnxDetails, PickleDetails, TensorEntry } from './types';

export interface ReaderResult {
  format: CheckpointFormat;
  tensors: TensorEntry[];
  metadata: Record<string, string>;
  findings: Finding[];
  onnx?: OnnxDetails;
  pickle?: PickleDetails;
}
