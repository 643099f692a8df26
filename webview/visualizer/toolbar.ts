// The Field Visualizer's toolbar: model, mode, seeds, classes, steps, CFG, patch size, image
// mode, run / stop and auto-run. Every control is a vscode-elements component, keyboard
// accessible, labelled for screen readers; it holds no state beyond what it shows: the owner
// (main.ts) keeps the VizConfig and calls set...() to reflect it.
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import { formatSeeds, parseSeeds } from '../../src/core/seeds';
import type { FlowSolver } from '../../src/core/checkpoint/types';
import { type Mode, type ModelView, VizConfig } from '../../src/shared/protocol/visualizer';
import { button, h, labelled, select, textfield, type VscodeButton, type VscodeCheckbox, type VscodeSingleSelect,
  type VscodeTextfield } from './dom';

/** Samples a visualizer trajectory holds at most. */
export const MAX_SAMPLES = 16;

export interface ToolbarEvents {
  /** A config field changed; `now`: the user asked for it explicitly (Enter, a select). */
  config(patch: Partial<VizConfig>, now: boolean): void;
  run(): void;
  /** Stop what the host is computing (trajectory, frames, measurements, consistency). */
  cancel(): void;
  pickModel(): void;
  pickImage(): void;
  dropFile(file: File): void;
  autoRun(on: boolean): void;
}

type NumKey = 'steps' | 'odeSteps' | 'omega' | 'tMin' | 'tMax' | 'tStart' | 'noiseSeed' | 'patchSize';

const MODE_LABELS: Record<Mode, string> = {
  pmf: 'pMF N-step trajectory',
  ode: 'v-ODE trajectory',
  image: 'Real image',
};

export class Toolbar {
  readonly root: HTMLElement;
  private readonly modelName: HTMLElement;
  private readonly modelMeta: HTMLElement;
  private readonly provider: HTMLElement;
  private readonly busy: HTMLElement;
  private readonly busyLabel: HTMLElement;
  private readonly runButton: VscodeButton;
  private readonly autoRun: VscodeCheckbox;
  private readonly mode: VscodeSingleSelect;
  private readonly modeField: HTMLElement;
  private readonly solver: VscodeSingleSelect;
  private readonly solverField: HTMLElement;
  private readonly seeds: VscodeTextfield;
  private readonly nums = new Map<NumKey, VscodeTextfield>();
  private readonly fields = new Map<string, HTMLElement>();
  private readonly classesRow: HTMLElement;
  private readonly classesList: HTMLElement;
  private readonly imageRow: HTMLElement;
  private readonly imagePath: VscodeSingleSelect;
  private readonly dropZone: HTMLElement;
  private readonly preview: HTMLCanvasElement;
  private readonly imageName: HTMLElement;
  private model: ModelView | undefined;
  private config: VizConfig | undefined;
  private classSelects: VscodeSingleSelect[] = [];

