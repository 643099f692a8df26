// Measures along t (uPlot): one small chart per measure, x = t running from left (noise) to right
// (data), a vertical marker at the selected frame, legend with values at the cursor (or at the
// selected frame when the cursor is elsewhere), click to select a frame. Charts share the cursor.
// Colours per field come from CSS custom properties (--field-z ...) that follow the VS Code theme.
import uPlot from 'uplot';
import { measurement, scalar, title } from '../../src/core/analysis/measurementTable';
import { FIELD_NAMES, type FieldName } from '../../src/core/fieldLayout';
import type { Measurements } from '../../src/shared/protocol/visualizer';
import { fmt } from './colormap';

export type PlotId = 'rms' | 'dim' | 'hf' | 'offplane' | 'consistency';

interface SeriesSpec {
  label: string;
  color: string;
  values: Array<number | null>;
  dash?: number[];
  width?: number;
  points?: boolean;
}

interface ChartSpec {
  series: SeriesSpec[];
  yMin?: number;
  yMax?: number;
  yLabel?: string;
}

interface Chart {
  id: PlotId;
  card: HTMLElement;
  el: HTMLElement;
  note: HTMLElement;
  plot?: uPlot;
  spec?: ChartSpec;
}

export interface PlotsInput {
  times: number[];
  /** Absent until the first frames are measured; then one entry per frame measured so far. */
  measurements?: Measurements;
  toy: boolean;
  /** A flow-matching model's trajectory (no consistency card: its u is the ODE's by construction). */
  flow?: boolean;
}

/** The charts drawn from the measurements (consistency has its own request). */
const MEASURED: PlotId[] = ['rms', 'dim', 'hf', 'offplane'];

// Titles, legends and reference lines come from the table of measurements (src/core/analysis/measurementTable.ts).
const RMS = measurement('rms');
const PR = measurement('participationRatio');
const C95 = measurement('components95');
const HF = measurement('highFrequencyShare');
const OFF = measurement('offPlaneNorm');
const PATCH_DIM = scalar('patchDim');

/** A card for one measurement of the table: its name and description. */
const card = (id: PlotId, m: { label: string; description: string }) => ({ id, title: title(m.label), help: m.description });

const CARDS: { id: PlotId; title: string; help: string }[] = [
  card('rms', RMS),
  { id: 'dim', title: 'Effective dimension of patches',
    help: `${title(PR.label)} (solid) and number of principal components holding 95 % of the variance (dashed) of p\u00d7p patches; `
      + `the ${PATCH_DIM.label} p\u00b7p\u00b7C is the upper bound. x is low-dimensional (an image); u and v carry noise.` },
  card('hf', HF),
  card('offplane', OFF),
  { id: 'consistency', title: 'MeanFlow consistency',
    help: '|u(z_t, r, t) \u2212 mean of v over [r, t]| / |mean of v|, the mean of v integrated along the v-ODE with fine steps.' },
];

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

export function fieldColor(f: FieldName): string {
  const fallback = { z: '#888888', x: '#3794ff', u: '#d18616', v: '#b180d7' }[f];
  return cssVar(`--field-${f}`, fallback);
}

export class Plots {
  private readonly charts = new Map<PlotId, Chart>();
  private input: PlotsInput | undefined;
  private consistency: number[] | undefined;
  private frame = 0;
  /** idx (ascending t) -> frame, and back. */
  private order: number[] = [];
  private rank: number[] = [];
  private dirty = false;
  private width = 0;
  readonly consistencyButton: HTMLElement;

