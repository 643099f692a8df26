// The gallery webview: one tile per sample of the run, a placeholder with class and seed until
// its image arrives; re-generate one, save all, copy the CLI command. While the run goes on,
// Save All and the re-generate buttons are off (the host refuses them too); Copy CLI command
// copies the requested run's command. Theme colours come from --vscode-* variables.
import '../shared/jitless';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import { el, webviewChannel } from '../shared/host';
import { FromWebview, type GalleryState, type PlannedSample, type RunStatus, type SampleView, ToWebview } from '../../src/shared/protocol/gallery';

const channel = webviewChannel('pMF gallery', { incoming: ToWebview, outgoing: FromWebview });
const send = (msg: FromWebview) => void channel.post(msg);
const urls = new Map<number, string>();
let state: GalleryState | undefined;
/** The samples that have come, by index. */
const samples = new Map<number, SampleView>();

/** A tile's caption: its class and seed (the re-generate button is added by finished tiles). */
function caption(className: string, seed: number): HTMLElement {
  const cap = document.createElement('figcaption');
  const name = document.createElement('span');
  name.className = 'class';
  name.textContent = className;
  const seedText = document.createElement('span');
  seedText.className = 'seed';
  seedText.textContent = `seed ${seed}`;
  cap.append(name, seedText);
  return cap;
}

function imageUrl(s: SampleView): string {
  const old = urls.get(s.index);
  if (old) URL.revokeObjectURL(old);
  const url = URL.createObjectURL(new Blob([s.png as BlobPart], { type: 'image/png' }));
  urls.set(s.index, url);
  return url;
}

function card(s: SampleView): HTMLElement {
  const fig = document.createElement('figure');
  fig.className = 'sample';
  fig.dataset.index = String(s.index);
  fig.tabIndex = 0;
  const bad = s.nonFinite.nan + s.nonFinite.inf;
  // NaN or infinite values are no image (their pixels would be black): the tile says what they are.
  const img = bad ? nonFiniteTile(s) : document.createElement('img');
  if (img instanceof HTMLImageElement) {
    img.src = imageUrl(s);
    img.alt = `${s.className}, seed ${s.seed}`;
    img.width = Math.max(112, s.width * 2);
  }
  const cap = caption(s.className, s.seed);
  const again = document.createElement('vscode-button');
  again.setAttribute('icon', 'refresh');
  again.setAttribute('secondary', '');
  again.title = 'Re-generate this sample with a new seed';
  again.setAttribute('aria-label', `Re-generate ${s.className}, seed ${s.seed}`);
  again.addEventListener('click', () => send({ type: 'regenerate', index: s.index }));
  if (running()) again.setAttribute('disabled', '');
  cap.append(again);
  fig.append(img, cap);
  if (s.blank && !bad) fig.classList.add('blank');
  if (bad) fig.classList.add('nonfinite');
  return fig;
}

/** "NaN: 1234 values" / "infinite: 5 values", in place of the image, at its size. */
function nonFiniteTile(s: SampleView): HTMLElement {
  const tile = document.createElement('div');
  tile.className = 'nonfinite-tile';
  tile.style.aspectRatio = `${s.width} / ${s.height}`;
  const lines = [s.nonFinite.nan ? `NaN: ${countText(s.nonFinite.nan)}` : '', s.nonFinite.inf ? `infinite: ${countText(s.nonFinite.inf)}` : '']
    .filter(Boolean);
  for (const line of lines) {
    const p = document.createElement('span');
    p.textContent = line;
    tile.append(p);
  }
  tile.setAttribute('role', 'img');
  tile.setAttribute('aria-label', `${s.className}, seed ${s.seed}: no image, ${lines.join(', ')}`);
  tile.title = 'The model returned NaN or infinite values for this sample: it is not an image. Re-generate it with a new seed, ' +
    'or generate again with other settings.';
  return tile;
}

function running(): boolean {
  return state?.run.status === 'running';
}

/** A sample still to come: its class and seed, at the image's shape. */
function placeholder(p: PlannedSample): HTMLElement {
  const fig = document.createElement('figure');
  fig.className = 'sample pending';
  fig.dataset.index = String(p.index);
  const tile = document.createElement('div');
  tile.className = 'placeholder-tile';
  if (state) tile.style.aspectRatio = `${state.imageSize.width} / ${state.imageSize.height}`;
  tile.setAttribute('role', 'img');
  tile.setAttribute('aria-label', `${p.className}, seed ${p.seed}: not generated yet`);
  tile.title = 'Not generated yet';
  const cap = caption(p.className, p.seed);
  fig.append(tile, cap);
  return fig;
}

