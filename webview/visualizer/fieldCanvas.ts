// The panel grid for image models: one row per sample, four columns z_t, x(z_t, r, t),
// u(z_t, r, t), v(z_t, t). Each panel is a canvas at the sample's native resolution scaled by a
// zoom: integer zooms in with square pixels (image-rendering: pixelated), 1/2 and 1/4 fit the
// panels of a 256 x 256 model (smoothly scaled); a colour bar and a pixel readout on hover or
// keyboard focus (arrow keys move the probe).
//   z and x   data range -> 0..255 (1 channel grey, 3 channels RGB), values outside are clipped
//   u and v   one channel: diverging map symmetric around 0; magnitude: sequential map from 0
import { DIVERGING, fmt, GREY, type Lut, paintColorbar, SEQUENTIAL } from './colormap';
import { FIELD_NAMES, type FieldName, FieldLayout } from '../../src/core/fieldLayout';
import { maxAbs, maxMagnitude, renderDiverging, renderImage, renderMagnitude } from './pixels';

/** The fields of one frame: data is [4, n, per] (z, x, u, v), per = C * H * W. */
export interface FrameFields {
  data: Float32Array;
  n: number;
  C: number;
  H: number;
  W: number;
  t: number;
  r: number;
}

export interface RenderOptions {
  zoom: number;
  /** u and v: one channel (diverging) or the per-pixel magnitude over channels (sequential). */
  uv: 'channel' | 'magnitude';
  channel: number;
  /** One range for the u and v panels of a sample (true) or one per panel. */
  sharedScale: boolean;
  dataRange: [number, number];
}

export interface SampleLabel {
  title: string;
  detail: string;
}

/** Column titles as static markup (no attributes, so nothing for the CSP to object to). */
export const FIELD_TITLE_HTML: Record<FieldName, string> = {
  z: '<var>z</var><sub>t</sub>',
  x: '<var>x</var>(<var>z</var><sub>t</sub>, <var>r</var>, <var>t</var>)',
  u: '<var>u</var>(<var>z</var><sub>t</sub>, <var>r</var>, <var>t</var>)',
  v: '<var>v</var>(<var>z</var><sub>t</sub>, <var>t</var>)',
};
export const FIELD_TITLE_TEXT: Record<FieldName, string> = {
  z: 'z_t', x: 'x(z_t, r, t)', u: 'u(z_t, r, t)', v: 'v(z_t, t)',
};
export const FIELD_HELP: Record<FieldName, string> = {
  z: 'The input z_t = (1 \u2212 t)\u00b7x + t\u00b7e at this frame.',
  x: 'The denoised-image field x = z_t \u2212 t\u00b7u(z_t, r, t). At r = 0 the one-step end point, at r = t the denoiser.',
  u: 'The average velocity over [r, t]; z_r = z_t \u2212 (t \u2212 r)\u00b7u.',
  v: 'The instantaneous velocity v(z_t, t) = u(z_t, t, t). Does not depend on r.',
};

interface Cell {
  field: FieldName;
  sample: number;
  figure: HTMLElement;
  canvas: HTMLCanvasElement;
  ctx: CanvasRenderingContext2D;
  img: ImageData;
  bar: HTMLCanvasElement;
  barLabels: [HTMLElement, HTMLElement, HTMLElement];
  probe: HTMLElement;
  lut: Lut;
  range: [number, number];
}

interface Probe {
  sample: number;
  field: FieldName;
  x: number;
  y: number;
}

export class FieldGrid {
  private cells: Cell[][] = [];
  private rowHeads: HTMLElement[] = [];
  private shape = { n: 0, C: 0, H: 0, W: 0 };
  private frame: FrameFields | undefined;
  private opts: RenderOptions = { zoom: 4, uv: 'channel', channel: 0, sharedScale: true, dataRange: [-1, 1] };
  private probe: Probe | undefined;
  private labels: SampleLabel[] = [];
  /** Exact values of the probed pixel (values[field][channel]) while they match the probe and frame. */
  private exact: { sample: number; x: number; y: number; t: number; r: number; values: number[][] } | undefined;
  private asked = '';

  /**
   * root: the element that receives the grid; readout: where the pixel readout is written;
   * onZoom: ctrl+wheel over the grid asks for the next zoom level in a direction; onProbe: the
   * readout moved to a pixel (the panels hold 8-bit display values: the exact ones are asked for
   * and come back through setExact).
   */
  constructor(private readonly root: HTMLElement, private readonly readout: HTMLElement,
    private readonly onZoom: (dir: 1 | -1) => void,
    private readonly onProbe?: (sample: number, x: number, y: number) => void) {
    root.addEventListener('wheel', (ev) => {
      if (!ev.ctrlKey && !ev.metaKey) return;
      ev.preventDefault();
      this.onZoom(ev.deltaY < 0 ? 1 : -1);
    }, { passive: false });
  }

