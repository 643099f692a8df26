// The Field Visualizer's t scrubber and r slider, and the view bar (u/v display, scale, zoom,
// exports). Native range inputs and vscode-elements components, keyboard accessible, labelled
// for screen readers; the owner (main.ts) keeps the view options and calls set...() to reflect them.
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import type { FlowSolver } from '../../src/core/checkpoint/types';
import { FIELD_NAMES, type FieldName } from '../../src/core/fieldLayout';
import { solverSteps } from '../../src/core/flowTrajectory';
import type { ModelView } from '../../src/shared/protocol/visualizer';
import { button, h, select, type VscodeCheckbox, type VscodeSingleSelect } from './dom';

// ---------------------------------------------------------------- t scrubber and r slider

export interface TimeEvents {
  frame(frame: number): void;
  /** The r slider moves (input) ... */
  rInput(rFraction: number): void;
  /** ... and is released (change). */
  rCommit(rFraction: number): void;
  /** Back to each step's own r (the r the sampler uses). */
  rStep(): void;
}

/** A flow-matching model's trajectory: its solver and steps per unit of t (the r slider is "the ODE down to r"). */
export interface FlowShown {
  solver: FlowSolver;
  odeSteps: number;
}

const SOLVER_NAMES: Record<FlowSolver, string> = { euler: 'Euler', heun: 'Heun' };

const R_HELP = 'r = fraction \u00b7 t. r = 0: the one-step end point x(z_t, 0, t). r = t: the denoiser.';
const R_ARIA = 'r as a fraction of t: 0 is the one-step end point, 1 is the denoiser r = t';
const R_HELP_FLOW = 'The ODE down to r: z_r is the solution of dz/dt = v from z_t down to r = fraction \u00b7 t, ' +
  'u = (z_t \u2212 z_r)/(t \u2212 r), x = z_t \u2212 t\u00b7u. r = 0: x is the ODE\u2019s end point z_0. r = t: u = v, x the denoiser.';
const R_ARIA_FLOW = 'r, the ODE down to r as a fraction of t: u and x from the ODE solution z_r; 0 is the ODE end point, 1 is r = t (u = v)';

export class TimeControls {
  readonly root: HTMLElement;
  private readonly rLabel: HTMLElement;
  /** Flow-matching models: what u and x are at this r (the paper's Fig. 1 construction, with the solver's steps). */
  readonly rMeaning: HTMLElement;
  private flow: FlowShown | undefined;
  readonly scrubber: HTMLInputElement;
  readonly rSlider: HTMLInputElement;
  private readonly tValue: HTMLElement;
  private readonly rValue: HTMLElement;
  private readonly rStepButton: HTMLElement;
  readonly frameLabel: HTMLElement;
  private times: number[] = [];

  constructor(ev: TimeEvents) {
    this.scrubber = h('input', { id: 't-scrubber', type: 'range', min: '0', max: '0', step: '1', value: '0',
      'aria-label': 'Frame along t (arrow keys, Home, End)' });
    this.scrubber.disabled = true;
    this.scrubber.addEventListener('input', () => ev.frame(Number(this.scrubber.value)));
    this.tValue = h('output', { id: 't-value', for: 't-scrubber' });
    this.rSlider = h('input', { id: 'r-slider', type: 'range', min: '0', max: '1', step: '0.01', value: '0', 'aria-label': R_ARIA });
    this.rSlider.addEventListener('input', () => ev.rInput(Number(this.rSlider.value)));
    this.rSlider.addEventListener('change', () => ev.rCommit(Number(this.rSlider.value)));
    this.rValue = h('output', { id: 'r-value', for: 'r-slider' });
    this.rStepButton = h('vscode-button', { id: 'r-step', secondary: '',
      title: "Show each frame at its sampler step's own r (the r the trajectory uses)", text: 'step r' });
    this.rStepButton.addEventListener('click', () => ev.rStep());
    this.frameLabel = h('div', { id: 'frame-label', role: 'status', 'aria-live': 'polite' });
    const tGroup = h('div', { class: 'slider t' },
      h('label', { for: 't-scrubber', text: 't', title: 'Time: 1 is noise, 0 is data. \u2190/\u2192 step frames, Home/End jump.' }),
      h('span', { class: 'end', text: 'noise' }), this.scrubber, h('span', { class: 'end', text: 'data' }), this.tValue);
    this.rLabel = h('label', { id: 'r-label', for: 'r-slider', text: 'r', title: R_HELP });
    const rGroup = h('div', { class: 'slider r' },
      this.rLabel,
      h('span', { class: 'end', text: '0' }), this.rSlider, h('span', { class: 'end', text: 't' }), this.rValue,
      this.rStepButton);
    this.rMeaning = h('div', { id: 'r-meaning', class: 'r-meaning' });
    this.rMeaning.hidden = true;
    this.root = h('div', { class: 'time-controls' }, tGroup, rGroup, this.rMeaning, this.frameLabel);
  }

