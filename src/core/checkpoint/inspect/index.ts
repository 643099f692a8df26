// pMF: Inspect Checkpoint, the core: explains a checkpoint file (.onnx, .safetensors, PyTorch
// .pt/.pth/.ckpt) without executing anything in it. The format is told by the file's first bytes
// (detect.ts); one reader per format (formats.ts) lists the tensors and format-specific facts; this
// module reads every file as torch.load would first, and adds parameter counts, the architecture
// and the findings that hold for every format. Pure TypeScript: bytes come through a ByteSource
// (src/node/fileSource.ts for files, bufferSource for memory).
import { inferArchitecture } from './architecture';
import { describeUnknown, detect, HEAD_BYTES } from './detect';
import { formatParams } from './display';
import { pickleBudget, type PickleBudget } from './pickleMachine';
import { isWholePickle, pytorchPickleFormat, readTorchPickles, type TorchPickles } from './pytorchPickle';
import { dangerFindings } from './pytorchTensors';
import type { ReadContext, ReaderResult } from './readerResult';
import { InspectError, type ArchitectureGuess, type ByteSource, type CheckpointSummary, type Finding } from './types';
import { isZipArchive } from './zipArchive';

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

export interface InspectOptions {
  /** Wall-clock time for parsing the file's structure (default 30 s; PMF_INSPECT_BUDGET_MS in the CLI). */
  budgetMs?: number;
}

export const DEFAULT_BUDGET_MS = 30_000;

/**
 * The summary of a checkpoint. The safety verdict follows what torch.load would unpickle: a ZIP
 * archive (first bytes PK\x03\x04) through its data.pkl, anything else as torch.load's legacy
 * path reads it (tar, then consecutive pickles), whatever the file looks like otherwise. A file
 * whose pickles reference code a Python load would run is reported with danger findings, or, if
 * it is no checkpoint pMF Lab reads, refused with InspectError 'dangerous'.
 */
export async function inspectCheckpoint(source: ByteSource, fileName: string, opts: InspectOptions = {}): Promise<CheckpointSummary> {
  if (source.size === 0) throw new InspectError('empty', `${fileName} is empty (0 bytes): there is nothing to inspect.`);
  const budget = pickleBudget(source.size, opts.budgetMs ?? DEFAULT_BUDGET_MS);
  const head = await source.read(0, Math.min(source.size, HEAD_BYTES));
  const detected = detect(head);

  // First, for every file, what torch.load would unpickle from it. This is not a property of one
  // format but of what a Python user may do with any file called .pt or .bin: a safetensors or
  // ONNX file, or none at all, can also be a pickle that runs code when loaded.
  const torch = await torchLoadPass(source, head, budget);
  if (torch?.kind === 'tar') throw tarRefused(fileName);
  // Pickles of protocols 0 and 1 have no signature: a file no format claims that torch.load reads
  // whole is a pickle.
  const reader = 'unknown' in detected ? (torch && isWholePickle(torch) ? pytorchPickleFormat : undefined) : detected;
  const ctx: ReadContext = { head, budget, torch, notThisFormat: () => unknownFormat(fileName, describeUnknown(head)) };
  if (reader?.readsTorchPickles) return summarise(await reader.read(source, fileName, ctx), fileName, source.size);

  // Not a pickle for torch.load, or a file of another format that also parses as one: what
  // torch.load would run before failing still counts.
  const danger = torch ? dangerFindings(torch.log, 'zip') : [];
  let result: ReaderResult;
  try {
    if (!reader) {
      const what = 'unknown' in detected ? detected.unknown : describeUnknown(head);
      throw unknownFormat(fileName, torch?.tarWithoutStorages ? 'a tar archive: extract the checkpoint from it first' : what);
    }
    result = await reader.read(source, fileName, ctx);
  } catch (e) {
    if (danger.length) {
      const why = e instanceof Error ? e.message : String(e);
      throw new InspectError('dangerous', `${fileName}: a Python load would run code from it (see DANGER) before it fails; do not load it. Besides, ${why}`, danger);
    }
    throw e;
  }
  result.findings.unshift(...danger);
  return summarise(result, fileName, source.size);
}

/**
 * What torch.load unpickles from the file. torch.load opens a file that starts as a ZIP archive
 * as one and unpickles its data.pkl: the pytorch-zip reader reads that, and every other pickle of
 * the archive, itself (undefined here). Any other file goes through torch.load's legacy path.
 * (A format of other ZIP archives, such as .npz, would need torch.load's ZIP path here: its
 * data.pkl, if any, read as pytorchZip.ts reads it.)
 */
async function torchLoadPass(source: ByteSource, head: Uint8Array, budget: PickleBudget): Promise<TorchPickles | undefined> {
  return isZipArchive(head) ? undefined : readTorchPickles(source, budget);
}

function tarRefused(fileName: string): InspectError {
  return new InspectError(
    'dangerous',
    `${fileName} is a PyTorch checkpoint in the tar format of PyTorch before 0.4: torch.load would unpickle its members, ` +
      'and pMF Lab does not read that format, so it cannot vouch for them. Load it only if you trust its source.',
    [{ severity: 'danger', message: 'A pre-0.4 tar checkpoint: its pickles were not checked.' }],
  );
}

function unknownFormat(fileName: string, what: string): InspectError {
  return new InspectError('unknown-format', `${fileName} is not a checkpoint: it looks like ${what}. ${SUPPORTED}`);
}

function summarise(r: ReaderResult, fileName: string, fileSize: number): CheckpointSummary {
  const byDtype = new Map<string, number>();
  let totalParams = 0;
  for (const t of r.tensors) {
    totalParams += t.numel;
    byDtype.set(t.dtype, (byDtype.get(t.dtype) ?? 0) + t.numel);
  }
  // Counted in a Map: a dtype the file names "constructor" or "__proto__" starts from 0 like any other.
  const paramsByDtype: Record<string, number> = Object.fromEntries(byDtype);
  const architecture = inferArchitecture(r.tensors, r.metadata, r.format);
  const findings = sortFindings([...r.findings, ...generalFindings(r, architecture, paramsByDtype, fileName)]);
  // The keys in the order `pmf inspect --json` prints them: the common ones, then the format's
  // details (onnx, pickle, ...) from the reader's result.
  const common = { format: r.format, fileName, fileSize, tensors: r.tensors, totalParams, paramsByDtype, metadata: r.metadata, architecture, findings };
  return { ...common, ...r, findings };
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
