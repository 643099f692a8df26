// Tensor names for people: which names an exporter made up, and what a filter matches. Shared
// by the inspector webview and `pmf inspect`.
import type { TensorEntry } from './types';

/** A name an exporter made up (onnx::MatMul_1914, Constant_12), not a module path such as net.pos_embed. */
export function isExporterName(name: string): boolean {
  return name.startsWith('onnx::') || !/[A-Za-z_]\w*\.\w/.test(name);
}

/** Whether a tensor passes a name filter: its own name or, for ONNX, a node that reads it. */
export function tensorMatches(t: Pick<TensorEntry, 'name' | 'usedBy'>, match: (text: string) => boolean): boolean {
  return match(t.name) || !!t.usedBy?.some(match);
}
