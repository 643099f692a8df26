// The grid's requests for cells (src/shared/channel.ts CoalescedRequest): one request in flight;
// while it is, only the newest waits, so nothing queues up behind a dragged slider. What a request
// asks for is decided when it is sent, not when it was made: the cells whose wanted image (their
// key: guidance, seed, class, steps, noise scale) is neither shown nor on its way. An answer
// draws the cells still wanting what it brings. The round trip (the first change since the last
// request -> those cells drawn) is reported as `timing` cells and left on <body> for the benchmark.
// Nothing is asked for while the page is hidden; the cells wanted then go out when it is shown.
import { type Channel, CoalescedRequest, type MessageOf } from '../../src/shared/channel';
import { type Cell, cellKey, type FromWebview, type Images, type ToWebview } from '../../src/shared/protocol/guidance';

/** An answer that does not come within this is given up (the next request goes out). */
const CELLS_TIMEOUT_MS = 60_000;
/**
 * A request the engine will take longer than this over (a B/16 row on a CPU: seconds) waits until
 * the changes have stopped for SETTLE_MS: sent mid-drag, it would hold the slider's final cells
 * behind it for its whole run (2.6 s from the slider stopping to a B/16 row, against 1.6 s alone).
 * Cheap models (the bundled one: ~8 ms a row) answer a dragged slider as it moves.
 */
const EXPENSIVE_MS = 300;
const SETTLE_MS = 150;

export interface WantedCells {
  /** Every cell of the grid, row by row. */
  cells: Cell[];
  steps: number;
  noiseScale: number;
}

interface Sent {
  /** Grid positions and the keys asked for. */
  at: number[];
  keys: string[];
  since: number;
  images?: Images;
}

export class CellRequests {
  private shown: string[] = [];
  private readonly onTheWay = new Map<number, string>();
  private changedAt: number | undefined;
  private deferred = false;
  /** Engine milliseconds per cell, learned from the answers (0 until the first). */
  private msPerCell = 0;
  private settling: ReturnType<typeof setTimeout> | undefined;
  private readonly requests: CoalescedRequest<() => Sent | undefined, Sent>;
  drawnCount = 0;

  constructor(private readonly channel: Channel<ToWebview, FromWebview>, private readonly wanted: () => WantedCells | undefined,
    private readonly draw: (at: number, images: Images, k: number) => void, private readonly onError: (message: string) => void) {
    this.requests = new CoalescedRequest(async (make) => {
      const sent = make();
      if (!sent) return undefined;
      const w = this.wanted()!;
      try {
        const { reply } = channel.request<MessageOf<ToWebview, 'images'>>({ type: 'cells', cells: sent.at.map((i) => w.cells[i]),
          steps: w.steps, noiseScale: w.noiseScale }, { timeoutMs: CELLS_TIMEOUT_MS });
        const answer = await reply;
        if (answer?.images && sent.at.length) this.msPerCell = answer.images.engineMs / sent.at.length;
        return { ...sent, images: answer?.images };
      } finally {
        for (const [i, k] of sent.at.map((a, j) => [a, sent.keys[j]] as const)) if (this.onTheWay.get(i) === k) this.onTheWay.delete(i);
      }
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.deferred) this.update();
    });
  }

  /** Whether cells are on their way (the strips wait for them: the grid comes first). */
  get busy(): boolean {
    return this.onTheWay.size > 0;
  }

  /** The grid changed shape: nothing on it is shown any more. */
  reset(): void {
    clearTimeout(this.settling);
    this.settling = undefined;
    this.shown = [];
    this.onTheWay.clear();
    this.requests.reset();
  }

  /** Something the cells depend on changed: asks for those that now want another image. */
  update(): void {
    this.changedAt ??= performance.now();
    if (document.visibilityState === 'hidden') {
      this.deferred = true;
      return;
    }
    this.deferred = false;
    if (this.msPerCell * this.staleCount() > EXPENSIVE_MS) {
      clearTimeout(this.settling);
      this.settling = setTimeout(() => {
        this.settling = undefined;
        this.send();
      }, SETTLE_MS);
      return;
    }
    this.send();
  }

  private send(): void {
    this.requests.request(() => this.stale()).then((r) => {
      const sent = r?.reply;
      if (!sent?.images) return;
      const w = this.wanted();
      if (!w) return;
      let drawn = 0;
      sent.at.forEach((i, j) => {
        if (i >= w.cells.length || cellKey(w.cells[i], w.steps, w.noiseScale) !== sent.keys[j]) return; // changed meanwhile
        this.draw(i, sent.images!, j);
        this.shown[i] = sent.keys[j];
        drawn++;
      });
      if (!drawn) return;
      this.drawnCount++;
      document.body.dataset.cellsDrawn = String(this.drawnCount);
      requestAnimationFrame(() => {
        const ms = performance.now() - sent.since;
        document.body.dataset.lastRoundTrip = ms.toFixed(2);
        document.body.dataset.lastCells = String(drawn);
        document.body.dataset.lastEngineMs = sent.images!.engineMs.toFixed(2);
        document.body.dataset.lastDrawnAt = performance.now().toFixed(1);
        this.channel.post({ type: 'timing', name: 'cells', ms, cells: drawn });
      });
    }, (e: unknown) => this.onError(e instanceof Error ? e.message : String(e)));
  }

  /** How many cells want an image they neither show nor have on their way. */
  private staleCount(): number {
    const w = this.wanted();
    if (!w) return 0;
    return w.cells.filter((c, i) => {
      const k = cellKey(c, w.steps, w.noiseScale);
      return this.shown[i] !== k && this.onTheWay.get(i) !== k;
    }).length;
  }

  /** The cells to ask for now (neither shown nor on their way), or undefined when there are none. */
  private stale(): Sent | undefined {
    const w = this.wanted();
    if (!w) return undefined;
    const at: number[] = [];
    const keys: string[] = [];
    w.cells.forEach((c, i) => {
      const k = cellKey(c, w.steps, w.noiseScale);
      if (this.shown[i] === k || this.onTheWay.get(i) === k) return;
      at.push(i);
      keys.push(k);
      this.onTheWay.set(i, k);
    });
    const since = this.changedAt ?? performance.now();
    this.changedAt = undefined;
    return at.length ? { at, keys, since } : undefined;
  }
}