  setTimes(times: number[]): void {
    this.times = times;
    this.scrubber.max = String(Math.max(0, times.length - 1));
    this.scrubber.disabled = times.length <= 1;
  }

  /**
   * A flow-matching model's trajectory (its solver and steps), or undefined for a MeanFlow model:
   * the r slider then reads "ODE down to r", and there is no step r to go back to.
   */
  setFlow(flow: FlowShown | undefined): void {
    this.flow = flow;
    this.rLabel.textContent = flow ? 'r (ODE down to r)' : 'r';
    this.rLabel.title = flow ? R_HELP_FLOW : R_HELP;
    this.rSlider.setAttribute('aria-label', flow ? R_ARIA_FLOW : R_ARIA);
    this.rStepButton.hidden = !!flow;
    this.rMeaning.hidden = !flow;
    if (!flow) this.rMeaning.textContent = '';
  }

  /** Shows frame f with its t and r; `stepR` marks r as the sampler step's own. */
  show(frame: number, t: number, r: number, rFraction: number, stepR = false): void {
    this.rStepButton.toggleAttribute('disabled', stepR);
    if (this.flow) {
      // the construction of the paper's Fig. 1, with the steps this frame's z_r takes
      const solver = SOLVER_NAMES[this.flow.solver];
      const k = solverSteps(this.flow.odeSteps, t - r);
      this.rMeaning.textContent = t - r > 1e-9
        ? `u = (z_t \u2212 z_r)/(t \u2212 r), z_r by ${k} ${solver} step${k === 1 ? '' : 's'} of the ODE from z_t down to r; x = z_t \u2212 t\u00b7u`
        : 'r = t: u = v(z_t, t), x = z_t \u2212 t\u00b7v (the denoiser); no ODE to solve';
      this.rMeaning.dataset.solverSteps = t - r > 1e-9 ? String(k) : '0';
    }
    if (Number(this.scrubber.value) !== frame) this.scrubber.value = String(frame);
    if (document.activeElement !== this.rSlider && Math.abs(Number(this.rSlider.value) - rFraction) > 1e-9) {
      this.rSlider.value = String(rFraction);
    }
    const F = this.times.length;
    this.scrubber.setAttribute('aria-valuetext', `frame ${frame + 1} of ${F}, t = ${t.toFixed(3)}`);
    this.rSlider.setAttribute('aria-valuetext', `r = ${r.toFixed(3)} (${Math.round(rFraction * 100)} % of t)`);
    this.tValue.textContent = t.toFixed(3);
    this.rValue.textContent = `${r.toFixed(3)} (${Math.round(rFraction * 100)}%)`;
    const end = stepR ? ' \u00b7 the step\u2019s own r' : rFraction === 0 ? (this.flow ? ' \u00b7 the ODE\u2019s end point' : ' \u00b7 one-step end point')
      : rFraction === 1 ? ' \u00b7 denoiser (r = t)' : '';
    this.frameLabel.replaceChildren(
      h('span', { class: 'frame', text: `frame ${frame + 1}/${F}` }),
      h('span', { text: `t = ${t.toFixed(4)}` }),
      h('span', { text: `r = ${r.toFixed(4)}` }),
      h('span', { text: `h = t \u2212 r = ${(t - r).toFixed(4)}${end}` }),
    );
    this.frameLabel.dataset.t = String(t);
    this.frameLabel.dataset.r = String(r);
  }

  rFraction(): number {
    return Number(this.rSlider.value);
  }
}

// ---------------------------------------------------------------- view options and exports

export interface ViewOptions {
  zoom: number;
  uv: 'channel' | 'magnitude';
  channel: number;
  sharedScale: boolean;
  autoRun: boolean;
  animField: FieldName;
}

export interface ViewEvents {
  view(patch: Partial<ViewOptions>): void;
  zoom(dir: 1 | -1): void;
  exportPng(): void;
  exportAnimation(format: 'gif' | 'webp'): void;
  exportNpy(): void;
}

export class ViewBar {
  readonly root: HTMLElement;
  private readonly uv: VscodeSingleSelect;
  private readonly shared: VscodeCheckbox;
  private readonly zoomLabel: HTMLElement;
  private readonly animField: VscodeSingleSelect;
  private readonly imageOnly: HTMLElement[] = [];
  private channels = -1;

