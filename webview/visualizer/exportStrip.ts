// The PNG export: the panel strip as drawn (every sample x z, x, u, v at the current zoom) on one
// canvas, with a title line (model, t, r, h), the field names above the columns, each sample's
// label on the left and each panel's value range below it. Colours follow the current theme.
import { fmt } from './colormap';
import { FIELD_TITLE_TEXT, type FieldGrid } from './fieldCanvas';

const PAD = 10;
const GAP = 6;
const LINE = 16;

export function renderStrip(grid: FieldGrid, title: string): HTMLCanvasElement | undefined {
  const panels = grid.panels();
  if (!panels.length) return undefined;
  const labels = grid.sampleLabels();
  const zoom = grid.zoom;
  const W = Math.max(1, Math.round(panels[0][0].canvas.width * zoom));
  const H = Math.max(1, Math.round(panels[0][0].canvas.height * zoom));
  const cs = getComputedStyle(document.body);
  const bg = cs.getPropertyValue('--vscode-editor-background').trim() || '#ffffff';
  const fg = cs.getPropertyValue('--vscode-editor-foreground').trim() || cs.getPropertyValue('--vscode-foreground').trim() || '#000000';
  const dim = cs.getPropertyValue('--vscode-descriptionForeground').trim() || fg;
  const family = cs.getPropertyValue('--vscode-font-family').trim() || 'sans-serif';
  const font = (px: number, weight = '') => `${weight} ${px}px ${family}`.trim();

  const probe = document.createElement('canvas').getContext('2d')!;
  const labelW = Math.ceil(Math.max(40, ...labels.map((l) => {
    probe.font = font(12, '600');
    const a = probe.measureText(l.title).width;
    probe.font = font(11);
    return Math.max(a, probe.measureText(l.detail).width);
  }))) + GAP;
  const colW = Math.max(W, 72);
  const rowH = H + LINE;
  const width = PAD * 2 + labelW + 4 * colW + 3 * GAP;
  const height = PAD * 2 + LINE + 4 + LINE + panels.length * (rowH + GAP);

  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  const ctx = c.getContext('2d')!;
  ctx.fillStyle = bg;
  ctx.fillRect(0, 0, width, height);
  ctx.imageSmoothingEnabled = zoom < 1; // square pixels when enlarging, averaged when shrinking
  ctx.textBaseline = 'top';
  ctx.fillStyle = fg;
  ctx.font = font(12, '600');
  ctx.fillText(title, PAD, PAD);
  const top = PAD + LINE + 4;
  ctx.font = font(12);
  panels[0].forEach((p, j) => {
    ctx.fillText(FIELD_TITLE_TEXT[p.field], PAD + labelW + j * (colW + GAP), top);
  });
  panels.forEach((row, i) => {
    const y = top + LINE + i * (rowH + GAP);
    const l = labels[i];
    ctx.fillStyle = fg;
    ctx.font = font(12, '600');
    ctx.fillText(l?.title ?? `#${i + 1}`, PAD, y);
    ctx.fillStyle = dim;
    ctx.font = font(11);
    ctx.fillText(l?.detail ?? '', PAD, y + LINE);
    row.forEach((p, j) => {
      const x = PAD + labelW + j * (colW + GAP);
      ctx.drawImage(p.canvas, x, y, W, H);
      ctx.fillStyle = dim;
      ctx.font = font(10);
      ctx.fillText(`[${fmt(p.range[0])}, ${fmt(p.range[1])}]${p.lut.name === 'grey' ? '' : ` ${p.lut.name}`}`, x, y + H + 2, colW);
    });
  });
  return c;
}

export function canvasToPng(canvas: HTMLCanvasElement): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => {
      if (!blob) {
        reject(new Error('the panel strip could not be encoded as PNG'));
        return;
      }
      blob.arrayBuffer().then((b) => resolve(new Uint8Array(b)), reject);
    }, 'image/png');
  });
}
