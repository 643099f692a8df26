// Every checkpoint format pMF Lab reads, one FormatReader each (readerResult.ts), in the order
// detect.ts tries their signatures: the first whose sniff takes the file's first bytes reads it
// ('magic' signatures first, in this order, then 'weak' ones). Adding a format is adding its
// file and a line here (docs/architecture.md, "A checkpoint format").
import { onnxFormat } from './onnxInspector';
import { pytorchPickleFormat } from './pytorchPickle';
import { pytorchZipFormat } from './pytorchZip';
import type { FormatReader } from './readerResult';
import { safetensorsFormat } from './safetensorsReader';

export const FORMATS: readonly FormatReader[] = [pytorchZipFormat, pytorchPickleFormat, safetensorsFormat, onnxFormat];
