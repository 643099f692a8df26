// pmf inspect A --compare B: the tensors two checkpoints share and how far apart their values are.
import { basename } from 'node:path';
import {
  compareCheckpoints,
  inspectCheckpoint,
  type CheckpointSummary,
  type TensorDiff,
  type TensorEntry,
} from '../core/checkpoint/inspect';
import { listHead } from '../core/listHead';
import { CheckpointFiles } from '../node/fileSource';
import { EXIT_DANGER } from './inspectExit';

interface Row {
  name: string;
  /** The name in the other file. */
  other: string;
  shape: number[];
  /** The other file stores this 2-D weight transposed (an ONNX MatMul weight against a PyTorch Linear weight). */
  transposed?: true;
  diff?: TensorDiff;
  error?: string;
}

function num(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(2) : v.toPrecision(3);
}

export async function cmdCompare(pathA: string, pathB: string, keep: (t: TensorEntry) => boolean, json: boolean): Promise<number> {
  const filesA = new CheckpointFiles(pathA);
  const filesB = new CheckpointFiles(pathB);
  try {
    const a = await inspectCheckpoint(await filesA.source(), basename(pathA));
    const b = await inspectCheckpoint(await filesB.source(), basename(pathB));
    const rows: Row[] = [];
    let onlyA: string[] = [];
    let onlyB: string[] = [];
    await compareCheckpoints({ summary: a, source: (f) => filesA.source(f) }, { summary: b, source: (f) => filesB.source(f) },
      (m) => {
        onlyA = m.onlyA.map((i) => a.tensors[i]).filter(keep).map((t) => t.name);
        onlyB = m.onlyB.map((j) => b.tensors[j]).filter(keep).map((t) => t.name);
      },
      (r) => rows.push({ name: a.tensors[r.index].name, other: r.other, shape: a.tensors[r.index].shape,
        ...(r.transposed ? { transposed: true as const } : {}), ...(r.diff ? { diff: r.diff } : {}), ...(r.error ? { error: r.error } : {}) }),
      { keep });
    const findings = { a: a.findings, b: b.findings };
    if (json) {
      process.stdout.write(JSON.stringify({ a: pathA, b: pathB, findings, tensors: rows, onlyA, onlyB }, null, 2) + '\n');
    } else {
      process.stdout.write(describe(a, b, rows, onlyA, onlyB));
    }
    // The gate holds for both files: either one that a Python load would run code from fails the command.
    return [...a.findings, ...b.findings].some((f) => f.severity === 'danger') ? EXIT_DANGER : 0;
  } finally {
    await filesA.close();
    await filesB.close();
  }
}

function describe(
  a: CheckpointSummary,
  b: CheckpointSummary,
  rows: Row[],
  onlyA: string[],
  onlyB: string[],
): string {
  const out: string[] = [];
  for (const s of [a, b]) {
    for (const f of s.findings.filter((x) => x.severity !== 'info')) out.push(`${s.fileName}: ${f.severity.toUpperCase()}: ${f.message}`);
  }
  const same = rows.filter((r) => r.diff?.identical).length;
  const transposed = rows.filter((r) => r.transposed).length;
  out.push(`${a.fileName} against ${b.fileName}: ${rows.length} tensors in both (${same} identical` +
    `${transposed ? `, ${transposed} stored transposed in one of them` : ''}), ` +
    `${onlyA.length} only in ${a.fileName}, ${onlyB.length} only in ${b.fileName}`);
  const compared = rows.filter((r) => r.diff && !r.diff.identical).sort((x, y) => y.diff!.relative - x.diff!.relative);
  if (compared.length) {
    out.push('  relative L2 distance  max |a - b|  cosine    tensor (largest change first)');
    for (const r of compared) {
      const d = r.diff!;
      out.push(`  ${num(d.relative).padStart(20)}  ${num(d.maxAbs).padStart(11)}  ${num(d.cosine).padStart(8)}  ${r.name}` +
        `${r.other !== r.name ? ` (${r.other})` : ''}${d.nonFinite ? `  (${d.nonFinite} NaN/inf pairs skipped)` : ''}`);
    }
  }
  for (const r of rows.filter((x) => x.error)) out.push(`  not compared: ${r.name}: ${r.error}`);
  const list = (names: string[]) => listHead(names, 8);
  if (onlyA.length) out.push(`  only in ${a.fileName}: ${list(onlyA)}`);
  if (onlyB.length) out.push(`  only in ${b.fileName}: ${list(onlyB)}`);
  return out.join('\n') + '\n';
}