  constructor(private readonly root: HTMLElement, private readonly onSelect: (frame: number) => void,
    onConsistency: () => void) {
    root.classList.add('plots');
    for (const c of CARDS) {
      const card = document.createElement('section');
      card.className = 'plot-card';
      card.id = `card-${c.id}`;
      const head = document.createElement('header');
      const h = document.createElement('h3');
      h.textContent = c.title;
      h.title = c.help;
      const info = document.createElement('span');
      info.className = 'codicon codicon-info help';
      info.title = c.help;
      info.setAttribute('aria-label', c.help);
      info.setAttribute('role', 'img');
      head.append(h, info);
      const el = document.createElement('div');
      el.className = 'plot';
      el.id = `plot-${c.id}`;
      el.setAttribute('role', 'img');
      el.setAttribute('aria-label', `${c.title} along t`);
      const note = document.createElement('p');
      note.className = 'plot-note';
      card.append(head, el, note);
      root.append(card);
      this.charts.set(c.id, { id: c.id, card, el, note });
    }
    const btn = document.createElement('vscode-button');
    btn.id = 'compute-consistency';
    btn.setAttribute('secondary', '');
    btn.setAttribute('icon', 'pulse');
    btn.textContent = 'Compute consistency';
    btn.title = 'Integrate v along the trajectory with 32 fine steps per frame interval and compare with u';
    btn.addEventListener('click', onConsistency);
    this.consistencyButton = btn;
    this.charts.get('consistency')!.card.querySelector('header')!.append(btn);
    this.charts.get('consistency')!.note.textContent = 'Not computed yet.';
    for (const c of this.charts.values()) c.card.hidden = c.id === 'offplane';
    new ResizeObserver(() => {
      const w = this.measure();
      if (w !== this.width && w > 0) {
        this.width = w;
        this.resize();
      }
    }).observe(root);
  }

  private measure(): number {
    const cs = getComputedStyle(this.root);
    const cols = cs.gridTemplateColumns.split(' ').filter(Boolean).length || 1;
    const gap = parseFloat(cs.columnGap) || 0;
    const inner = this.root.clientWidth - (cols - 1) * gap;
    // Each card has a 1px border and 8px padding on both sides.
    return Math.max(160, Math.floor(inner / cols) - 18);
  }

  setTrajectory(input: PlotsInput): void {
    this.input = input;
    this.consistency = undefined;
    const t = input.times;
    this.order = t.map((_, i) => i).sort((a, b) => t[a] - t[b] || b - a);
    this.rank = [];
    this.order.forEach((f, i) => { this.rank[f] = i; });
    this.frame = Math.min(this.frame, t.length - 1);
    this.rebuild();
  }

  /**
   * Measurements of the current trajectory, possibly of its first `done` frames only; the
   * measured charts say how far they are.
   */
  setMeasurements(measurements: Measurements | undefined, done: number, total: number): void {
    if (!this.input) return;
    this.input = { ...this.input, measurements };
    const note = done < total ? `Measuring\u2026 ${done} of ${total} frames` : '';
    for (const id of MEASURED) this.charts.get(id)!.note.textContent = note;
    this.rebuild(MEASURED);
  }

  /** The host stopped its work: notes that promise more say that it stopped instead. */
  markStopped(): void {
    for (const c of this.charts.values()) {
      const note = c.note.textContent ?? '';
      if (note.startsWith('Measuring')) c.note.textContent = `Stopped: ${note.replace(/^Measuring\u2026 /, '')} measured.`;
      else if (note.startsWith('Computing')) c.note.textContent = 'Stopped.';
    }
  }

  setConsistency(relativeError: number[] | undefined, note?: string): void {
    this.consistency = relativeError;
    const c = this.charts.get('consistency')!;
    if (note !== undefined) c.note.textContent = note;
    this.rebuild(['consistency']);
  }

  setFrame(frame: number): void {
    // The r slider redraws the same frame many times a second: the charts only mark the frame.
    if (frame === this.frame && !this.dirty) return;
    this.frame = frame;
    if (document.visibilityState === 'hidden') {
      this.dirty = true;
      return;
    }
    for (const c of this.charts.values()) {
      if (!c.plot) continue;
      c.plot.redraw(false, false);
      if (c.plot.cursor.idx == null) c.plot.setLegend({ idx: this.rank[frame] ?? 0 }, false);
    }
  }

  /** Re-reads theme colours (VS Code theme change). */
  refreshTheme(): void {
    this.rebuild();
  }

