// The effective dimension of x's and u's patches along t, one colour per model (x solid, u
// dashed), t running from 1 (noise, left) to 0 (data, right) as in the Field Visualizer, on a
// log scale from 1 to the largest patch dimension; the chosen t is marked.

export interface DimLine {
  color: string;
  times: number[];
  x: number[];
  u: number[];
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

export function drawDimPlot(canvas: HTMLCanvasElement, lines: DimLine[], maxDim: number, markT: number | undefined): void {
  const cssW = canvas.clientWidth || 480;
  const cssH = canvas.clientHeight || 220;
  const dpr = devicePixelRatio || 1;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  const g = canvas.getContext('2d')!;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, cssW, cssH);
  const fg = cssVar('--vscode-descriptionForeground', '#888');
  const grid = cssVar('--vscode-editorWidget-border', '#8884');
  const font = `11px ${cssVar('--vscode-font-family', 'sans-serif')}`;
  const left = 40;
  const right = 24; // room for the last t label
  const top = 8;
  const bottom = 24;
  const w = cssW - left - right;
  const h = cssH - top - bottom;
  const top10 = Math.max(10, maxDim);
  const logMax = Math.log10(top10);
  const px = (t: number) => left + (1 - t) * w;
  const py = (d: number) => top + h - (Math.log10(Math.max(1, d)) / logMax) * h;
  g.font = font;
  g.lineWidth = 1;
  g.strokeStyle = grid;
  g.fillStyle = fg;
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  const ticks = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000].filter((d) => d <= top10);
  for (const d of ticks) {
    g.beginPath();
    g.moveTo(left, py(d) + 0.5);
    g.lineTo(left + w, py(d) + 0.5);
    g.stroke();
    g.fillText(String(d), left - 4, py(d));
  }
  g.textAlign = 'center';
  g.textBaseline = 'top';
  for (const t of [1, 0.75, 0.5, 0.25, 0]) g.fillText(`t = ${t}`, px(t), top + h + 6);
  if (markT !== undefined) {
    g.strokeStyle = fg;
    g.setLineDash([2, 3]);
    g.beginPath();
    g.moveTo(px(markT) + 0.5, top);
    g.lineTo(px(markT) + 0.5, top + h);
    g.stroke();
  }
  g.lineWidth = 2;
  for (const line of lines) {
    g.strokeStyle = line.color;
    g.fillStyle = line.color;
    const styles: Array<[number[], number[]]> = [[line.x, []], [line.u, [6, 4]]];
    for (const [values, dash] of styles) {
      g.setLineDash(dash);
      g.beginPath();
      values.forEach((d, i) => {
        const X = px(line.times[i]);
        const Y = py(d);
        if (i === 0) g.moveTo(X, Y);
        else g.lineTo(X, Y);
      });
      g.stroke();
      g.setLineDash([]);
      values.forEach((d, i) => g.fillRect(px(line.times[i]) - 2, py(d) - 2, 4, 4));
    }
  }
  g.setLineDash([]);
}
