// The Field Visualizer's trajectory store: the trajectory on screen, its frames as they stream in
// (image models: [F, 4, n, per], src/core/fieldLayout.ts), and the r slider's override of one
// frame (x and u at another r). It checks what arrives against what it holds and answers the
// drawing code's questions: a frame's t and r, its fields, its data-plane view.
import { dequantise8 } from '../../src/core/frameEncoding';
import { FieldLayout } from '../../src/core/fieldLayout';
import type { FieldsResult, FramesResult, Quantised, TrajectoryResult, VizConfig } from '../../src/shared/protocol/visualizer';
import type { FrameFields } from './fieldCanvas';
import type { ToyFrame } from './toyPlane';

/**
 * The fields a message carries as float32: its 8-bit display frames decoded (blocks of `per`
 * values, each with its range), or its float32 fields as they are.
 */
export function decodeFields(res: { fields?: Float32Array; q8?: Quantised }, per: number): Float32Array | undefined {
  if (res.q8) {
    if (per < 1 || res.q8.data.length !== res.q8.lo.length * per) return new Float32Array(0);
    return dequantise8(res.q8, per);
  }
  return res.fields;
}

/** Fields of one frame at another r (the r slider), newer than the trajectory. */
interface Override {
  frame: number;
  rFraction: number;
  result: FieldsResult;
  /** Image models: the frame's z and v with x and u at the override's r, [4, n, per]. */
  composite?: Float32Array;
}

export class Trajectory {
  readonly F: number;
  readonly n: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly per: number;
  readonly layout: FieldLayout;
  /** Image models: all frames' fields, [F, 4, n, per], filled as frames arrive. */
  readonly fields?: Float32Array;
  /** Frames 0..loaded-1 have arrived (all of them for toys). */
  loaded: number;
  private override?: Override;

  private constructor(readonly result: TrajectoryResult, readonly kind: 'image' | 'toy', readonly config: VizConfig,
    dims: { C: number; H: number; W: number; per: number }, sent: Float32Array | undefined) {
    this.F = result.times.length;
    this.n = result.n;
    this.C = dims.C;
    this.H = dims.H;
    this.W = dims.W;
    this.per = dims.per;
    this.layout = new FieldLayout(this.n, this.per);
    if (sent) {
      const all = sent.length === this.F * this.layout.frameSize ? sent : new Float32Array(this.F * this.layout.frameSize);
      if (all !== sent) all.set(sent);
      this.fields = all;
    }
    this.loaded = sent ? this.layout.framesIn(sent.length) : this.F;
  }

  /** The run that computed it (a later patch-size run measures it again under its own id). */
  get requestId(): number {
    return this.result.requestId;
  }

  /** The trajectory a `trajectory` message starts, or why it does not fit its model. */
  static from(res: TrajectoryResult, kind: 'image' | 'toy', config: VizConfig): Trajectory | string {
    const F = res.times.length;
    const n = res.n;
    const shape = res.sampleShape.length === 3 ? res.sampleShape : [1, ...res.sampleShape.slice(-2)];
    const [C, H, W] = kind === 'image' ? shape : [res.sampleShape[0] ?? 2, 1, 1];
    const per = kind === 'image' ? C * H * W : res.sampleShape.reduce((a, b) => a * b, 1);
    if (F < 1 || res.rs.length !== F) return `The trajectory has ${F} times and ${res.rs.length} r values.`;
    const size = 4 * n * per;
    const sent = decodeFields(res, per);
    if (kind === 'image' && (!sent || sent.length % size !== 0 || sent.length < size || sent.length > F * size)) {
      return `The trajectory's fields have ${sent?.length ?? 0} values, expected frames of 4\u00d7${n}\u00d7${per}.`;
    }
    if (kind === 'toy' && (!res.toy || res.toy.plane.length !== F * 4 * n * 2)) {
      return 'The toy trajectory has no data-plane view of the expected size.';
    }
    return new Trajectory(res, kind, config, { C, H, W, per }, sent);
  }

  /** More frames (they arrive in order); undefined when taken, else why not. */
  addFrames(res: FramesResult): string | undefined {
    if (!this.fields) return undefined;
    const sent = decodeFields(res, this.per);
    const count = this.layout.framesIn(sent?.length ?? 0);
    if (!sent || res.start !== this.loaded || !Number.isInteger(count) || count < 1 || res.start + count > this.F) {
      return `Frames ${res.start}.. arrived out of order or of the wrong size (${this.loaded} of ${this.F} received).`;
    }
    this.fields.set(sent, res.start * this.layout.frameSize);
    this.loaded += count;
    return undefined;
  }

  /** t, r and r / t of frame f (the override's, when it has one). */
  frameTR(f: number): { t: number; r: number; rFraction: number } {
    const o = this.override;
    if (o && o.frame === f) return { t: o.result.t, r: o.result.r, rFraction: o.rFraction };
    const t = this.result.times[f];
    const r = this.result.rs[f];
    return { t, r, rFraction: this.config.rMode === 'step' ? (t > 0 ? r / t : 0) : this.config.rFraction };
  }

  /** Whether frame f shows at another r than the trajectory's (the r slider moved). */
  overridden(f: number): boolean {
    return this.override?.frame === f;
  }

  /** Drops the r slider's frame. */
  clearOverride(): void {
    this.override = undefined;
  }

  /** Takes an answer to fieldsAt as frame `frame` at `rFraction`; false when it does not fit this trajectory. */
  setOverride(rFraction: number, raw: FieldsResult): boolean {
    const res: FieldsResult = raw.q8 ? { ...raw, q8: undefined, fields: decodeFields(raw, this.per) } : raw;
    const fits = this.kind === 'toy'
      ? !!res.toy && res.toy.plane.length === 4 * this.n * 2
      : !!res.fields && res.fields.length === 2 * this.layout.fieldSize;
    if (res.frame >= this.F || !fits) return false;
    this.override = { frame: res.frame, rFraction, result: res };
    return true;
  }

  /** Image models: frame f's fields for drawing, undefined while it is on its way. */
  imageFrame(f: number): FrameFields | undefined {
    const { t, r } = this.frameTR(f);
    if (!this.fields || f >= this.loaded) return undefined;
    const { n, C, H, W, layout } = this;
    const own = layout.frames(this.fields, f);
    const o = this.override;
    if (o && o.frame === f && o.result.fields) {
      if (!o.composite) {
        const block = layout.fieldSize;
        const c = new Float32Array(layout.frameSize);
        c.set(layout.field(own, 0, 0), 0); // z
        c.set(o.result.fields, block); // x, u at the new r
        c.set(layout.field(own, 0, 3), 3 * block); // v
        o.composite = c;
      }
      return { data: o.composite, n, C, H, W, t, r };
    }
    return { data: own, n, C, H, W, t, r };
  }

  /** Toy models: frame f's data-plane view ([4, n, 2] and [4, n]). */
  toyFrame(f: number): ToyFrame | undefined {
    const { t, r } = this.frameTR(f);
    const n = this.n;
    const o = this.override;
    if (o && o.frame === f && o.result.toy) return { plane: o.result.toy.plane, offPlane: o.result.toy.offPlane, n, t, r };
    const toy = this.result.toy;
    if (!toy) return undefined;
    return { plane: new FieldLayout(n, 2).frames(toy.plane, f), offPlane: new FieldLayout(n, 1).frames(toy.offPlane, f), n, t, r };
  }
}