  /** Called when the webview becomes visible again. */
  flush(): void {
    if (this.dirty) this.rebuild();
  }

  private resize(): void {
    if (document.visibilityState === 'hidden') {
      this.dirty = true;
      return;
    }
    for (const c of this.charts.values()) c.plot?.setSize({ width: this.width, height: plotHeight() });
  }

  private specs(): Partial<Record<PlotId, ChartSpec>> {
    const inp = this.input;
    if (!inp) return {};
    const F = inp.times.length;
    const out: Partial<Record<PlotId, ChartSpec>> = {};
    if (this.consistency && this.consistency.length === F) {
      out.consistency = { series: [{ label: 'relative error', color: cssVar('--plot-consistency', '#f14c4c'), values: this.consistency }], yMin: 0 };
    }
    const m = inp.measurements;
    if (!m) return out;
    // Frames not measured yet are gaps (null) in their series.
    const pad = (values: number[]): Array<number | null> => Array.from({ length: F }, (_, f) => (f < values.length ? values[f] : null));
    const pick = (rec: Partial<Record<FieldName, number[]>> | undefined, fields: readonly FieldName[], extra: Partial<SeriesSpec> = {},
      suffix = ''): SeriesSpec[] => fields.filter((f) => (rec?.[f]?.length ?? 0) > 0 && rec![f]!.length <= F)
      .map((f) => ({ label: `${f}${suffix}`, color: fieldColor(f), values: pad(rec![f]!), ...extra }));
    out.rms = { series: pick(m[RMS.key], FIELD_NAMES), yMin: 0 };
    const usePlane = inp.toy;
    if (usePlane) {
      out.offplane = { series: pick(m[OFF.key], FIELD_NAMES), yMin: 0 };
    } else {
      out.dim = {
        series: [
          ...pick(m[PR.key], ['x', 'u', 'v'], {}, ` ${PR.short}`),
          ...pick(m[C95.key], ['x', 'u', 'v'], { dash: [5, 3], width: 1.25 }, ` ${C95.short}`),
          { label: PATCH_DIM.short, color: cssVar('--plot-ref', '#888888'), values: new Array<number>(F).fill(m[PATCH_DIM.key]), dash: [2, 3], width: 1,
            points: false },
        ],
        yMin: 0,
      };
      out.hf = {
        series: [
          ...pick(m[HF.key], FIELD_NAMES),
          { label: HF.reference.label, color: cssVar('--plot-ref', '#888888'), values: new Array<number>(F).fill(HF.reference.value), dash: [2, 3],
            width: 1, points: false },
        ],
        yMin: HF.range[0], yMax: HF.range[1],
      };
    }
    return out;
  }

  private rebuild(only?: PlotId[]): void {
    if (document.visibilityState === 'hidden') {
      this.dirty = true;
      return;
    }
    this.dirty = false;
    if (!this.width) this.width = this.measure();
    const specs = this.specs();
    const toyPlane = !!this.input?.toy;
    for (const c of this.charts.values()) {
      if (only && !only.includes(c.id)) continue;
      // a flow-matching model's u is the ODE's average velocity by construction: no MeanFlow consistency to check
      c.card.hidden = (toyPlane ? c.id === 'dim' || c.id === 'hf' : c.id === 'offplane') || (c.id === 'consistency' && !!this.input?.flow);
      c.plot?.destroy();
      c.plot = undefined;
      const spec = specs[c.id];
      c.spec = spec;
      c.el.dataset.points = '0';
      if (!spec || !this.input) continue;
      c.plot = this.create(c, spec);
      c.el.dataset.points = String(this.input.times.length);
      if (c.id === 'consistency') c.note.textContent = '';
    }
  }

