// Toy models: the 2D data plane at the selected frame. Points z_t and x (projected to the plane,
// P^T p), and u and v as arrows from z_t: the displacement -t*u ends at x(z_t, r, t) and -t*v at
// the denoiser x(z_t, t, t). Faint paths of z along the trajectory and the end points (last frame)
// give context. Hover (or focus and arrow keys) reads out one sample.
import { fmt } from './colormap';
import { fieldColor } from './plots';
import { FIELD_NAMES, FieldLayout } from '../../src/core/fieldLayout';

export interface ToyFrame {
  /** [4, n, 2] */
  plane: Float32Array;
  /** [4, n] */
  offPlane: Float32Array;
  n: number;
  t: number;
  r: number;
}

export interface ToyTrajectory {
  /** [frames, 4, n, 2] */
  plane: Float32Array;
  frames: number;
  n: number;
}

const MAX_ARROWS = 256;
const MAX_PATHS = 64;

export class ToyPlaneView {
  readonly canvas: HTMLCanvasElement;
  private readonly legend: HTMLElement;
  private traj: ToyTrajectory | undefined;
  private frame: ToyFrame | undefined;
  private extent = { x0: -1, x1: 1, y0: -1, y1: 1 };
  private hover: number | undefined;
  private cssSize = 480;
  showPaths = true;

