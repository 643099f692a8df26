// pMF: Inspect Checkpoint, the core: explains a checkpoint file (.onnx, .safetensors, PyTorch
// .pt/.pth/.ckpt) without executing anything in it. The format is told by the file's first bytes;
// one reader per format lists the tensors and format-specific facts; this module adds parameter
// counts, the architecture and the findings that hold for every format. Pure TypeScript: bytes
// come through a ByteSource (src/node/fileSource.ts for files, bufferSource for memory).
import { CheckpointError } from '../types';
import { inferArchitecture } from './architecture';
import { detect, describeUnknown, HEAD_BYTES } from './detect';
import { formatParams } from './display';
import { readOnnx } from './onnxInspector';
import { readPickleFile, readPytorchZip } from './pytorchReader';
import type { ReaderResult } from './readerResult';
import { readSafetensors } from './safetensorsReader';
import { InspectError, type ArchitectureGuess, type ByteSource, type CheckpointSummary, type Finding } from './types';

export * from './types';
export { bufferSource, plainView } from './byteSource';
export { statsEach, tensorStats, float16ToNumber, bfloat16ToNumber, type StatsResult } from './stats';
export { inferArchitecture, officialLabel } from './architecture';
export {
  compareCheckpoints,
  comparePairs,
  matchTensors,
  tensorDiff,
  type Matching,
  type OpenedCheckpoint,
  type PairResult,
  type TensorDiff,
  type TensorMatch,
} from './compare';
export { formatParams, isExporterName, moduleOf, tensorMatches } from './display';

const SUPPORTED =
  'pMF Lab reads ONNX (.onnx), safetensors (.safetensors) and PyTorch checkpoints (.pt, .pth, .ckpt: ' +
  'torch.save files, zip or legacy, and TorchScript archives).';

export async function inspectCheckpoint(source: ByteSource, fileName: string): Promise<CheckpointSummary> {
  if (source.size === 0) throw new InspectError('empty', `${fileName} is empty (0 bytes): there is nothing to inspect.`);
  const head = await source.read(0, Math.min(source.size, HEAD_BYTES));
  const kind = detect(head);
  if (typeof kind === 'object') throw unknownFormat(fileName, kind.unknown);
  let result: ReaderResult;
  switch (kind) {
    case 'zip':
      result = await readPytorchZip(source, fileName);
      break;
    case 'pickle':
      result = await readPickleFile(source, fileName);
      break;
    case 'safetensors':
      result = await readSafetensors(source, fileName);
      break;
    case 'onnx':
      try {
        result = await readOnnx(source, fileName);
      } catch (e) {
        if (e instanceof CheckpointError && e.code === 'not-onnx') throw unknownFormat(fileName, describeUnknown(head));
        throw e;
      }
      break;
  }
  return summarise(result, fileName, source.size);
}

function unknownFormat(fileName: string, what: string): InspectError {
  return new InspectError('unknown-format', `${fileName} is not a checkpoint: it looks like ${what}. ${SUPPORTED}`);
}

function summarise(r: ReaderResult, fileName: string, fileSize: number): CheckpointSummary {
  const paramsByDtype: Record<string, number> = {};
  let totalParams = 0;
  for (const t of r.tensors) {
    totalParams += t.numel;
    paramsByDtype[t.dtype] = (paramsByDtype[t.dtype] ?? 0) + t.numel;
  }
  const architecture = inferArchitecture(r.tensors, r.metadata, r.format);
  const findings = sortFindings([...r.findings, ...generalFindings(r, architecture, paramsByDtype, fileName)]);
  return {
    format: r.format,
    fileName,
    fileSize,
    tensors: r.tensors,
    totalParams,
    paramsByDtype,
    metadata: r.metadata,
    architecture,
    findings,
    ...(r.onnx ? { onnx: r.onnx } : {}),
    ...(r.pickle ? { pickle: r.pickle } : {}),
  };
}

/** Findings about the weights and what to do with them, whatever the format. */
function generalFindings(
  r: ReaderResult,
  arch: ArchitectureGuess,
  paramsByDtype: Record<string, number>,
  fileName: string,
): Finding[] {
  const out: Finding[] = [];
  const official = arch.family === 'pmfDiT-official';
  const stem = fileName.replace(/\.[^.]*$/, '') || 'model';
  if (r.format !== 'onnx') {
    const half = ['bfloat16', 'float16'].filter((d) => paramsByDtype[d]);
    for (const d of half) {
      out.push({
        severity: 'info',
        message: `${d} weights (${formatParams(paramsByDtype[d])} parameters): the extension's ONNX runtime needs float32; ` +
          `${official ? 'convert-official converts them' : 'an ONNX export must convert them'}.`,
      });
    }
  }
  if (official) {
    out.push({
      severity: 'info',
      message: `An official pMF checkpoint${arch.label ? ` (${arch.label})` : ''}. Convert it to a runnable pMF ONNX file with ` +
        `scripts/pmf-trainer convert-official --ckpt ${fileName} --out ${stem}.onnx`,
    });
  } else if (r.format !== 'onnx' && (arch.family === 'pmfDiT' || arch.family === 'toy-mlp')) {
    out.push({
      severity: 'info',
      message: `Weights of a pMF Lab ${arch.family} model. The extension runs ONNX checkpoints: ` +
        "'scripts/pmf-trainer export --run-dir <run> --out <name>.onnx' writes one from a training run.",
    });
  }
  return out;
}

const SEVERITY_ORDER: Record<Finding['severity'], number> = { danger: 0, warning: 1, info: 2 };

/** danger, then warning, then info; the order within a severity is kept. */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => SEVERITY_ORDER[a.f.severity] - SEVERITY_ORDER[b.f.severity] || a.i - b.i)
    .map(({ f }) => f);
}
