// safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header length
// N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the tensor data; offsets count from the end of the header. Nothing in it is executable;
// what can be wrong is the layout, which is checked here the way the reference loader does.
import { readRange, truncatedError } from './byteSource';
import { itemSize, product, SAFETENSORS_DTYPES } from './dtypes';
import type { FormatReader, ReaderResult } from './readerResult';
import { InspectError, type ByteSource, type Finding, type TensorEntry } from './types';

const MAX_HEADER = 100 * 1024 * 1024;

export const safetensorsFormat: FormatReader = {
  name: 'safetensors',
  format: 'safetensors',
  signature: 'magic',
  sniff: looksLikeSafetensors,
  read: (source, fileName) => readSafetensors(source, fileName),
};

/** True when the first bytes are a plausible safetensors header start (length, then '{'). */
export function looksLikeSafetensors(head: Uint8Array): boolean {
  if (head.length < 9 || head[8] !== 0x7b) return false;
  const view = new DataView(head.buffer, head.byteOffset, 8);
  return view.getUint32(4, true) === 0 && view.getUint32(0, true) >= 2;
}

export async function readSafetensors(source: ByteSource, fileName: string): Promise<ReaderResult> {
  const lenBytes = await readRange(source, 0, 8, 'the header length', fileName);
  const view = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
  const n = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (n > MAX_HEADER) {
    throw new InspectError('corrupt', `${fileName}: its safetensors header claims ${n} bytes; headers over 100 MB are refused (a damaged file?). Download or copy it again.`);
  }
  if (n > source.size - 8) {
    throw truncatedError(fileName, `its safetensors header claims ${n} bytes but the file has only ${source.size - 8} after the length field`);
  }
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(await source.read(8, n));
    const depth = nesting(text);
    if (depth > MAX_NESTING) {
      throw new InspectError('corrupt', `${fileName}: its safetensors header nests ${depth} levels deep; a header needs 3. Download or copy it again.`);
    }
    header = JSON.parse(text);
  } catch (e) {
    if (e instanceof InspectError) throw e;
    throw new InspectError('corrupt', `${fileName}: its safetensors header is not valid JSON (${(e as Error).message}). Download or copy it again.`);
  }
  if (!isObject(header)) throw new InspectError('corrupt', `${fileName}: its safetensors header is not a JSON object.`);

  const findings: Finding[] = [];
  const metadata: Record<string, string> = {};
  const base = 8 + n;
  const dataSize = source.size - base;
  const tensors: TensorEntry[] = [];
  const spans: Array<{ name: string; begin: number; end: number }> = [];

  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      readMetadata(value, metadata, findings);
      continue;
    }
    const entry = readEntry(name, value, base, dataSize, findings);
    tensors.push(entry.tensor);
    if (entry.span) spans.push(entry.span);
  }
  const last = spans.reduce((a, s) => (s.end > a.end ? s : a), { name: '', begin: 0, end: 0 });
  if (last.end > dataSize) {
    throw truncatedError(fileName, `tensor ${last.name}'s data ends at byte ${last.end} of the data, which holds only ${dataSize} bytes`);
  }
  checkLayout(spans, dataSize, findings);
  if (!('__metadata__' in header)) {
    findings.push({
      severity: 'info',
      message: 'No __metadata__: the file does not say what model it holds; the architecture is guessed from tensor names and shapes.',
    });
  }
  return { format: 'safetensors', tensors, metadata, findings };
}

function readMetadata(value: unknown, metadata: Record<string, string>, findings: Finding[]): void {
  if (!isObject(value)) {
    findings.push({ severity: 'warning', message: '__metadata__ is not a JSON object; ignored.' });
    return;
  }
  const nonStrings: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string') metadata[k] = v;
    else {
      metadata[k] = JSON.stringify(v);
      nonStrings.push(k);
    }
  }
  if (nonStrings.length) {
    findings.push({
      severity: 'warning',
      message: `__metadata__ values must be strings (the safetensors library refuses others): ${nonStrings.join(', ')}.`,
    });
  }
}

function readEntry(
  name: string,
  value: unknown,
  base: number,
  dataSize: number,
  findings: Finding[],
): { tensor: TensorEntry; span?: { name: string; begin: number; end: number } } {
  const bad = (why: string, known: Partial<TensorEntry> = {}) => {
    findings.push({ severity: 'warning', message: `Tensor ${name}: ${why}; its data is not read.` });
    return { tensor: { name, dtype: 'unknown', shape: [], numel: 0, ...known, note: why } };
  };
  if (!isObject(value)) return bad('its header entry is not an object');
  const { dtype: code, shape, data_offsets: offsets } = value;
  if (typeof code !== 'string') return bad('no dtype');
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return bad('its shape is not a list of sizes');
  const dims = shape as number[];
  const dtype = SAFETENSORS_DTYPES[code] ?? code.toLowerCase();
  const numel = product(dims);
  const tensor: TensorEntry = { name, dtype, shape: dims, numel };
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]
  ) {
    return bad('data_offsets is not a [begin, end] pair', tensor);
  }
  const [begin, end] = offsets as [number, number];
  const span = { name, begin, end };
  if (end > dataSize) return { tensor: { ...tensor, note: 'data_offsets point past the end of the file' }, span }; // truncated: readSafetensors says so
  const size = itemSize(dtype);
  if (!(code in SAFETENSORS_DTYPES) || size === undefined) {
    findings.push({ severity: 'warning', message: `Tensor ${name}: unknown dtype ${code}.` });
    return { tensor: { ...tensor, note: `unknown dtype ${code}` }, span };
  }
  if (end - begin !== numel * size) {
    findings.push({
      severity: 'warning',
      message: `Tensor ${name}: ${end - begin} bytes of data for shape [${dims.join(', ')}] of ${dtype} ` +
        `(${numel * size} expected); loaders refuse this file.`,
    });
    return { tensor: { ...tensor, note: `${end - begin} bytes of data, ${numel * size} expected` }, span };
  }
  return { tensor: { ...tensor, data: { offset: base + begin, byteLength: end - begin } }, span };
}

/** The reference loader wants the data covered exactly: in order, no overlaps, no holes, nothing after. */
function checkLayout(spans: Array<{ name: string; begin: number; end: number }>, dataSize: number, findings: Finding[]): void {
  const sorted = [...spans].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: { name: string; end: number } | undefined;
  const holes: string[] = [];
  for (const s of sorted) {
    if (prev && s.begin < prev.end) {
      findings.push({
        severity: 'warning',
        message: `Tensors ${prev.name} and ${s.name} overlap in the file (bytes ${s.begin}-${Math.min(s.end, prev.end)} of the data): ` +
          'writing to one changes the other, and the safetensors library refuses such files.',
      });
    } else if (s.begin > pos) {
      holes.push(`${pos}-${s.begin}`);
    }
    pos = Math.max(pos, s.end);
    if (!prev || s.end > prev.end) prev = s;
  }
  if (holes.length) {
    findings.push({
      severity: 'warning',
      message: `Unused bytes between tensors (data bytes ${holes.slice(0, 3).join(', ')}${holes.length > 3 ? ', ...' : ''}): ` +
        'the safetensors library refuses files with holes.',
    });
  }
  if (spans.length && pos < dataSize) {
    findings.push({ severity: 'warning', message: `${dataSize - pos} bytes after the last tensor's data are not part of any tensor.` });
  }
}

/** A safetensors header is an object of objects (3 levels with __metadata__); JSON this deep is no header, and reading it would recurse. */
const MAX_NESTING = 32;

/** How deeply `json` nests objects and arrays (outside strings), counted without parsing it. */
function nesting(json: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
