// The metric sweep beside the grid: FD against omega (solid, left axis) and class-consistency
// (dashed, right axis, where the feature network has class logits), one point per setting done,
// the lowest FD marked. SVG in the theme's chart colours; points are focusable buttons (Enter or
// a click selects that omega's row in the grid).
import type { SweepView } from '../../src/shared/protocol/guidance';

const NS = 'http://www.w3.org/2000/svg';
const W = 300;
const H = 200;
const PAD = { l: 44, r: 44, t: 26, b: 34 };

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Round ticks covering [lo, hi]. */
function ticks(lo: number, hi: number, n = 4): number[] {
  const span = hi - lo || 1;
  const step = 10 ** Math.floor(Math.log10(span / n));
  const nice = [1, 2, 2.5, 5, 10].map((m) => m * step).find((s) => span / s <= n) ?? span;
  const out: number[] = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + 1e-9; v += nice) out.push(Number(v.toFixed(6)));
  return out;
}

const fmt = (x: number, d = 4) => x.toFixed(d);

export class SweepPlot {
  constructor(private readonly root: HTMLElement, private readonly onPick: (omega: number) => void) {}

  render(s: SweepView): void {
    const rows = s.rows.filter((r) => Number.isFinite(r.fd));
    if (rows.length === 0) {
      this.root.replaceChildren();
      this.root.dataset.points = '0';
      return;
    }
    const omegas = s.settings.length ? s.settings.map((x) => x.omega) : rows.map((r) => r.omega);
    const xLo = Math.min(...omegas);
    const xHi = Math.max(...omegas);
    const fds = rows.map((r) => r.fd);
    const pad = (Math.max(...fds) - Math.min(...fds)) * 0.1 || 0.1;
    const yLo = Math.max(0, Math.min(...fds) - pad);
    const yHi = Math.max(...fds) + pad;
    const ccs = rows.map((r) => r.classConsistency).filter((v): v is number => v !== undefined);
    const cLo = ccs.length ? Math.max(0, Math.min(...ccs) - 0.02) : 0;
    const cHi = ccs.length ? Math.min(1, Math.max(...ccs) + 0.02) : 1;
    const x = (w: number) => PAD.l + ((w - xLo) / (xHi - xLo || 1)) * (W - PAD.l - PAD.r);
    const y = (v: number) => H - PAD.b - ((v - yLo) / (yHi - yLo || 1)) * (H - PAD.t - PAD.b);
    const yc = (v: number) => H - PAD.b - ((v - cLo) / (cHi - cLo || 1)) * (H - PAD.t - PAD.b);
    const plot = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'sweep-svg', role: 'group',
      'aria-label': `FD${ccs.length ? ' and class-consistency' : ''} against omega, ${rows.length} of ${s.settings.length} settings` });
    for (const t of ticks(yLo, yHi)) {
      plot.append(svg('line', { x1: PAD.l, x2: W - PAD.r, y1: y(t), y2: y(t), class: 'gridline' }));
      plot.append(svg('text', { x: PAD.l - 4, y: y(t) + 3, class: 'tick fd', 'text-anchor': 'end' }, String(t)));
    }
    for (const w of omegas) plot.append(svg('text', { x: x(w), y: H - PAD.b + 13, class: 'tick', 'text-anchor': 'middle' }, String(w)));
    plot.append(svg('text', { x: (PAD.l + W - PAD.r) / 2, y: H - 4, class: 'axis', 'text-anchor': 'middle' }, '\u03c9'));
    plot.append(svg('text', { x: 10, y: 11, class: 'axis fd' }, 'FD'));
    if (ccs.length) {
      for (const t of ticks(cLo, cHi, 3)) plot.append(svg('text', { x: W - PAD.r + 4, y: yc(t) + 3, class: 'tick cc' }, String(t)));
      plot.append(svg('text', { x: W - 2, y: 11, class: 'axis cc', 'text-anchor': 'end' }, 'class-consistency'));
      const cc = rows.filter((r) => r.classConsistency !== undefined);
      plot.append(svg('polyline', { points: cc.map((r) => `${x(r.omega)},${yc(r.classConsistency!)}`).join(' '), class: 'line cc' }));
      for (const r of cc) plot.append(svg('circle', { cx: x(r.omega), cy: yc(r.classConsistency!), r: 2.5, class: 'point-cc' }));
    }
    plot.append(svg('polyline', { points: rows.map((r) => `${x(r.omega)},${y(r.fd)}`).join(' '), class: 'line fd' }));
    const best = s.best === undefined ? undefined : s.rows[s.best];
    rows.forEach((r) => {
      const isBest = r === best;
      const label = `\u03c9 ${r.omega}: FD ${fmt(r.fd)}` + (r.classConsistency === undefined ? '' : `, class-consistency ${fmt(r.classConsistency)}`) +
        (isBest ? ' (best: lowest FD)' : '');
      const g = svg('g', { class: `point${isBest ? ' best' : ''}`, tabindex: 0, role: 'button', 'aria-label': `${label}; select this row`,
        'data-omega': r.omega, 'data-fd': r.fd });
      g.append(svg('title', {}, label));
      if (isBest) g.append(svg('circle', { cx: x(r.omega), cy: y(r.fd), r: 7, class: 'best-ring' }));
      g.append(svg('circle', { cx: x(r.omega), cy: y(r.fd), r: 4 }));
      g.addEventListener('click', () => this.onPick(r.omega));
      g.addEventListener('keydown', (e) => {
        if (e.key !== 'Enter' && e.key !== ' ') return;
        e.preventDefault();
        this.onPick(r.omega);
      });
      plot.append(g);
    });
    if (best) {
      const bx = x(best.omega);
      // below the point, or above it when the point is low (the lowest FD usually is)
      const by = y(best.fd) > H - PAD.b - 24 ? y(best.fd) - 12 : y(best.fd) + 18;
      plot.append(svg('text', { x: Math.min(W - PAD.r - 4, Math.max(PAD.l + 4, bx)), y: by, class: 'best-label', 'text-anchor': 'middle' },
        `best \u03c9 ${best.omega}`));
    }
    this.root.replaceChildren(plot);
    this.root.dataset.points = String(rows.length);
    this.root.dataset.best = best ? String(best.omega) : '';
  }
}