  /** Builds the grid for n samples of C x H x W (kept when the shape is unchanged). */
  layout(n: number, C: number, H: number, W: number, labels: SampleLabel[]): void {
    this.labels = labels;
    const s = this.shape;
    if (s.n === n && s.C === C && s.H === H && s.W === W && this.cells.length) {
      this.rowHeads.forEach((h, i) => this.fillRowHead(h, i));
      return;
    }
    this.shape = { n, C, H, W };
    this.probe = undefined;
    this.cells = [];
    this.rowHeads = [];
    const grid = document.createElement('div');
    grid.className = 'field-grid';
    grid.setAttribute('role', 'group');
    grid.setAttribute('aria-label', 'Fields of the selected frame, one row per sample');
    const corner = document.createElement('div');
    corner.className = 'corner';
    grid.append(corner);
    for (const f of FIELD_NAMES) {
      const h = document.createElement('div');
      h.className = `col-head field-${f}`;
      h.dataset.field = f;
      h.innerHTML = FIELD_TITLE_HTML[f];
      h.title = FIELD_HELP[f];
      grid.append(h);
    }
    for (let i = 0; i < n; i++) {
      const head = document.createElement('div');
      head.className = 'row-head';
      this.fillRowHead(head, i);
      this.rowHeads.push(head);
      grid.append(head);
      const row: Cell[] = [];
      for (const f of FIELD_NAMES) {
        const cell = this.makeCell(f, i, W, H);
        row.push(cell);
        grid.append(cell.figure);
      }
      this.cells.push(row);
    }
    this.root.replaceChildren(grid);
    this.applyZoom();
  }

  private fillRowHead(head: HTMLElement, i: number): void {
    const l = this.labels[i] ?? { title: `#${i + 1}`, detail: '' };
    const t = document.createElement('span');
    t.className = 'title';
    t.textContent = l.title;
    const d = document.createElement('span');
    d.className = 'detail';
    d.textContent = l.detail;
    head.replaceChildren(t, d);
    head.title = `${l.title} ${l.detail}`.trim();
  }

