// What the inspector shows people about tensors: which names an exporter made up, the module a
// tensor belongs to, what a filter matches, parameter counts. Shared by the inspector webview and
// `pmf inspect`; imports nothing at run time, so the webview bundle takes only this file.
import type { TensorEntry } from './types';

/** A name an exporter made up (onnx::MatMul_1914, Constant_12), not a module path such as net.pos_embed. */
export function isExporterName(name: string): boolean {
  return name.startsWith('onnx::') || !/[A-Za-z_]\w*\.\w/.test(name);
}

/** Whether a tensor passes a name filter: its own name or, for ONNX, a node that reads it. */
export function tensorMatches(t: Pick<TensorEntry, 'name' | 'usedBy'>, match: (text: string) => boolean): boolean {
  return match(t.name) || !!t.usedBy?.some(match);
}

/**
 * The module a tensor belongs to, as a dotted path: its name without the last part
 * (net.pos_embed -> net, net.shared_blocks.0.norm1.weight -> net.shared_blocks.0.norm1), or, for a
 * name an exporter made up, the path of the node that reads it
 * (/net/shared_blocks.0/attn/q_proj/MatMul -> net.shared_blocks.0.attn.q_proj).
 */
export function moduleOf(t: Pick<TensorEntry, 'name' | 'usedBy'>): string {
  const node = t.usedBy?.[0];
  if (isExporterName(t.name) && node?.startsWith('/')) return node.split('/').filter(Boolean).slice(0, -1).join('.');
  return t.name.split('.').slice(0, -1).join('.');
}

/** A parameter count for people: 950, 12.3K, 3.04M, 1.2B; beyond 1000T (no checkpoint has that many), 3.96e+28. */
export function formatParams(n: number): string {
  if (!Number.isFinite(n) || Math.abs(n) >= 1e15) return n.toPrecision(3);
  const units = ['', 'K', 'M', 'B', 'T'];
  let u = 0;
  let v = n;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  if (u === 0) return String(n);
  let shown = Number(v.toPrecision(3));
  if (Math.abs(shown) >= 1000 && u < units.length - 1) {
    shown = Number((v / 1000).toPrecision(3)); // 999.96K rounds to 1000K: show 1M
    u++;
  }
  return `${shown}${units[u]}`;
}
