// The inspector's small DOM and formatting helpers: elements, byte sizes, numbers (null: a
// NaN or infinite value on the host, which JSON has not), shapes, fact tables and cards.
/** Creates an element with text and optional class. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** A number for a table cell; null (NaN or infinite on the host: JSON has neither) shows as a dash. */
export function num(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return v === null || Number.isNaN(v) ? '—' : v > 0 ? '+inf' : '-inf';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
  return v.toPrecision(4).replace(/\.?0+$/, (m) => (m.startsWith('.') ? '' : m));
}

export function shape(s: number[]): string {
  return `[${s.join(', ')}]`;
}

export function prettyValue(v: string): string {
  try {
    const parsed: unknown = JSON.parse(v);
    if (typeof parsed === 'object' && parsed !== null) return JSON.stringify(parsed, null, 2);
  } catch {
    // not JSON: shown as stored
  }
  return v;
}

/** A two-column table of facts. */
export function facts(rowsIn: Array<[string, string | HTMLElement]>, label: string): HTMLTableElement {
  const t = h('table', undefined, 'facts');
  t.setAttribute('aria-label', label);
  for (const [k, v] of rowsIn) {
    const tr = h('tr');
    tr.append(h('th', k));
    const td = h('td');
    if (typeof v === 'string') td.textContent = v;
    else td.append(v);
    tr.append(td);
    t.append(tr);
  }
  return t;
}

export function section(title: string, ...children: Array<HTMLElement | string>): HTMLElement {
  const s = h('section', undefined, 'card');
  s.append(h('h2', title), ...children);
  return s;
}
