// PNG output with sharp: single samples with their generation settings embedded as XMP,
// and labelled grids.
import type { Sharp } from 'sharp';

/** sharp (and its native libvips) loads on first use, not when the extension activates. */
let sharpModule: typeof import('sharp') | undefined;
async function sharp(input?: Buffer, options?: import('sharp').SharpOptions): Promise<Sharp> {
  sharpModule ??= (await import('sharp')).default;
  return sharpModule(input, options);
}

const XMP_NS = 'https://pmf-lab.dev/ns/1.0/';

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** An XMP packet carrying the settings as JSON (pmf:settings) and a readable description. */
export function settingsXmp(settings: Record<string, unknown>, description: string): string {
  return '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>' +
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
    `<rdf:Description rdf:about="" xmlns:pmf="${XMP_NS}" xmlns:dc="http://purl.org/dc/elements/1.1/">` +
    `<pmf:settings>${xmlEscape(JSON.stringify(settings))}</pmf:settings>` +
    `<dc:description><rdf:Alt><rdf:li xml:lang="x-default">${xmlEscape(description)}</rdf:li></rdf:Alt></dc:description>` +
    '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>';
}

/** Reads the settings embedded by encodePng (undefined when the PNG has none). */
export async function readPngSettings(png: Buffer): Promise<Record<string, unknown> | undefined> {
  const { xmp } = await (await sharp(png)).metadata();
  const m = xmp?.toString('utf8').match(/<pmf:settings>([\s\S]*?)<\/pmf:settings>/);
  if (!m) return undefined;
  const json = m[1].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return JSON.parse(json) as Record<string, unknown>;
}

export interface RawImage {
  pixels: Uint8Array; // interleaved [H, W, C]
  width: number;
  height: number;
  channels: number; // 1 or 3
}

function sharpRaw(img: RawImage): Promise<Sharp> {
  return sharp(Buffer.from(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength), {
    raw: { width: img.width, height: img.height, channels: img.channels as 1 | 3 },
  });
}

/** A PNG of one image, optionally upscaled (nearest) and with embedded settings. */
export async function encodePng(img: RawImage, opts: { scale?: number; settings?: Record<string, unknown>;
  description?: string } = {}): Promise<Buffer> {
  let s = await sharpRaw(img);
  const scale = opts.scale ?? 1;
  if (scale !== 1) s = s.resize(img.width * scale, img.height * scale, { kernel: 'nearest' });
  if (img.channels === 1) s = s.toColourspace('b-w');
  if (opts.settings) s = s.withXmp(settingsXmp(opts.settings, opts.description ?? ''));
  return s.png({ compressionLevel: 9 }).toBuffer();
}

/** Lays images of equal size out in rows x cols with `pad` pixels of background between them. */
export function gridImage(images: RawImage[], cols: number, pad = 2, background = 255): RawImage {
  if (images.length === 0) throw new RangeError('a grid needs at least one image');
  const { width: w, height: h, channels: c } = images[0];
  const rows = Math.ceil(images.length / cols);
  const W = cols * w + (cols + 1) * pad;
  const H = rows * h + (rows + 1) * pad;
  const out = new Uint8Array(W * H * c).fill(background);
  images.forEach((img, k) => {
    if (img.width !== w || img.height !== h || img.channels !== c) throw new RangeError('grid images differ in size');
    const x0 = pad + (k % cols) * (w + pad);
    const y0 = pad + Math.floor(k / cols) * (h + pad);
    for (let y = 0; y < h; y++) {
      out.set(img.pixels.subarray(y * w * c, (y + 1) * w * c), ((y0 + y) * W + x0) * c);
    }
  });
  return { pixels: out, width: W, height: H, channels: c };
}