  constructor(ev: ViewEvents) {
    this.uv = h('vscode-single-select', { id: 'uv-display' });
    this.uv.label = 'u and v display';
    this.uv.addEventListener('change', () => {
      const v = this.uv.value;
      ev.view(v === 'magnitude' ? { uv: 'magnitude' } : { uv: 'channel', channel: Number(v.slice(3)) || 0 });
    });
    this.shared = h('vscode-checkbox', { id: 'shared-scale', text: 'Shared u/v scale',
      title: 'One colour range for the u and v panels of a sample (off: each panel its own range)' });
    this.shared.addEventListener('change', () => ev.view({ sharedScale: this.shared.checked }));
    const zoomOut = button('zoom-out', '', 'zoom-out', true, 'Zoom out (Ctrl+wheel, -)');
    zoomOut.setAttribute('aria-label', 'Zoom out');
    zoomOut.addEventListener('click', () => ev.zoom(-1));
    const zoomIn = button('zoom-in', '', 'zoom-in', true, 'Zoom in (Ctrl+wheel, +)');
    zoomIn.setAttribute('aria-label', 'Zoom in');
    zoomIn.addEventListener('click', () => ev.zoom(1));
    this.zoomLabel = h('span', { id: 'zoom-level', class: 'zoom-level', 'aria-live': 'polite' });
    const png = button('export-png', 'PNG', 'file-media', true, 'Save the panel strip (all samples, the four fields at this zoom) as PNG');
    png.addEventListener('click', () => ev.exportPng());
    this.animField = select('anim-field', 'Field to animate', FIELD_NAMES.map((f) => [f, f === 'z' ? 'z_t' : f]));
    this.animField.addEventListener('change', () => ev.view({ animField: this.animField.value as FieldName }));
    const gif = button('export-gif', 'GIF', 'play-circle', true, 'Save the selected field along t as an animated GIF');
    gif.addEventListener('click', () => ev.exportAnimation('gif'));
    const webp = button('export-webp', 'WebP', 'play-circle', true, 'Save the selected field along t as an animated WebP');
    webp.addEventListener('click', () => ev.exportAnimation('webp'));
    const npy = button('export-npy', '.npy', 'save', true, 'Save z, x, u, v of this frame as .npy');
    npy.addEventListener('click', () => ev.exportNpy());
    const uvLabel = h('vscode-label', { for: 'uv-display', text: 'u, v' });
    uvLabel.title = 'One channel on a diverging map (blue < 0 < red), or the per-pixel magnitude on a sequential map';
    const display = h('div', { class: 'group' }, uvLabel, this.uv, this.shared);
    const zoom = h('div', { class: 'group zoom', role: 'group', 'aria-label': 'Zoom' }, zoomOut, this.zoomLabel, zoomIn);
    const anim = h('div', { class: 'group anim', role: 'group', 'aria-label': 'Animation along t' },
      h('span', { class: 'sep', 'aria-hidden': 'true' }), gif, webp, h('vscode-label', { for: 'anim-field', text: 'of' }), this.animField,
      h('span', { class: 'sep', 'aria-hidden': 'true' }));
    this.imageOnly.push(display, zoom, anim);
    const exports = h('div', { class: 'group exports', role: 'group', 'aria-label': 'Export' },
      h('span', { class: 'row-label', text: 'Export' }), png, anim, npy);
    this.root = h('div', { class: 'view-bar', role: 'toolbar', 'aria-label': 'View and export' },
      display, zoom, h('span', { class: 'spacer' }), exports);
  }

  setModel(model: ModelView): void {
    const image = model.kind === 'image';
    for (const e of this.imageOnly) e.hidden = !image;
    const C = image ? model.sampleShape[0] ?? 1 : 0;
    if (C !== this.channels) {
      this.channels = C;
      const names = C === 3 ? ['R', 'G', 'B'] : Array.from({ length: C }, (_, i) => `${i}`);
      this.uv.replaceChildren(
        ...names.map((n, i) => h('vscode-option', { value: `ch-${i}`, text: C === 1 ? 'value (diverging)' : `channel ${n} (diverging)` })),
        h('vscode-option', { value: 'magnitude', text: C === 1 ? 'magnitude |\u00b7|' : 'magnitude over channels' }),
      );
    }
  }

  setView(v: ViewOptions): void {
    const want = v.uv === 'magnitude' ? 'magnitude' : `ch-${Math.min(v.channel, Math.max(0, this.channels - 1))}`;
    if (this.uv.value !== want) this.uv.value = want;
    this.shared.checked = v.sharedScale;
    this.zoomLabel.textContent = `${v.zoom}\u00d7`;
    if (this.animField.value !== v.animField) this.animField.value = v.animField;
  }
}
