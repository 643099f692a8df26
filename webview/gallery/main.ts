// The gallery webview: shows generated samples with class and seed; re-generate one,
// save all, copy the CLI command. Theme colours come from --vscode-* variables.
import '../shared/jitless';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import { el, sender } from '../shared/host';
import { FromWebview, type GalleryState, type SampleView, ToWebview } from './protocol';

const send = sender(FromWebview);
const urls = new Map<number, string>();
let state: GalleryState | undefined;

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
  const img = document.createElement('img');
  img.src = imageUrl(s);
  img.alt = `${s.className}, seed ${s.seed}`;
  img.width = Math.max(112, s.width * 2);
  const cap = document.createElement('figcaption');
  const name = document.createElement('span');
  name.className = 'class';
  name.textContent = s.className;
  const seed = document.createElement('span');
  seed.className = 'seed';
  seed.textContent = `seed ${s.seed}`;
  const again = document.createElement('vscode-button');
  again.setAttribute('icon', 'refresh');
  again.setAttribute('secondary', '');
  again.title = 'Re-generate this sample with a new seed';
  again.setAttribute('aria-label', `Re-generate ${s.className}, seed ${s.seed}`);
  again.addEventListener('click', () => send({ type: 'regenerate', index: s.index }));
  cap.append(name, seed, again);
  fig.append(img, cap);
  if (s.blank) fig.classList.add('blank');
  return fig;
}

function render(st: GalleryState): void {
  state = st;
  el('model').textContent = st.modelName;
  el('provider').textContent = st.provider;
  const s = st.settings;
  el('settings').textContent = `${s.steps} step${s.steps === 1 ? '' : 's'}` +
    (s.hasCfg ? `, \u03c9 ${s.omega}, interval [${s.tMin}, ${s.tMax}]` : '');
  el('timing').textContent = `${st.samples.length} samples in ${(st.ms / 1000).toFixed(2)} s`;
  const grid = el('grid');
  grid.replaceChildren(...st.samples.map(card));
  el('empty').hidden = st.samples.length > 0;
}

window.addEventListener('message', (ev: MessageEvent) => {
  const parsed = ToWebview.safeParse(ev.data);
  if (!parsed.success) {
    console.error('pMF gallery: ignored an invalid message', parsed.error.message);
    return;
  }
  const msg = parsed.data;
  switch (msg.type) {
    case 'show':
      el('error').hidden = true;
      render(msg.state);
      break;
    case 'replace': {
      if (!state) return;
      state.samples[msg.sample.index] = msg.sample;
      const old = document.querySelector(`figure.sample[data-index="${msg.sample.index}"]`);
      old?.replaceWith(card(msg.sample));
      break;
    }
    case 'busy':
      el('busy').hidden = !msg.busy;
      el('busy-label').textContent = msg.label ?? '';
      break;
    case 'error':
      el('error').hidden = false;
      el('error').textContent = msg.message;
      break;
    case 'saved':
      el('status').textContent = `Saved ${msg.count} files to ${msg.folder}`;
      break;
  }
});

el('save').addEventListener('click', () => send({ type: 'saveAll' }));
el('copy').addEventListener('click', () => send({ type: 'copyCommand' }));
send({ type: 'ready' });