  private create(c: Chart, spec: ChartSpec): uPlot {
    const inp = this.input!;
    const xs = this.order.map((f) => inp.times[f]);
    const data: uPlot.AlignedData = [xs, ...spec.series.map((s) => this.order.map((f) => s.values[f]))];
    const fg = cssVar('--vscode-descriptionForeground', '#888');
    const grid = withAlpha(cssVar('--plot-grid', 'rgba(128,128,128,0.5)'), 0.45);
    const marker = cssVar('--plot-marker', fg);
    const font = `${cssVar('--plot-font-size', '11px')} ${cssVar('--vscode-font-family', 'sans-serif')}`;
    const axis = (extra: Partial<uPlot.Axis>): uPlot.Axis => ({
      stroke: fg, font, labelFont: font, size: 34, gap: 3,
      grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 }, ...extra,
    });
    const yMax = spec.yMax;
    const opts: uPlot.Options = {
      width: this.width,
      height: plotHeight(),
      pxAlign: 0,
      scales: {
        x: { time: false, dir: -1, range: (_u, lo, hi) => (lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi]) },
        y: {
          range: (_u, lo, hi) => {
            const min = spec.yMin !== undefined ? Math.min(spec.yMin, lo) : lo;
            let max = yMax !== undefined ? Math.max(yMax, hi) : hi;
            if (!(max > min)) max = min + 1;
            return [min, max + (yMax !== undefined ? 0 : (max - min) * 0.06)];
          },
        },
      },
      axes: [
        axis({ size: 26 }),
        axis({ size: 40 }),
      ],
      series: [
        { label: 't', value: (_u, v) => (v == null ? '\u2013' : v.toFixed(4)) },
        ...spec.series.map((s): uPlot.Series => ({
          label: s.label, stroke: s.color, width: s.width ?? 1.75, dash: s.dash,
          points: { show: s.points ?? (inp.times.length <= 33), size: 4, fill: s.color },
          value: (_u, v) => (v == null ? '\u2013' : fmt(v, 3)),
        })),
      ],
      cursor: {
        sync: { key: 'pmf-viz' },
        drag: { x: false, y: false },
        points: { size: 6 },
      },
      legend: { live: true },
      hooks: {
        draw: [(u) => this.drawMarker(u, marker)],
        setCursor: [(u) => {
          if (u.cursor.idx == null) u.setLegend({ idx: this.rank[this.frame] ?? 0 }, false);
        }],
      },
    };
    const plot = new uPlot(opts, data, c.el);
    plot.over.addEventListener('click', () => {
      const idx = plot.cursor.idx;
      if (idx != null && this.order[idx] !== undefined) this.onSelect(this.order[idx]);
    });
    plot.over.title = 'Click to select this frame';
    plot.setLegend({ idx: this.rank[this.frame] ?? 0 }, false);
    return plot;
  }

  private drawMarker(u: uPlot, color: string): void {
    const idx = this.rank[this.frame];
    const xs = u.data[0];
    if (idx === undefined || xs[idx] === undefined) return;
    const x = Math.round(u.valToPos(xs[idx], 'x', true));
    const ctx = u.ctx;
    ctx.save();
    ctx.setLineDash([]);
    ctx.strokeStyle = color;
    ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
    ctx.globalAlpha = 0.55;
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.restore();
  }

  clear(): void {
    this.input = undefined;
    this.consistency = undefined;
    for (const c of this.charts.values()) {
      c.plot?.destroy();
      c.plot = undefined;
      c.el.dataset.points = '0';
    }
  }
}

/** A colour with its alpha multiplied by `a` (the canvas normalises any CSS colour). */
export function withAlpha(color: string, a: number): string {
  const ctx = document.createElement('canvas').getContext('2d');
  if (!ctx) return color;
  ctx.fillStyle = color;
  const c = ctx.fillStyle;
  const hex = /^#([0-9a-f]{6})$/i.exec(c);
  if (hex) {
    const v = parseInt(hex[1], 16);
    return `rgba(${(v >> 16) & 255}, ${(v >> 8) & 255}, ${v & 255}, ${a})`;
  }
  const m = /rgba?\(([^)]+)\)/.exec(c);
  if (!m) return color;
  const [r, g, b, al = '1'] = m[1].split(',').map((x) => x.trim());
  return `rgba(${r}, ${g}, ${b}, ${Number(al) * a})`;
}

function plotHeight(): number {
  return 150;
}