  constructor(private readonly root: HTMLElement, private readonly readout: HTMLElement) {
    root.classList.add('toy');
    this.canvas = document.createElement('canvas');
    this.canvas.id = 'toy-plane';
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', 'The 2D data plane at the selected frame: z_t and x as points, u and v as arrows. '
      + 'Arrow keys step through the samples for the readout.');
    this.legend = document.createElement('div');
    this.legend.className = 'toy-legend';
    root.append(this.canvas, this.legend);
    this.canvas.addEventListener('mousemove', (ev) => this.onMove(ev.offsetX, ev.offsetY));
    this.canvas.addEventListener('mouseleave', () => {
      if (document.activeElement !== this.canvas) this.setHover(undefined);
    });
    this.canvas.addEventListener('blur', () => this.setHover(undefined));
    this.canvas.addEventListener('keydown', (ev) => {
      const n = this.frame?.n ?? 0;
      if (!n) return;
      const cur = this.hover ?? -1;
      let next: number | undefined;
      if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') next = (cur + 1) % n;
      else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') next = (cur - 1 + n) % n;
      else if (ev.key === 'Escape') next = undefined;
      else return;
      ev.preventDefault();
      ev.stopPropagation();
      this.setHover(next);
    });
    this.buildLegend();
  }

  private buildLegend(): void {
    const items: [string, string, string][] = [
      ['dot', 'z', 'z\u209c (projected)'],
      ['dot', 'x', 'x(z\u209c, r, t)'],
      ['arrow', 'u', '\u2212t\u00b7u (ends at x)'],
      ['arrow', 'v', '\u2212t\u00b7v (ends at the denoiser)'],
      ['ring', 'end', 'end points (last frame)'],
    ];
    this.legend.replaceChildren(...items.map(([kind, f, text]) => {
      const s = document.createElement('span');
      s.className = `item ${kind} field-${f}`;
      const sw = document.createElement('i');
      sw.className = 'swatch';
      s.append(sw, document.createTextNode(text));
      return s;
    }));
    const paths = document.createElement('vscode-checkbox') as HTMLElement & { checked: boolean };
    paths.textContent = 'paths of z';
    paths.title = 'Faint paths of z_t along the trajectory (up to 64 samples)';
    paths.checked = this.showPaths;
    paths.addEventListener('change', () => {
      this.showPaths = paths.checked;
      this.draw();
    });
    this.legend.append(paths);
  }

  /** A new trajectory: fixes the view extent (z and x over all frames, equal aspect). */
  setTrajectory(traj: ToyTrajectory): void {
    this.traj = traj;
    this.hover = undefined;
    const { plane, frames, n } = traj;
    const layout = new FieldLayout(n, 2);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let f = 0; f < frames; f++) {
      for (const fi of [0, 1]) {
        const base = layout.index(f, fi, 0);
        for (let i = 0; i < n; i++) {
          const x = plane[base + i * 2], y = plane[base + i * 2 + 1];
          if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
      }
    }
    if (!Number.isFinite(x0)) { x0 = -1; x1 = 1; y0 = -1; y1 = 1; }
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    const half = Math.max(x1 - x0, y1 - y0, 1e-6) / 2 * 1.08;
    this.extent = { x0: cx - half, x1: cx + half, y0: cy - half, y1: cy + half };
  }

  setFrame(frame: ToyFrame): void {
    this.frame = frame;
    if (this.hover !== undefined && this.hover >= frame.n) this.hover = undefined;
    this.draw();
  }

  private size(): number {
    const avail = this.root.clientWidth || 480;
    return Math.max(240, Math.min(640, avail));
  }

  private toPx(x: number, y: number, s: number): [number, number] {
    const e = this.extent;
    return [(x - e.x0) / (e.x1 - e.x0) * s, (1 - (y - e.y0) / (e.y1 - e.y0)) * s];
  }

  draw(): void {
    if (document.visibilityState === 'hidden') return;
    const s = this.size();
    this.cssSize = s;
    const dpr = window.devicePixelRatio || 1;
    const c = this.canvas;
    if (c.width !== Math.round(s * dpr)) {
      c.width = Math.round(s * dpr);
      c.height = Math.round(s * dpr);
      c.style.width = `${s}px`;
      c.style.height = `${s}px`;
    }
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const cs = getComputedStyle(document.body);
    const bg = cs.getPropertyValue('--vscode-editor-background').trim() || '#1e1e1e';
    const grid = cs.getPropertyValue('--plot-grid').trim() || 'rgba(128,128,128,0.25)';
    const fg = cs.getPropertyValue('--vscode-descriptionForeground').trim() || '#888';
    ctx.fillStyle = bg;
    ctx.fillRect(0, 0, s, s);
    this.drawGrid(ctx, s, grid, fg);
    const f = this.frame;
    const traj = this.traj;
    if (!f) return;
    const n = f.n;
    const P = f.plane;
    const col = { z: fieldColor('z'), x: fieldColor('x'), u: fieldColor('u'), v: fieldColor('v') };
    // Context: end points and paths.
    if (traj && traj.frames > 1) {
      const layout = new FieldLayout(n, 2);
      const last = layout.index(traj.frames - 1, 0, 0);
      ctx.strokeStyle = fg;
      ctx.globalAlpha = 0.35;
      ctx.lineWidth = 1;
      for (let i = 0; i < n; i++) {
        const [px, py] = this.toPx(traj.plane[last + i * 2], traj.plane[last + i * 2 + 1], s);
        ctx.beginPath();
        ctx.arc(px, py, 3, 0, Math.PI * 2);
        ctx.stroke();
      }
      if (this.showPaths) {
        ctx.strokeStyle = col.z;
        ctx.globalAlpha = 0.25;
        const stride = Math.max(1, Math.ceil(n / MAX_PATHS));
        for (let i = 0; i < n; i += stride) {
          ctx.beginPath();
          for (let fr = 0; fr < traj.frames; fr++) {
            const o = layout.index(fr, 0, i);
            const [px, py] = this.toPx(traj.plane[o], traj.plane[o + 1], s);
            if (fr === 0) ctx.moveTo(px, py);
            else ctx.lineTo(px, py);
          }
          ctx.stroke();
        }
      }
      ctx.globalAlpha = 1;
    }
    // Arrows -t*u and -t*v from z_t.
    const stride = Math.max(1, Math.ceil(n / MAX_ARROWS));
    for (const [fi, color] of [[3, col.v], [2, col.u]] as const) {
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.globalAlpha = n > 64 ? 0.55 : 0.85;
      ctx.lineWidth = 1;
      for (let i = 0; i < n; i += stride) {
        const zx = P[i * 2], zy = P[i * 2 + 1];
        const o = (fi * n + i) * 2;
        const [ax, ay] = this.toPx(zx, zy, s);
        const [bx, by] = this.toPx(zx - f.t * P[o], zy - f.t * P[o + 1], s);
        arrow(ctx, ax, ay, bx, by);
      }
    }
    ctx.globalAlpha = 1;
    // Points x, then z_t on top.
    for (const [fi, color, r] of [[1, col.x, 2.5], [0, col.z, 2.5]] as const) {
      ctx.fillStyle = color;
      for (let i = 0; i < n; i++) {
        const o = (fi * n + i) * 2;
        const [px, py] = this.toPx(P[o], P[o + 1], s);
        ctx.beginPath();
        ctx.arc(px, py, r, 0, Math.PI * 2);
        ctx.fill();
      }
    }
    // Hovered sample.
    if (this.hover !== undefined && this.hover < n) {
      const i = this.hover;
      ctx.strokeStyle = cs.getPropertyValue('--vscode-focusBorder').trim() || '#0078d4';
      ctx.lineWidth = 2;
      for (const fi of [0, 1]) {
        const o = (fi * n + i) * 2;
        const [px, py] = this.toPx(P[o], P[o + 1], s);
        ctx.beginPath();
        ctx.arc(px, py, 6, 0, Math.PI * 2);
        ctx.stroke();
      }
    }
    this.updateReadout();
  }

  private drawGrid(ctx: CanvasRenderingContext2D, s: number, grid: string, fg: string): void {
    const e = this.extent;
    const step = niceStep((e.x1 - e.x0) / 6);
    const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    const label = (v: number) => (Math.abs(v) < step / 2 ? '0' : v.toFixed(decimals).replace('-', '\u2212'));
    ctx.strokeStyle = grid;
    ctx.fillStyle = fg;
    ctx.lineWidth = 1;
    ctx.font = `10px ${getComputedStyle(document.body).getPropertyValue('--vscode-font-family') || 'sans-serif'}`;
    ctx.textBaseline = 'top';
    for (let v = Math.ceil(e.x0 / step) * step; v <= e.x1; v += step) {
      const [px] = this.toPx(v, 0, s);
      ctx.globalAlpha = Math.abs(v) < step / 2 ? 1 : 0.6;
      ctx.beginPath();
      ctx.moveTo(Math.round(px) + 0.5, 0);
      ctx.lineTo(Math.round(px) + 0.5, s);
      ctx.stroke();
      ctx.fillText(label(v), px + 2, s - 12);
    }
    for (let v = Math.ceil(e.y0 / step) * step; v <= e.y1; v += step) {
      const [, py] = this.toPx(0, v, s);
      ctx.globalAlpha = Math.abs(v) < step / 2 ? 1 : 0.6;
      ctx.beginPath();
      ctx.moveTo(0, Math.round(py) + 0.5);
      ctx.lineTo(s, Math.round(py) + 0.5);
      ctx.stroke();
      ctx.fillText(label(v), 2, py + 2);
    }
    ctx.globalAlpha = 1;
  }

  private onMove(mx: number, my: number): void {
    const f = this.frame;
    if (!f) return;
    const s = this.cssSize;
    let best: number | undefined;
    let bestD = 10 * 10;
    for (const fi of [0, 1]) {
      for (let i = 0; i < f.n; i++) {
        const o = (fi * f.n + i) * 2;
        const [px, py] = this.toPx(f.plane[o], f.plane[o + 1], s);
        const d = (px - mx) ** 2 + (py - my) ** 2;
        if (d < bestD) {
          bestD = d;
          best = i;
        }
      }
    }
    if (best !== this.hover) this.setHover(best);
  }

  private setHover(i: number | undefined): void {
    this.hover = i;
    this.draw();
  }

  private updateReadout(): void {
    const f = this.frame;
    const i = this.hover;
    if (!f || i === undefined) {
      const h = document.createElement('span');
      h.className = 'hint';
      h.textContent = 'Hover a point (or focus the plane and use the arrow keys) to read a sample.';
      this.readout.replaceChildren(h);
      return;
    }
    const where = document.createElement('span');
    where.className = 'where';
    where.textContent = `point #${i + 1}`;
    const parts: HTMLElement[] = [where];
    FIELD_NAMES.forEach((name, fi) => {
      const o = (fi * f.n + i) * 2;
      const span = document.createElement('span');
      span.className = `val field-${name}`;
      const off = f.offPlane[fi * f.n + i];
      span.textContent = `${name} (${fmt(f.plane[o])}, ${fmt(f.plane[o + 1])})${Number.isFinite(off) ? ` \u22a5 ${fmt(off)}` : ''}`;
      parts.push(span);
    });
    this.readout.replaceChildren(...parts);
  }

  clear(): void {
    this.traj = undefined;
    this.frame = undefined;
    this.hover = undefined;
  }
}

function niceStep(raw: number): number {
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

function arrow(ctx: CanvasRenderingContext2D, ax: number, ay: number, bx: number, by: number): void {
  const dx = bx - ax, dy = by - ay;
  const len = Math.hypot(dx, dy);
  if (len < 0.5) return;
  ctx.beginPath();
  ctx.moveTo(ax, ay);
  ctx.lineTo(bx, by);
  ctx.stroke();
  const head = Math.max(3, Math.min(6, len * 0.4));
  const a = Math.atan2(dy, dx);
  ctx.beginPath();
  ctx.moveTo(bx, by);
  ctx.lineTo(bx - head * Math.cos(a - 0.45), by - head * Math.sin(a - 0.45));
  ctx.lineTo(bx - head * Math.cos(a + 0.45), by - head * Math.sin(a + 0.45));
  ctx.closePath();
  ctx.fill();
}
