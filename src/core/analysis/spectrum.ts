// The 2D power spectrum of an image and the share of it at high spatial frequencies.
//
// The spectrum is the exact DFT of the unpadded H x W image (padding or cropping would change
// which frequencies exist). fft.js only transforms power-of-two lengths, so other lengths
// (28 for MNIST-sized images) use Bluestein's algorithm: the DFT of length n rewritten as a
// linear convolution with a chirp, evaluated with fft.js at a power-of-two size >= 2n - 1,
// which holds the whole linear convolution, so the result is exact up to rounding and costs
// O(n log n) for every n.
import FFT from 'fft.js';

/** In-place forward DFT X_k = sum_j x_j exp(-2 pi i j k / n) of one complex line. */
type LineDft = (re: Float64Array, im: Float64Array) => void;

const lineDfts = new Map<number, LineDft>();

/** The (cached) DFT of length n; its scratch buffers are reused between calls. */
function lineDft(n: number): LineDft {
  let dft = lineDfts.get(n);
  if (dft === undefined) {
    if (n === 1) dft = () => undefined;
    else if ((n & (n - 1)) === 0) dft = radix2Dft(n);
    else dft = bluesteinDft(n);
    lineDfts.set(n, dft);
  }
  return dft;
}

function radix2Dft(n: number): LineDft {
  const fft = new FFT(n);
  const input = new Float64Array(2 * n);
  const output = new Float64Array(2 * n);
  return (re, im) => {
    for (let k = 0; k < n; k++) {
      input[2 * k] = re[k];
      input[2 * k + 1] = im[k];
    }
    fft.transform(output, input);
    for (let k = 0; k < n; k++) {
      re[k] = output[2 * k];
      im[k] = output[2 * k + 1];
    }
  };
}

/**
 * Bluestein: with jk = (j^2 + k^2 - (k - j)^2) / 2 and w_m = exp(i pi m^2 / n),
 * X_k = conj(w_k) * sum_j (x_j conj(w_j)) w_(k-j), a convolution with w over lags -(n-1)..n-1.
 */
function bluesteinDft(n: number): LineDft {
  let m = 2;
  while (m < 2 * n - 1) m *= 2;
  const fft = new FFT(m);
  const wRe = new Float64Array(n);
  const wIm = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const phase = (Math.PI * ((j * j) % (2 * n))) / n; // w is 2n-periodic in j^2: keeps the angle small
    wRe[j] = Math.cos(phase);
    wIm[j] = Math.sin(phase);
  }
  const chirp = new Float64Array(2 * m); // w at lags 0..n-1 and, wrapped around, -(n-1)..-1
  for (let j = 0; j < n; j++) {
    chirp[2 * j] = wRe[j];
    chirp[2 * j + 1] = wIm[j];
    if (j > 0) {
      chirp[2 * (m - j)] = wRe[j];
      chirp[2 * (m - j) + 1] = wIm[j];
    }
  }
  const chirpHat = new Float64Array(2 * m);
  fft.transform(chirpHat, chirp);
  const a = new Float64Array(2 * m);
  const aHat = new Float64Array(2 * m);
  return (re, im) => {
    a.fill(0);
    for (let j = 0; j < n; j++) {
      a[2 * j] = re[j] * wRe[j] + im[j] * wIm[j];
      a[2 * j + 1] = im[j] * wRe[j] - re[j] * wIm[j];
    }
    fft.transform(aHat, a);
    for (let k = 0; k < m; k++) {
      const ar = aHat[2 * k];
      const ai = aHat[2 * k + 1];
      const br = chirpHat[2 * k];
      const bi = chirpHat[2 * k + 1];
      aHat[2 * k] = ar * br - ai * bi;
      aHat[2 * k + 1] = ar * bi + ai * br;
    }
    fft.inverseTransform(a, aHat); // cyclic convolution (fft.js scales the inverse by 1 / m)
    for (let k = 0; k < n; k++) {
      const cr = a[2 * k];
      const ci = a[2 * k + 1];
      re[k] = cr * wRe[k] + ci * wIm[k];
      im[k] = ci * wRe[k] - cr * wIm[k];
    }
  };
}

/**
 * Power spectrum |DFT|^2 of a CHW image with each channel's mean subtracted, summed over the
 * channels: a Float64Array [H, W] in DFT order (index 0 is frequency 0; index k > size / 2
 * is the negative frequency k - size).
 */
export function powerSpectrum(image: Float32Array, C: number, H: number, W: number): Float64Array {
  checkShape(image, C, H, W);
  const hw = H * W;
  const re = new Float64Array(hw);
  const im = new Float64Array(hw);
  const colRe = new Float64Array(H);
  const colIm = new Float64Array(H);
  const power = new Float64Array(hw);
  const rowDft = lineDft(W);
  const colDft = lineDft(H);
  for (let c = 0; c < C; c++) {
    const channel = image.subarray(c * hw, (c + 1) * hw);
    let mean = 0;
    for (let i = 0; i < hw; i++) mean += channel[i];
    mean /= hw;
    for (let i = 0; i < hw; i++) re[i] = channel[i] - mean;
    im.fill(0);
    for (let y = 0; y < H; y++) rowDft(re.subarray(y * W, (y + 1) * W), im.subarray(y * W, (y + 1) * W));
    for (let x = 0; x < W; x++) {
      for (let y = 0; y < H; y++) {
        colRe[y] = re[y * W + x];
        colIm[y] = im[y * W + x];
      }
      colDft(colRe, colIm);
      for (let y = 0; y < H; y++) power[y * W + x] += colRe[y] * colRe[y] + colIm[y] * colIm[y];
    }
  }
  return power;
}

/**
 * Share of the power spectrum (see powerSpectrum: channel means removed, channels summed) at
 * radial frequency above cutoff * Nyquist. Frequencies are normalised per axis by their
 * Nyquist frequency, rho = sqrt((2 ky / H)^2 + (2 kx / W)^2) with signed DFT indices ky, kx,
 * so rho = 1 at Nyquist on either axis and the boundary is a circle in normalised
 * coordinates (an ellipse in index space when H != W).
 *
 * White noise has a flat expected spectrum, so it gets the share of non-DC bins beyond the
 * boundary: in the continuum limit the part of the square [-1, 1]^2 outside the disc of
 * radius cutoff, 1 - pi cutoff^2 / 4 (0.804 for cutoff 0.5). Smooth images give about 0, a
 * checkerboard (all power at Nyquist) 1. A constant image has no power and gives 0.
 */
export function highFrequencyShare(image: Float32Array, C: number, H: number, W: number, cutoff = 0.5): number {
  const power = powerSpectrum(image, C, H, W);
  let total = 0;
  let high = 0;
  for (let ky = 0; ky < H; ky++) {
    const ry = (2 * (ky <= H / 2 ? ky : ky - H)) / H;
    for (let kx = 0; kx < W; kx++) {
      const rx = (2 * (kx <= W / 2 ? kx : kx - W)) / W;
      const p = power[ky * W + kx];
      total += p;
      if (ry * ry + rx * rx > cutoff * cutoff) high += p;
    }
  }
  return total > 0 ? high / total : 0;
}

function checkShape(image: Float32Array, C: number, H: number, W: number): void {
  for (const [name, v] of [['C', C], ['H', H], ['W', W]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  if (image.length !== C * H * W) {
    throw new RangeError(`image has ${image.length} values, expected C * H * W = ${C * H * W}`);
  }
}