/** The header's timing and the run indicator; a run that ended keeps only the samples made. */
function updateRun(run: RunStatus): void {
  if (!state) return;
  state.run = run;
  const secs = `${(run.ms / 1000).toFixed(2)} s`;
  el('timing').textContent = run.status === 'running' ? `${run.done} of ${run.total} samples, ${secs}`
    : run.status === 'done' ? `${run.total} samples in ${secs}`
    : `${run.status === 'stopped' ? 'stopped' : 'failed'} after ${run.done} sample${run.done === 1 ? '' : 's'}, ${secs}`;
  el('running').hidden = run.status !== 'running';
  // what Copy CLI command copies, in its tooltip
  el('copy').title = `Copy the pmf command that reproduces this gallery: ${run.command}`;
  if (run.status !== 'running') {
    state.planned = state.planned.slice(0, run.done);
    for (const fig of document.querySelectorAll('figure.sample.pending')) fig.remove();
    for (const b of document.querySelectorAll('figure.sample vscode-button')) b.removeAttribute('disabled');
    el('empty').hidden = samples.size > 0;
  }
  el('grid').setAttribute('aria-busy', String(run.status === 'running'));
  updateNonFinite();
}

function countText(k: number): string {
  return `${k} value${k === 1 ? '' : 's'}`;
}

/** The line above the grid and the Save All button: samples with NaN or infinite values cannot be saved. */
function updateNonFinite(): void {
  const all = [...samples.values()];
  const bad = all.filter((s) => s.nonFinite.nan + s.nonFinite.inf > 0);
  const nan = bad.reduce((a, s) => a + s.nonFinite.nan, 0);
  const inf = bad.reduce((a, s) => a + s.nonFinite.inf, 0);
  const box = el('nonfinite');
  box.hidden = bad.length === 0;
  box.textContent = bad.length === 0 ? '' : `${bad.length} of ${all.length} sample${all.length === 1 ? '' : 's'} ` +
    `are not images: the model returned ${[nan ? `${nan} NaN` : '', inf ? `${inf} infinite` : ''].filter(Boolean).join(' and ')} ` +
    `value${nan + inf === 1 ? '' : 's'}. Re-generate ${bad.length === 1 ? 'it' : 'them'} (refresh button), or generate again ` +
    'with other settings (fewer steps, a smaller omega, the CPU provider). Save All is off until then.';
  const save = el('save');
  const off = running() || bad.length > 0 || all.length === 0;
  if (off) save.setAttribute('disabled', '');
  else save.removeAttribute('disabled');
  save.title = running() ? 'The samples are still being generated: Save All when the run is done'
    : bad.length ? 'Samples with NaN or infinite values cannot be saved: re-generate them first'
    : all.length === 0 ? 'No samples to save'
    : 'Save every sample as PNG (settings embedded) and a grid';
}

function render(st: GalleryState): void {
  state = st;
  samples.clear();
  for (const v of st.samples) samples.set(v.index, v);
  el('model').textContent = st.modelName;
  el('provider').textContent = st.provider;
  const s = st.settings;
  el('explore').hidden = !s.hasCfg;
  // a flow-matching model's solver with its steps ("16 Heun steps"); omega where the model guides (inputs or two passes)
  const solver = s.solver ? `${s.solver === 'heun' ? 'Heun' : 'Euler'} ` : '';
  el('settings').textContent = `${s.steps} ${solver}step${s.steps === 1 ? '' : 's'}` +
    (s.guided ?? s.hasCfg ? `, \u03c9 ${s.omega}, interval [${s.tMin}, ${s.tMax}]` : '') +
    (s.noiseScale !== undefined && s.noiseScale !== 1 ? `, noise x${s.noiseScale}` : '');
  el('settings').dataset.solver = s.solver ?? '';
  const grid = el('grid');
  grid.replaceChildren(...st.planned.map((p) => {
    const v = samples.get(p.index);
    return v ? card(v) : placeholder(p);
  }));
  el('empty').hidden = st.planned.length > 0;
  updateRun(st.run);
}

/** Samples of the run (or a re-generated one) take their tiles' places. */
function fill(views: SampleView[]): void {
  for (const v of views) {
    samples.set(v.index, v);
    document.querySelector(`figure.sample[data-index="${v.index}"]`)?.replaceWith(card(v));
  }
}

channel.on('show', (msg) => {
  el('error').hidden = true;
  render(msg.state);
});
channel.on('samples', (msg) => {
  if (!state) return;
  state.run = msg.run;
  fill(msg.samples);
  updateRun(msg.run);
});
channel.on('run', (msg) => updateRun(msg.run));
channel.on('replace', (msg) => {
  if (!state) return;
  fill([msg.sample]);
  updateNonFinite();
});
channel.on('busy', (msg) => {
  el('busy').hidden = !msg.busy;
  el('busy-label').textContent = msg.label ?? '';
});
channel.on('error', (msg) => {
  el('error').hidden = false;
  el('error').textContent = msg.message;
});
channel.on('saved', (msg) => {
  el('status').textContent = `Saved ${msg.count} files to ${msg.folder}` +
    (msg.run > 1 ? ` (names with -run${msg.run}: an earlier save has the plain names there)` : '');
});

el('save').addEventListener('click', () => send({ type: 'saveAll' }));
el('copy').addEventListener('click', () => send({ type: 'copyCommand' }));
el('explore').addEventListener('click', () => send({ type: 'exploreGuidance' }));
send({ type: 'ready' });