  private makeCell(field: FieldName, sample: number, W: number, H: number): Cell {
    const figure = document.createElement('figure');
    figure.className = `panel field-${field}`;
    figure.dataset.field = field;
    figure.dataset.sample = String(sample);
    const wrap = document.createElement('div');
    wrap.className = 'canvas-wrap';
    const canvas = document.createElement('canvas');
    canvas.className = 'field';
    canvas.dataset.field = field;
    canvas.dataset.sample = String(sample);
    canvas.width = W;
    canvas.height = H;
    canvas.tabIndex = 0;
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `${FIELD_TITLE_TEXT[field]}, sample ${sample + 1}. Arrow keys move the pixel readout.`);
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(W, H);
    const probe = document.createElement('div');
    probe.className = 'probe';
    probe.hidden = true;
    wrap.append(canvas, probe);
    const barWrap = document.createElement('div');
    barWrap.className = 'cbar';
    const bar = document.createElement('canvas');
    bar.className = 'cbar-ramp';
    bar.setAttribute('aria-hidden', 'true');
    const labels = document.createElement('div');
    labels.className = 'cbar-labels';
    const lo = document.createElement('span');
    const mid = document.createElement('span');
    const hi = document.createElement('span');
    labels.append(lo, mid, hi);
    barWrap.append(bar, labels);
    figure.append(wrap, barWrap);
    const cell: Cell = { field, sample, figure, canvas, ctx, img, bar, barLabels: [lo, mid, hi], probe, lut: GREY, range: [0, 1] };
    canvas.addEventListener('mousemove', (ev) => {
      const sc = canvas.clientWidth / W || 1;
      const x = Math.min(W - 1, Math.max(0, Math.floor(ev.offsetX / sc)));
      const y = Math.min(H - 1, Math.max(0, Math.floor(ev.offsetY / sc)));
      this.setProbe({ sample, field, x, y });
    });
    canvas.addEventListener('mouseleave', () => {
      if (document.activeElement !== canvas) this.setProbe(undefined);
    });
    canvas.addEventListener('focus', () => {
      const p = this.probe;
      this.setProbe(p && p.sample === sample ? { ...p, field } : { sample, field, x: W >> 1, y: H >> 1 });
    });
    canvas.addEventListener('blur', () => this.setProbe(undefined));
    canvas.addEventListener('keydown', (ev) => {
      const p = this.probe ?? { sample, field, x: W >> 1, y: H >> 1 };
      const step = ev.shiftKey ? 4 : 1;
      let { x, y } = p;
      switch (ev.key) {
        case 'ArrowLeft': x -= step; break;
        case 'ArrowRight': x += step; break;
        case 'ArrowUp': y -= step; break;
        case 'ArrowDown': y += step; break;
        case 'Escape': this.setProbe(undefined); return;
        default: return;
      }
      ev.preventDefault();
      ev.stopPropagation();
      this.setProbe({ sample, field, x: Math.min(W - 1, Math.max(0, x)), y: Math.min(H - 1, Math.max(0, y)) });
    });
    return cell;
  }

  setZoom(zoom: number): void {
    this.opts = { ...this.opts, zoom };
    this.applyZoom();
  }

  private applyZoom(): void {
    const { W, H } = this.shape;
    const z = this.opts.zoom;
    for (const row of this.cells) {
      for (const c of row) {
        c.canvas.style.width = `${W * z}px`;
        c.canvas.style.height = `${H * z}px`;
        c.canvas.style.imageRendering = z < 1 ? 'auto' : ''; // shrinking: average, do not drop pixels
        c.figure.style.width = `${Math.max(W * z, 100)}px`;
      }
    }
    this.placeProbe();
  }

  /** Draws a frame: every panel with its colour map and range. */
  draw(frame: FrameFields, opts: RenderOptions): void {
    const zoomChanged = opts.zoom !== this.opts.zoom;
    this.opts = opts;
    if (!this.frame || this.frame.t !== frame.t || this.frame.r !== frame.r) this.clearExact();
    this.frame = frame;
    const { n, C, H, W } = frame;
    if (n !== this.shape.n || C !== this.shape.C || H !== this.shape.H || W !== this.shape.W) {
      this.layout(n, C, H, W, this.labels);
    } else if (zoomChanged) {
      this.applyZoom();
    }
    const layout = new FieldLayout(n, C * H * W);
    const ch = Math.min(Math.max(0, opts.channel), C - 1);
    for (let s = 0; s < n; s++) {
      // Ranges of u and v first (a shared scale needs both).
      const uvRange: number[] = [];
      for (const fi of [2, 3]) {
        const off = layout.index(0, fi, s);
        uvRange.push(opts.uv === 'magnitude' ? maxMagnitude(frame.data, off, C, H * W) : maxAbs(frame.data, off + ch * H * W, H * W));
      }
      const shared = Math.max(uvRange[0], uvRange[1]);
      for (let fi = 0; fi < 4; fi++) {
        const cell = this.cells[s][fi];
        const off = layout.index(0, fi, s);
        if (fi < 2) {
          const [lo, hi] = opts.dataRange;
          renderImage(cell.img, frame.data, off, C, H * W, lo, hi);
          cell.lut = GREY;
          cell.range = [lo, hi];
          this.setBar(cell, GREY, C >= 3, [fmt(lo), C >= 3 ? 'RGB' : '', fmt(hi)]);
        } else {
          let m = opts.sharedScale ? shared : uvRange[fi - 2];
          if (!(m > 0) || !Number.isFinite(m)) m = 1;
          if (opts.uv === 'magnitude') {
            renderMagnitude(cell.img, frame.data, off, C, H * W, m);
            cell.lut = SEQUENTIAL;
            cell.range = [0, m];
            this.setBar(cell, SEQUENTIAL, false, ['0', `|${cell.field}|`, fmt(m)]);
          } else {
            renderDiverging(cell.img, frame.data, off + ch * H * W, H * W, m);
            cell.lut = DIVERGING;
            cell.range = [-m, m];
            this.setBar(cell, DIVERGING, false, [fmt(-m), C === 3 ? `0 (${'RGB'[ch]})` : C > 1 ? `0 (ch ${ch})` : '0', fmt(m)]);
          }
        }
        cell.ctx.putImageData(cell.img, 0, 0);
      }
    }
    this.updateReadout();
  }

  private setBar(cell: Cell, lut: Lut, rgb: boolean, labels: [string, string, string]): void {
    const key = `${lut.name}|${rgb}`;
    if (cell.bar.dataset.lut !== key) {
      paintColorbar(cell.bar, lut, rgb);
      cell.bar.dataset.lut = key;
    }
    cell.barLabels.forEach((el, i) => { el.textContent = labels[i]; });
    cell.figure.dataset.range = `${cell.range[0]},${cell.range[1]}`;
  }

  private setProbe(p: Probe | undefined): void {
    this.probe = p;
    this.placeProbe();
    this.updateReadout();
  }

  private placeProbe(): void {
    const p = this.probe;
    const z = this.opts.zoom;
    for (const row of this.cells) {
      for (const c of row) {
        const on = !!p && c.sample === p.sample;
        c.probe.hidden = !on;
        if (on && p) {
          c.probe.style.left = `${p.x * z}px`;
          c.probe.style.top = `${p.y * z}px`;
          c.probe.style.width = `${Math.max(z, 2)}px`;
          c.probe.style.height = `${Math.max(z, 2)}px`;
          c.probe.classList.toggle('active', c.field === p.field);
        }
      }
    }
  }

  private updateReadout(): void {
    const p = this.probe;
    const f = this.frame;
    if (!p || !f || p.sample >= f.n) {
      this.readout.replaceChildren(hint('Hover a panel (or focus it and use the arrow keys) to read pixel values.'));
      return;
    }
    const { n, C, H, W } = f;
    const per = C * H * W;
    const key = `${p.sample},${p.x},${p.y}`;
    const ex = this.exact && this.exact.t === f.t && this.exact.r === f.r && `${this.exact.sample},${this.exact.x},${this.exact.y}` === key
      ? this.exact : undefined;
    if (!ex && this.asked !== key) {
      this.asked = key;
      this.onProbe?.(p.sample, p.x, p.y);
    }
    const label = this.labels[p.sample];
    const where = document.createElement('span');
    where.className = 'where';
    where.textContent = `${label ? label.title : `#${p.sample + 1}`} \u00b7 pixel (${p.x}, ${p.y})`;
    const parts: HTMLElement[] = [where];
    FIELD_NAMES.forEach((name, fi) => {
      const off = new FieldLayout(n, per).index(0, fi, p.sample, p.y * W + p.x);
      const vals: number[] = [];
      for (let c = 0; c < C; c++) vals.push(ex?.values[fi]?.[c] ?? f.data[off + c * H * W]);
      const span = document.createElement('span');
      span.className = `val field-${name}${name === p.field ? ' active' : ''}`;
      // \u2248: the 8-bit display value, until the exact one arrives
      let text = `${name} ${ex || !this.onProbe ? '' : '\u2248'}${vals.length === 1 ? fmt(vals[0]) : `(${vals.map((v) => fmt(v)).join(', ')})`}`;
      if ((name === 'u' || name === 'v') && C > 1) text += ` |${name}| ${fmt(Math.hypot(...vals))}`;
      span.textContent = text;
      parts.push(span);
    });
    this.readout.replaceChildren(...parts);
    this.readout.dataset.exact = ex ? 'true' : 'false';
  }

  /** Forgets the exact values (a new trajectory, frame or r): the readout asks again. */
  clearExact(): void {
    this.exact = undefined;
    this.asked = '';
  }

  /** The exact values of a pixel of the frame drawn now (the answer to onProbe). */
  setExact(sample: number, x: number, y: number, values: number[][]): void {
    if (!this.frame) return;
    this.exact = { sample, x, y, t: this.frame.t, r: this.frame.r, values };
    this.updateReadout();
  }

  /** The panels as drawn (for the PNG export). */
  panels(): { canvas: HTMLCanvasElement; field: FieldName; sample: number; lut: Lut; range: [number, number] }[][] {
    return this.cells.map((row) => row.map((c) => ({ canvas: c.canvas, field: c.field, sample: c.sample, lut: c.lut, range: c.range })));
  }

  sampleLabels(): SampleLabel[] {
    return this.labels;
  }

  get zoom(): number {
    return this.opts.zoom;
  }

  /** Blanks the panels while the selected frame's fields are still on their way; `message` says so. */
  pending(message: string): void {
    this.frame = undefined;
    for (const row of this.cells) for (const c of row) c.ctx.clearRect(0, 0, c.canvas.width, c.canvas.height);
    this.readout.textContent = message;
  }

  clear(): void {
    this.cells = [];
    this.rowHeads = [];
    this.shape = { n: 0, C: 0, H: 0, W: 0 };
    this.frame = undefined;
    this.probe = undefined;
    this.root.replaceChildren();
  }
}

function hint(text: string): HTMLElement {
  const s = document.createElement('span');
  s.className = 'hint';
  s.textContent = text;
  return s;
}