  constructor(private readonly ev: ToolbarEvents) {
    // Row 1: model and run.
    this.modelName = h('h1', { id: 'model-name', text: 'No model' });
    this.provider = h('vscode-badge', { id: 'provider', title: 'Execution provider' });
    this.modelMeta = h('span', { id: 'model-meta', class: 'meta' });
    const change = button('change-model', 'Change model', 'folder-opened', true, 'Pick another pMF checkpoint (keeps what applies of the settings)');
    change.addEventListener('click', () => ev.pickModel());
    this.busyLabel = h('span', { id: 'busy-label' });
    const stop = button('cancel', '', 'debug-stop', true, 'Stop (Esc)');
    stop.setAttribute('aria-label', 'Stop');
    stop.addEventListener('click', () => ev.cancel());
    this.busy = h('span', { id: 'busy', role: 'status' }, h('vscode-progress-ring', { 'aria-label': 'Working' }), this.busyLabel, stop);
    this.busy.hidden = true;
    this.autoRun = h('vscode-checkbox', { id: 'auto-run', text: 'Auto-run', title: 'Re-run 300 ms after a setting changes' });
    this.autoRun.checked = true;
    this.autoRun.addEventListener('change', () => ev.autoRun(this.autoRun.checked));
    this.runButton = button('run', 'Run', 'play', false, 'Compute the trajectory and its measures (Ctrl+Enter)');
    this.runButton.addEventListener('click', () => ev.run());
    const row1 = h('div', { class: 'row model-row' }, this.modelName, this.provider, this.modelMeta, change,
      h('span', { class: 'spacer' }), this.busy, this.autoRun, this.runButton);

    // Row 2: sampling settings.
    this.mode = select('mode', 'Mode', Object.entries(MODE_LABELS));
    this.mode.addEventListener('change', () => ev.config({ mode: this.mode.value as Mode }, true));
    this.seeds = textfield('seeds', 'Seeds, one per sample', { placeholder: '0, 1, 2, 3' });
    this.seeds.classList.add('seeds');
    this.seeds.addEventListener('input', () => this.onSeeds());
    this.seeds.addEventListener('change', () => this.onSeeds());
    this.enterRuns(this.seeds);
    this.modeField = labelled('Mode', this.mode, 'pMF: the N-step sampler of the model. v-ODE: Euler steps of the model\'s instantaneous velocity v. Real image: noise a real image to z_t0 and follow a path.');
    // flow-matching models: the ODE's solver (the model's default from pmf.default_sampling)
    this.solver = select('solver', 'ODE solver', [['euler', 'Euler'], ['heun', 'Heun']]);
    this.solver.addEventListener('change', () => ev.config({ solver: this.solver.value as FlowSolver }, true));
    this.solverField = labelled('Solver', this.solver, 'The ODE solver of the flow-matching model: the path between frames and every z_r.');
    this.solverField.hidden = true;
    const row2 = h('div', { class: 'row settings-row' },
      this.modeField, this.solverField,
      labelled('Seeds', this.seeds, 'One seed per sample, shown side by side (1-16): "0, 1, 2" or "0-7".'),
      this.num('steps', 'Steps', 'pMF: sampler steps N (frames N + 1). v-ODE and image: frames shown along t.', 1, 64, 1),
      this.num('odeSteps', 'ODE steps', 'Euler steps of the v-ODE (a multiple of the frames is used).', 1, 2048, 1),
      this.num('omega', '\u03c9', 'Classifier-free guidance scale omega (1: no guidance).', 1, 100, 0.1),
      this.num('tMin', 't_min', 'Guidance interval start: CFG applies for t in [t_min, t_max].', 0, 1, 0.05),
      this.num('tMax', 't_max', 'Guidance interval end.', 0, 1, 0.05),
      this.num('patchSize', 'Patch p', 'Patch size p for the effective-dimension measure (p x p x C patches).', 2, 32, 1),
    );

    // Row 3: one class per sample.
    this.classesList = h('div', { class: 'classes', role: 'group', 'aria-label': 'Class of each sample' });
    this.classesRow = h('div', { class: 'row classes-row' }, h('span', { class: 'row-label', text: 'Classes' }), this.classesList);

    // Row 4: real image.
    const pick = button('pick-image', 'Pick image\u2026', 'file-media', true, 'Choose a PNG or JPEG file');
    pick.addEventListener('click', () => ev.pickImage());
    this.preview = h('canvas', { id: 'image-preview', 'aria-hidden': 'true' });
    this.preview.width = 1;
    this.preview.height = 1;
    this.imageName = h('span', { id: 'image-name', text: 'Drop a PNG or JPEG here' });
    this.dropZone = h('div', { id: 'drop-zone', role: 'button', tabindex: '0',
      'aria-label': 'Drop a PNG or JPEG image here, or press Enter to pick one' }, this.preview, this.imageName);
    this.dropZone.addEventListener('click', () => ev.pickImage());
    this.dropZone.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        ev.pickImage();
      }
    });
    this.imagePath = select('image-path', 'Path from z_t0', [
      ['straight', 'straight: z_t = (1\u2212t)x + t\u00b7e'], ['model', 'the model\'s trajectory from z_t0']]);
    this.imagePath.addEventListener('change', () => ev.config({ imagePath: this.imagePath.value as 'straight' | 'model' }, true));
    this.imageRow = h('div', { class: 'row image-row' }, pick, this.dropZone,
      this.num('tStart', 't0', 'Start time: the image is noised to z_t0 = (1 \u2212 t0)\u00b7x + t0\u00b7e.', 0, 1, 0.05),
      labelled('Path', this.imagePath, 'straight: every frame is z_t = (1 \u2212 t)x + t\u00b7e with the same e. model: the model\'s own trajectory from z_t0.'),
      this.num('noiseSeed', 'Noise seed', 'Seed of the noise e.', 0, 0xffffffff, 1),
    );
    this.root = h('header', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Field Visualizer settings' }, row1, row2, this.classesRow, this.imageRow);
    this.installDrop();
  }

  private num(key: NumKey, label: string, help: string, min: number, max: number, step: number): HTMLElement {
    const id = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const t = textfield(id, label, { type: 'number', min: String(min), max: String(max), step: String(step) });
    t.classList.add('num');
    const read = () => {
      const v = Number(t.value);
      const res = VizConfig.shape[key].safeParse(v);
      const ok = t.value.trim() !== '' && res.success && v <= max && v >= min;
      t.invalid = !ok;
      t.title = ok ? help : `${label}: ${min} to ${max}${step === 1 ? ', whole numbers' : ''}`;
      if (ok && this.config && this.config[key] !== v) this.ev.config({ [key]: v }, false);
    };
    t.addEventListener('input', read);
    t.addEventListener('change', read);
    this.enterRuns(t);
    this.nums.set(key, t);
    const wrap = labelled(label, t, help);
    this.fields.set(key, wrap);
    return wrap;
  }

  private enterRuns(t: HTMLElement): void {
    t.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.ev.run();
    });
  }

  private onSeeds(): void {
    try {
      const seeds = parseSeeds(this.seeds.value, MAX_SAMPLES);
      this.seeds.invalid = false;
      this.seeds.title = `${seeds.length} sample${seeds.length === 1 ? '' : 's'}: ${seeds.join(', ')}`;
      if (!this.config || seeds.join() === this.config.seeds.join()) return;
      const labels = this.model && this.model.numClasses > 0
        ? seeds.map((_, i) => this.config!.labels[i] ?? i % this.model!.numClasses) : [];
      this.ev.config({ seeds, labels }, false);
    } catch (e) {
      this.seeds.invalid = true;
      this.seeds.title = e instanceof Error ? e.message : String(e);
    }
  }

  /** Real-image mode: image models of the MeanFlow type (a flow-matching model's trajectory is its ODE's). */
  private takesImages(): boolean {
    return this.model?.kind === 'image' && this.model.modelType !== 'flow-matching';
  }

  private installDrop(): void {
    let depth = 0;
    const isFiles = (e: DragEvent) => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
    window.addEventListener('dragenter', (e) => {
      if (!isFiles(e) || !this.takesImages()) return;
      depth++;
      document.body.dataset.dragging = 'true';
    });
    window.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (!depth) delete document.body.dataset.dragging;
    });
    window.addEventListener('dragover', (e) => {
      if (!isFiles(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = this.takesImages() ? 'copy' : 'none';
    });
    window.addEventListener('drop', (e) => {
      e.preventDefault();
      depth = 0;
      delete document.body.dataset.dragging;
      const file = e.dataTransfer?.files?.[0];
      if (file && this.takesImages()) this.ev.dropFile(file);
    });
  }

  setModel(model: ModelView, models: { name: string; path: string }[]): void {
    this.model = model;
    this.modelName.textContent = model.name || model.path.split(/[\\/]/).pop() || 'model';
    this.modelName.title = model.path;
    this.provider.textContent = model.provider;
    const shape = model.sampleShape.join('\u00d7');
    this.modelMeta.textContent = [
      model.kind === 'toy' ? `toy, D = ${model.sampleShape[0]}` : shape,
      `${model.prediction}-prediction`,
      model.modelType === 'flow-matching' ? 'flow matching (no r)' : '',
      model.numClasses > 0 ? `${model.numClasses} classes` : 'unconditional',
      model.hasCfg ? 'CFG' : model.guidance === 'two-pass' ? 'CFG by two passes' : '',
    ].filter(Boolean).join(' \u00b7 ');
    this.modelMeta.title = models.length > 1 ? `Known models: ${models.map((m) => m.name).join(', ')}` : '';
    // Real-image mode only for image models.
    const imageOpt = this.mode.querySelector('vscode-option[value="image"]');
    if (model.kind !== 'image') imageOpt?.remove();
    else if (!imageOpt) this.mode.append(h('vscode-option', { value: 'image', text: MODE_LABELS.image }));
    this.fields.get('patchSize')!.hidden = model.kind !== 'image';
    // guidance by the network's inputs or by two passes (a flow-matching model's): omega and its interval
    for (const k of ['omega', 'tMin', 'tMax'] as const) this.fields.get(k)!.hidden = model.guidance === 'none';
    // A flow-matching model has one trajectory, its ODE: no mode to pick, a solver instead.
    const flow = model.modelType === 'flow-matching';
    this.modeField.hidden = flow;
    this.solverField.hidden = !flow;
    const ode = this.fields.get('odeSteps')!;
    const odeLabel = ode.querySelector('vscode-label');
    if (odeLabel) {
      odeLabel.textContent = flow ? 'ODE steps N' : 'ODE steps';
      odeLabel.title = flow
        ? `Solver steps per unit of t: frame to frame and z_t down to each z_r take \u2308N\u00b7length\u2309 of them (the model's default: ${model.flow?.steps} ${model.flow?.solver} steps).`
        : 'Euler steps of the v-ODE (a multiple of the frames is used).';
    }
    this.classSelects = [];
    this.classesList.replaceChildren();
  }

  /** Reflects a config in the controls (without firing change events back). */
  setConfig(config: VizConfig): void {
    this.config = config;
    const model = this.model;
    if (this.mode.value !== config.mode) this.mode.value = config.mode;
    if (document.activeElement !== this.seeds) {
      this.seeds.value = formatSeeds(config.seeds);
      this.seeds.invalid = false;
    }
    for (const [k, t] of this.nums) {
      if (document.activeElement === t) continue;
      t.value = String(config[k]);
      t.invalid = false;
    }
    if (this.imagePath.value !== config.imagePath) this.imagePath.value = config.imagePath;
    if (config.solver && this.solver.value !== config.solver) this.solver.value = config.solver;
    const seedsLabel = this.seeds.parentElement?.querySelector('vscode-label');
    if (seedsLabel) {
      seedsLabel.title = config.mode === 'image'
        ? 'Real-image mode: one sample per entry; sample i uses the noise seed "Noise seed" + i.'
        : 'One seed per sample, shown side by side (1-16): "0, 1, 2" or "0-7".';
    }
    const stepsLabel = this.fields.get('steps')!.querySelector('vscode-label');
    if (stepsLabel) stepsLabel.textContent = config.mode === 'pmf' ? 'Steps' : 'Frames';
    if (stepsLabel && model?.modelType === 'flow-matching') stepsLabel.title = 'Frames - 1 along the ODE: the frames sit at t = 1 - f / steps.';
    this.fields.get('odeSteps')!.hidden = config.mode !== 'ode';
    this.imageRow.hidden = config.mode !== 'image';
    this.classesRow.hidden = !model || model.numClasses <= 0;
    if (model && model.numClasses > 0) this.syncClasses(config, model);
  }

  private syncClasses(config: VizConfig, model: ModelView): void {
    const n = config.seeds.length;
    const nc = model.numClasses;
    const names = Array.from({ length: nc }, (_, i) => model.classNames[i] ?? `class ${i}`);
    while (this.classSelects.length < n) {
      const i = this.classSelects.length;
      const s = h('vscode-single-select', { id: `class-${i}`, class: 'class-select' });
      s.label = `Class of sample ${i + 1}`;
      if (nc > 24) {
        s.combobox = true;
        s.setAttribute('filter', 'contains');
      }
      s.options = [...names.map((label, v) => ({ label: `${v}: ${label}`, value: String(v) })),
        { label: 'unconditional', value: String(nc), description: `the null class (index ${nc})` }];
      s.addEventListener('change', () => {
        const v = Number(s.value);
        if (!this.config || !Number.isInteger(v)) return;
        const labels = this.config.seeds.map((_, j) => this.config!.labels[j] ?? j % nc);
        labels[i] = v;
        this.ev.config({ labels }, true);
      });
      const cell = h('div', { class: 'class-cell' }, h('vscode-label', { for: s.id, class: 'sample-index', text: `#${i + 1}` }), s);
      this.classSelects.push(s);
      this.classesList.append(cell);
    }
    this.classSelects.forEach((s, i) => {
      const cell = s.parentElement!;
      cell.hidden = i >= n;
      if (i >= n) return;
      const v = String(config.labels[i] ?? i % nc);
      if (s.value !== v) s.value = v;
      cell.title = `sample ${i + 1}, seed ${config.seeds[i]}`;
    });
  }

  setBusy(busy: boolean, label?: string): void {
    this.busy.hidden = !busy;
    this.busyLabel.textContent = label ?? (busy ? 'Working\u2026' : '');
    document.body.toggleAttribute('aria-busy', busy);
  }

  setAutoRun(on: boolean): void {
    this.autoRun.checked = on;
  }

  /** The picked / dropped image (in the model's data range), as a small preview. */
  setImage(name: string, preview: Float32Array, shape: number[], dataRange: [number, number]): void {
    const [C, H, W] = shape.length === 3 ? shape : [1, shape[0] ?? 1, shape[1] ?? 1];
    const c = this.preview;
    c.width = W;
    c.height = H;
    const ctx = c.getContext('2d');
    if (ctx && preview.length >= C * H * W) {
      const img = ctx.createImageData(W, H);
      const [lo, hi] = dataRange;
      const k = 255 / (hi - lo || 1);
      const hw = H * W;
      for (let i = 0; i < hw; i++) {
        const o = i * 4;
        img.data[o] = (preview[i] - lo) * k;
        img.data[o + 1] = (preview[(C >= 3 ? hw : 0) + i] - lo) * k;
        img.data[o + 2] = (preview[(C >= 3 ? 2 * hw : 0) + i] - lo) * k;
        img.data[o + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
    }
    this.dropZone.classList.add('has-image');
    this.imageName.textContent = name;
    this.dropZone.title = `${name} (${W}\u00d7${H}); drop another image or press Enter to pick one`;
  }
}

export function describeSample(i: number, config: VizConfig, model: ModelView): { title: string; detail: string } {
  const label = config.labels[i];
  const cls = model.numClasses > 0 && label !== undefined
    ? label >= model.numClasses ? 'unconditional' : model.classNames[label] ?? `class ${label}` : '';
  // Real-image mode: every sample noises the same image, sample i with noise seed noiseSeed + i.
  if (config.mode === 'image') return { title: `#${i + 1} noise ${config.noiseSeed + i}`, detail: cls };
  return { title: `#${i + 1} seed ${config.seeds[i] ?? '?'}`, detail: cls };
}
