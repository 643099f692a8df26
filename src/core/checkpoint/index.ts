// The pMF checkpoint reader: ONNX header decoding plus the contract of docs/checkpoint-format.md.
import { validateContract } from './contract';
import { readOnnxHeader } from './onnxReader';
import type { PmfModelInfo } from './types';

export * from './types';
export { validateContract } from './contract';
export { describePrecision, parsePrecision, type Precision } from './precision';
export { readOnnxHeader, type OnnxHeader } from './onnxReader';
export * from './onnxSchema';

/** Reads and validates a pMF checkpoint; throws CheckpointError with a message for the user. */
export function readCheckpoint(bytes: Uint8Array, fileName: string): PmfModelInfo {
  return validateContract(readOnnxHeader(bytes, fileName), fileName);
}
