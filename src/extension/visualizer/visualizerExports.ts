// What the Field Visualizer writes and reads back exactly, host side: the panel strip (PNG bytes
// from the webview), the trajectory as an animation (GIF / WebP, rendered here with sharp), one
// frame as .npy, and the exact float32 values of a pixel for the hover readout (the panels show
// 8-bit display values; the engine holds the exact ones).
import * as vscode from 'vscode';
import { FIELD_NAMES, type FieldName, FieldLayout, valuesPerSample } from '../../core/fieldLayout';
import type { EngineClient } from '../../engine/client';
import type { TrajectoryReply } from '../../engine/protocol';
import { encodeAnimation } from '../../node/animation';
import { countNonFinite, describeCount } from '../../node/nonFinite';
import { encodeNpy } from '../../node/npy';
import { writeFileAtomic } from '../../node/outputFiles';
import type { MessageOf } from '../../shared/channel';
import type { ToWebview } from '../../shared/protocol/visualizer';
import { fieldFrames } from './frameRender';

type FrameData = { fields: Float32Array; n: number; sampleShape: number[] };

export class VisualizerExports {
  /** Exact fields of the frame last asked for by the hover readout. */
  private exactFrame?: { trajectoryId: string; frame: number; data: Promise<FrameData> };

  constructor(private readonly engine: EngineClient, private readonly post: (msg: ToWebview) => void) {}

  /** Asks where to save (in the first workspace folder by default) and writes all or nothing. */
  async save(ext: string, data: Buffer, label: string): Promise<void> {
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri;
    const name = `pmf-fields-${Date.now()}.${ext}`;
    const uri = await vscode.window.showSaveDialog({ defaultUri: ws ? vscode.Uri.joinPath(ws, name) : undefined,
      filters: { [label]: [ext] } });
    if (!uri) return;
    // all or nothing: a temporary file beside it, renamed over it (the dialog asked before replacing a file)
    await writeFileAtomic(uri.fsPath, data, 'choose another name');
    this.post({ type: 'exported', path: uri.fsPath });
  }

  async animation(reply: TrajectoryReply | undefined, dataRange: readonly [number, number] | undefined,
    format: 'gif' | 'webp', field: FieldName): Promise<void> {
    if (!reply?.fields || !dataRange) throw new Error('Animations need a trajectory of an image model.');
    const { times, n, sampleShape } = reply;
    const layout = FieldLayout.of(n, sampleShape);
    const k = FIELD_NAMES.indexOf(field);
    const count = { nan: 0, inf: 0 };
    for (let f = 0; f < times.length; f++) {
      const c = countNonFinite(layout.field(reply.fields, f, k));
      count.nan += c.nan;
      count.inf += c.inf;
    }
    if (count.nan + count.inf > 0) {
      throw new Error(`The ${field} field of this trajectory holds ${describeCount(count)}: an animation would show them as black, ` +
        'so none was saved. Export the frame as .npy to look at the values.');
    }
    const frames = fieldFrames(reply.fields, times.length, n, sampleShape, field, dataRange);
    const scale = Math.max(1, Math.floor(128 / sampleShape[1]));
    await this.save(format, await encodeAnimation(frames, format, { scale }), format.toUpperCase());
  }

  async npy(trajectoryId: string | undefined, frame: number): Promise<void> {
    if (trajectoryId === undefined) throw new Error('Run a trajectory first.');
    const d = await this.engine.frameData(trajectoryId, frame);
    await this.save('npy', encodeNpy(d.fields, [4, d.n, ...d.sampleShape]), 'NumPy array (z, x, u, v)');
  }

  /** The exact float32 values of one pixel of a frame (its fields at the frame's own r), for the readout. */
  async exactAt(reply: TrajectoryReply | undefined, frame: number, sample: number, x: number, y: number):
    Promise<MessageOf<ToWebview, 'exact'> | undefined> {
    if (!reply?.fields) return undefined;
    const id = reply.trajectoryId;
    if (this.exactFrame?.trajectoryId !== id || this.exactFrame.frame !== frame) {
      const data = this.engine.frameData(id, frame);
      this.exactFrame = { trajectoryId: id, frame, data };
      data.catch(() => { if (this.exactFrame?.data === data) this.exactFrame = undefined; });
    }
    const d = await this.exactFrame.data;
    const [C = 1, H = 1, W = 1] = d.sampleShape;
    if (sample >= d.n || x >= W || y >= H) return undefined;
    const layout = new FieldLayout(d.n, valuesPerSample(d.sampleShape));
    const values = [0, 1, 2, 3].map((k) => Array.from({ length: C }, (_, c) => d.fields[layout.index(0, k, sample, c * H * W + y * W + x)]));
    return { type: 'exact', frame, sample, x, y, values };
  }
}
