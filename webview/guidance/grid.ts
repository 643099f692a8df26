// The grid of samples: rows of omega, columns of seeds (with their classes) or of guidance
// intervals, one canvas per cell. One cell is selected (the sliders, the seed walk and "Use these
// settings" are about it); the grid takes the keyboard as one widget (roving tabindex: arrows
// move the selection, Home / End go to the row's ends), and a click selects.
import { type Cell, gridShape, type GuidanceConfig, type Images } from '../../src/shared/protocol/guidance';
import { displaySize, paint } from './images';

export interface GridEvents {
  select(row: number, col: number): void;
}

const fmt = (x: number) => String(Number(x.toFixed(3)));

export class SampleGrid {
  private canvases: HTMLCanvasElement[] = [];
  private cols = 0;
  private selected = { row: 0, col: 0 };

  constructor(readonly root: HTMLElement, private readonly ev: GridEvents) {
    root.setAttribute('role', 'grid');
    root.addEventListener('keydown', (e) => this.onKey(e));
  }

  /** Builds the grid for a config (its cells are blank until drawn). */
  layout(c: GuidanceConfig, classNames: string[], cellAt: (row: number, col: number) => Cell, imageWidth: number): void {
    const { rows, cols } = gridShape(c);
    this.cols = cols;
    const size = `${displaySize(imageWidth)}px`;
    this.root.style.setProperty('--cell-size', size);
    this.root.style.gridTemplateColumns = `auto repeat(${cols}, ${size})`;
    this.root.setAttribute('aria-label', `Samples: ${rows} rows of omega, ${cols} columns of ${c.columns === 'seeds' ? 'seeds' : 'guidance intervals'}`);
    const head = document.createElement('div');
    head.setAttribute('role', 'row');
    head.className = 'grid-row';
    const corner = document.createElement('div');
    corner.className = 'corner';
    corner.textContent = c.columns === 'seeds' ? '\u03c9 \\ seed' : '\u03c9 \\ [t_min, t_max]';
    head.append(corner);
    for (let col = 0; col < cols; col++) {
      const cell = cellAt(0, col);
      const h = document.createElement('div');
      h.setAttribute('role', 'columnheader');
      h.className = 'col-head';
      if (c.columns === 'seeds') {
        h.textContent = `${cell.seed}`;
        const cls = cell.label === undefined ? '' : classNames[cell.label] ?? 'unconditional';
        if (cls) h.append(Object.assign(document.createElement('span'), { className: 'class', textContent: cls }));
      } else {
        h.textContent = `[${fmt(cell.tMin)}, ${fmt(cell.tMax)}]`;
      }
      head.append(h);
    }
    const body: HTMLElement[] = [head];
    this.canvases = [];
    for (let row = 0; row < rows; row++) {
      const r = document.createElement('div');
      r.setAttribute('role', 'row');
      r.className = 'grid-row';
      const rh = document.createElement('div');
      rh.setAttribute('role', 'rowheader');
      rh.className = 'row-head';
      rh.textContent = `\u03c9 ${fmt(c.omegas[row])}`;
      r.append(rh);
      for (let col = 0; col < cols; col++) {
        const cell = cellAt(row, col);
        const cv = document.createElement('canvas');
        cv.className = 'cell';
        cv.setAttribute('role', 'gridcell');
        cv.dataset.row = String(row);
        cv.dataset.col = String(col);
        cv.tabIndex = -1;
        cv.setAttribute('aria-label', describeCell(cell, classNames));
        cv.addEventListener('click', () => this.ev.select(row, col));
        r.append(cv);
        this.canvases.push(cv);
      }
      body.push(r);
    }
    this.root.replaceChildren(...body);
    this.select(c.selected.row, c.selected.col, false);
  }

  /** Cell i (row-major) shows image k of `images`. */
  draw(i: number, images: Images, k: number): void {
    const cv = this.canvases[i];
    if (cv) paint(cv, images, k);
  }

  /** Updates a row's header and its cells' labels (the omega slider moves one row). */
  relabel(c: GuidanceConfig, classNames: string[], cellAt: (row: number, col: number) => Cell): void {
    const heads = this.root.querySelectorAll<HTMLElement>('.row-head');
    c.omegas.forEach((w, row) => {
      if (heads[row]) heads[row].textContent = `\u03c9 ${fmt(w)}`;
    });
    const colHeads = this.root.querySelectorAll<HTMLElement>('.col-head');
    if (c.columns === 'intervals') {
      colHeads.forEach((h, col) => {
        const { tMin, tMax } = cellAt(0, col);
        h.textContent = `[${fmt(tMin)}, ${fmt(tMax)}]`;
      });
    }
    this.canvases.forEach((cv, i) => cv.setAttribute('aria-label', describeCell(cellAt(Math.floor(i / this.cols), i % this.cols), classNames)));
  }

  /** Marks (row, col) as selected; focus: also moves the keyboard focus there. */
  select(row: number, col: number, focus: boolean): void {
    this.selected = { row, col };
    this.canvases.forEach((cv, i) => {
      const on = Math.floor(i / this.cols) === row && i % this.cols === col;
      cv.classList.toggle('selected', on);
      cv.setAttribute('aria-selected', String(on));
      cv.tabIndex = on ? 0 : -1;
      if (on && focus) cv.focus();
    });
  }

  private onKey(e: KeyboardEvent): void {
    const rows = this.cols ? this.canvases.length / this.cols : 0;
    if (!rows) return;
    let { row, col } = this.selected;
    switch (e.key) {
      case 'ArrowLeft': col = Math.max(0, col - 1); break;
      case 'ArrowRight': col = Math.min(this.cols - 1, col + 1); break;
      case 'ArrowUp': row = Math.max(0, row - 1); break;
      case 'ArrowDown': row = Math.min(rows - 1, row + 1); break;
      case 'Home': col = 0; break;
      case 'End': col = this.cols - 1; break;
      default: return;
    }
    e.preventDefault();
    this.ev.select(row, col);
    this.select(row, col, true);
  }
}

export function describeCell(c: Cell, classNames: string[]): string {
  const cls = c.label === undefined ? '' : `, ${classNames[c.label] ?? 'unconditional'}`;
  return `\u03c9 ${fmt(c.omega)}, interval [${fmt(c.tMin)}, ${fmt(c.tMax)}], seed ${c.seed}${cls}`;
}
