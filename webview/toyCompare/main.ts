// The toy comparison panel: one-step samples of every bundled Swiss roll model in the data
// plane, x-prediction above u-prediction, D growing to the right (the paper's Fig. 2).
import '../shared/jitless';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import { webviewChannel } from '../shared/host';
import { FromWebview, type ToyCell, ToWebview } from '../../src/shared/protocol/toyCompare';

const channel = webviewChannel('pMF toy comparison', { incoming: ToWebview, outgoing: FromWebview });
const grid = document.getElementById('cells')!;
const status = document.getElementById('status')!;
let seed = 0;

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

function drawCell(cell: ToyCell): HTMLElement {
  const fig = document.createElement('figure');
  fig.className = 'cell';
  fig.dataset.prediction = cell.prediction;
  fig.dataset.dim = String(cell.dim);
  const canvas = document.createElement('canvas');
  const size = 220;
  canvas.width = size * devicePixelRatio;
  canvas.height = size * devicePixelRatio;
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${cell.name}: one-step samples in the data plane`);
  const g = canvas.getContext('2d')!;
  g.scale(devicePixelRatio, devicePixelRatio);
  const extent = 2.6; // the roll spans about [-1.9, 1.9]
  const px = (v: number) => ((v + extent) / (2 * extent)) * size;
  g.strokeStyle = cssVar('--vscode-editorWidget-border', '#8884');
  g.strokeRect(0.5, 0.5, size - 1, size - 1);
  g.fillStyle = cssVar(cell.prediction === 'x' ? '--vscode-charts-blue' : '--vscode-charts-orange', '#37f');
  for (let i = 0; i < cell.plane.length; i += 2) {
    const x = px(cell.plane[i]);
    const y = size - px(cell.plane[i + 1]);
    if (x >= 0 && x <= size && y >= 0 && y <= size) g.fillRect(x - 1, y - 1, 2, 2);
  }
  const cap = document.createElement('figcaption');
  const title = document.createElement('strong');
  title.textContent = `${cell.prediction}-prediction, D = ${cell.dim}`;
  const off = document.createElement('span');
  off.className = 'off-plane';
  off.textContent = `off-plane norm ${cell.offPlaneMean.toFixed(3)} \u00b7 PR ${cell.participationRatio.toFixed(1)}`;
  cap.append(title, document.createElement('br'), off);
  fig.append(canvas, cap);
  return fig;
}

channel.on('error', (msg) => {
  status.textContent = msg.message;
  status.setAttribute('role', 'alert');
});
channel.on('cells', (msg) => {
  const cells = [...msg.cells].sort((a, b) => (a.prediction === b.prediction ? a.dim - b.dim : a.prediction === 'x' ? -1 : 1));
  grid.style.gridTemplateColumns = `repeat(${new Set(cells.map((c) => c.dim)).size}, auto)`;
  grid.replaceChildren(...cells.map(drawCell));
  status.textContent = `${msg.points} one-step samples per model (seeds ${seed}\u2013${seed + msg.points - 1}), ` +
    `computed in ${(msg.ms / 1000).toFixed(2)} s`;
  document.body.dataset.cells = String(cells.length);
});

document.getElementById('resample')!.addEventListener('click', () => {
  seed += 4096;
  channel.post({ type: 'resample', seed });
});
channel.post({ type: 'ready' });
