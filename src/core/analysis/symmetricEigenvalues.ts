// Eigenvalues (only) of a real symmetric matrix: Householder reduction to tridiagonal form,
// then the implicit QL iteration with Wilkinson-type shifts (the eigenvalue half of EISPACK's
// tred2/tql2, as in JAMA). The effective-dimension measurements need the spectrum, never the
// eigenvectors; ml-matrix's EigenvalueDecomposition always accumulates them, which costs about
// five times as much (at d = 768, the 16 x 16 x 3 patches of a 256 x 256 model: seconds per
// field). ml-matrix stays the reference the tests check this against.
import { forMyParts, SOLO, TEAM_PARTS, type Team } from '../team';

/**
 * The n eigenvalues of the symmetric n x n matrix `a` (row-major; only the lower triangle is
 * read), in no particular order. `a` is overwritten.
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  checkSize(a, n);
  if (a.length !== n * n) throw new RangeError(`a holds ${a.length} values, expected n * n = ${n * n}`);
  const d = new Float64Array(n);
  const e = new Float64Array(n); // e[i]: the sub-diagonal element between rows i - 1 and i (e[0] = 0)
  tridiagonalize(a, n, d, e, tridiagonalScratch(n), SOLO);
  tridiagonalEigenvalues(d, e);
  return d;
}

function checkSize(a: Float64Array, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (a.length < n * n) throw new RangeError(`a holds ${a.length} values, expected at least n * n = ${n * n}`);
}

/** Work vectors of the reduction: v, w, the next reflector and its product, and one partial product per part. */
export interface TridiagonalScratch {
  v: Float64Array;
  w: Float64Array;
  vNext: Float64Array;
  pNext: Float64Array;
  /** TEAM_PARTS x n: each part's share of the next product. */
  parts: Float64Array;
}

/** Float64 values a TridiagonalScratch of size n takes (tridiagonalScratch lays them out in this order). */
export function tridiagonalScratchLength(n: number): number {
  return (4 + TEAM_PARTS) * n;
}

export function tridiagonalScratch(n: number, buffer: Float64Array = new Float64Array(tridiagonalScratchLength(n))): TridiagonalScratch {
  const at = (k: number, len = n) => buffer.subarray(k * n, k * n + len);
  return { v: at(0), w: at(1), vNext: at(2), pNext: at(3), parts: at(4, TEAM_PARTS * n) };
}

/**
 * The eigenvalues of the symmetric n x n matrix `a` (lower triangle, overwritten) by a team:
 * every member calls this with the same buffers (`a`, `d`, `e`, the scratch: shared memory when the
 * team has more than one thread); the leader's d holds them on return. The same bits for any team.
 * `pass`: the fused pass's kernel (fusedPass, or node/wasmKernels.ts's WebAssembly one).
 */
export function symmetricEigenvaluesTeam(a: Float64Array, n: number, d: Float64Array, e: Float64Array,
  scratch: TridiagonalScratch, team: Team, pass: FusedPass = fusedPass): void {
  checkSize(a, n);
  tridiagonalize(a, n, d, e, scratch, team, pass);
  if (team.rank === 0) tridiagonalEigenvalues(d.subarray(0, n), e.subarray(0, n));
}

/**
 * Row bounds of part p when rows from..n-1 are cut into TEAM_PARTS parts of about equal work for
 * a pass over the lower triangle (row i costs about i - from + 1), each starting a multiple of 4
 * rows after `from` (the pass takes four rows at a time).
 */
function triangleRuns(from: number, n: number): Int32Array {
  const b = new Int32Array(TEAM_PARTS + 1);
  const m = n - from;
  for (let p = 1; p < TEAM_PARTS; p++) b[p] = from + Math.min(m, 4 * Math.floor((m * Math.sqrt(p / TEAM_PARTS)) / 4));
  b[0] = from;
  b[TEAM_PARTS] = n;
  return b;
}

/** dst[j] = the parts' partial sums of row j, added in part order, for j = from..n-1. */
function sumParts(parts: Float64Array, n: number, from: number, dst: Float64Array): void {
  for (let j = from; j < n; j++) {
    let s = 0;
    for (let p = 0; p < TEAM_PARTS; p++) s += parts[p * n + j];
    dst[j] = s;
  }
}

/**
 * Householder reduction of the symmetric matrix (lower triangle of `a`) to the tridiagonal
 * matrix with diagonal d and sub-diagonal e[1..n-1]. Step k reflects rows/columns k+1..n-1 so
 * that column k is zero below the sub-diagonal; only the lower triangle is updated.
 * Each step needs p = A22·v (a pass over the trailing matrix) and then the rank-2 update
 * A22 -= 2 (v wᵀ + w vᵀ) (another pass). Both are memory-bound at large n (the matrix does not fit
 * in cache), so they are fused: step k first updates column k+1 alone, forms the next reflector
 * from it, and then updates the rest of the trailing matrix and multiplies it by the next
 * reflector in the same pass, four rows at a time: at n = 2048, 2.4 s instead of 5.4 s for the
 * two-pass version. The pass is cut into TEAM_PARTS runs of rows (team members take their own;
 * each run sums its share of the product into its own row of `parts`); the leader does the O(n)
 * steps between passes and adds the parts up in order.
 */
function tridiagonalize(a: Float64Array, n: number, d: Float64Array, e: Float64Array, scratch: TridiagonalScratch, team: Team,
  pass: FusedPass = fusedPass): void {
  let { v, w, vNext, pNext } = scratch;
  const parts = scratch.parts;
  const lead = team.rank === 0;
  if (n >= 3) {
    if (lead) {
      d[0] = a[0];
      reflector(a, n, 0, v, e);
    }
    team.barrier();
    // p for step 0: a plain pass over rows/columns 1..n-1
    const runs = triangleRuns(1, n);
    forMyParts(team, TEAM_PARTS, (part) => {
      const acc = parts.subarray(part * n, (part + 1) * n);
      acc.fill(0);
      for (let i = runs[part]; i < runs[part + 1]; i++) {
        const row = i * n;
        const vi = v[i];
        let s = 0;
        for (let j = 1; j < i; j++) {
          const aij = a[row + j];
          s += aij * v[j];
          acc[j] += aij * vi;
        }
        acc[i] += s + a[row + i] * vi;
      }
    });
    team.barrier();
    if (lead) sumParts(parts, n, 1, w);
  }
  for (let k = 0; k < n - 2; k++) {
    // here v holds step k's reflector and w = A22 v (indices k+1..n-1)
    const c = k + 1;
    if (lead) {
      let K = 0;
      for (let i = k + 1; i < n; i++) K += v[i] * w[i];
      for (let i = k + 1; i < n; i++) w[i] -= K * v[i];
      if (c < n - 2) {
        // column c first: it defines the next reflector
        const vc2 = 2 * v[c];
        const wc2 = 2 * w[c];
        for (let i = c; i < n; i++) a[i * n + c] -= v[i] * wc2 + w[i] * vc2;
        d[c] = a[c * n + c];
        reflector(a, n, c, vNext, e);
      } else {
        for (let i = k + 1; i < n; i++) {
          const row = i * n;
          const vi2 = 2 * v[i];
          const wi2 = 2 * w[i];
          for (let j = k + 1; j <= i; j++) a[row + j] -= vi2 * w[j] + wi2 * v[j];
        }
      }
    }
    if (c >= n - 2) break;
    team.barrier();
    // rows/columns c+1..n-1: the update of step k and the product for step c in one pass
    const runs = triangleRuns(c + 1, n);
    forMyParts(team, TEAM_PARTS, (part) => pass(a, n, c, runs[part], runs[part + 1], v, w, vNext,
      parts.subarray(part * n, (part + 1) * n)));
    team.barrier();
    if (lead) sumParts(parts, n, c + 1, pNext);
    [v, vNext] = [vNext, v];
    [w, pNext] = [pNext, w];
  }
  if (lead) {
    if (n >= 2) {
      d[n - 2] = a[(n - 2) * n + n - 2];
      e[n - 1] = a[(n - 1) * n + n - 2];
    }
    if (n >= 1) d[n - 1] = a[n * n - 1];
    e[0] = 0;
  }
}

/**
 * Rows from..to-1 of the fused pass of step c - 1 (see tridiagonalize): A22 -= 2 (v wᵀ + w vᵀ) on
 * those rows' lower-triangle entries in columns c+1.., and their share of A22·vNext into acc
 * (entries c+1..n-1 zeroed here): four rows at a time (they share the loads of v, w, vNext and acc), then the
 * 4 x 4 corner on the diagonal.
 */
export type FusedPass = typeof fusedPass;

export function fusedPass(a: Float64Array, n: number, c: number, from: number, to: number, v: Float64Array, w: Float64Array,
  vNext: Float64Array, acc: Float64Array): void {
  acc.fill(0, c + 1, n);
  let i = from;
  for (; i + 4 <= to; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    const v0 = 2 * v[i];
    const v1 = 2 * v[i + 1];
    const v2 = 2 * v[i + 2];
    const v3 = 2 * v[i + 3];
    const w0 = 2 * w[i];
    const w1 = 2 * w[i + 1];
    const w2 = 2 * w[i + 2];
    const w3 = 2 * w[i + 3];
    const u0 = vNext[i];
    const u1 = vNext[i + 1];
    const u2 = vNext[i + 2];
    const u3 = vNext[i + 3];
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = c + 1; j < i; j++) {
      const vj = v[j];
      const wj = w[j];
      const uj = vNext[j];
      const a0 = a[r0 + j] - (v0 * wj + w0 * vj);
      const a1 = a[r1 + j] - (v1 * wj + w1 * vj);
      const a2 = a[r2 + j] - (v2 * wj + w2 * vj);
      const a3 = a[r3 + j] - (v3 * wj + w3 * vj);
      a[r0 + j] = a0;
      a[r1 + j] = a1;
      a[r2 + j] = a2;
      a[r3 + j] = a3;
      s0 += a0 * uj;
      s1 += a1 * uj;
      s2 += a2 * uj;
      s3 += a3 * uj;
      acc[j] += a0 * u0 + a1 * u1 + a2 * u2 + a3 * u3;
    }
    acc[i] += s0;
    acc[i + 1] += s1;
    acc[i + 2] += s2;
    acc[i + 3] += s3;
    for (let r = i; r < i + 4; r++) {
      const row = r * n;
      const vr2 = 2 * v[r];
      const wr2 = 2 * w[r];
      const ur = vNext[r];
      for (let j = i; j < r; j++) {
        const arj = a[row + j] - (vr2 * w[j] + wr2 * v[j]);
        a[row + j] = arj;
        acc[r] += arj * vNext[j];
        acc[j] += arj * ur;
      }
      const arr = a[row + r] - (vr2 * w[r] + wr2 * v[r]);
      a[row + r] = arr;
      acc[r] += arr * ur;
    }
  }
  for (; i < to; i++) {
    const row = i * n;
    const vi2 = 2 * v[i];
    const wi2 = 2 * w[i];
    const ui = vNext[i];
    let s = 0;
    for (let j = c + 1; j < i; j++) {
      const aij = a[row + j] - (vi2 * w[j] + wi2 * v[j]);
      a[row + j] = aij;
      s += aij * vNext[j];
      acc[j] += aij * ui;
    }
    const aii = a[row + i] - (vi2 * w[i] + wi2 * v[i]);
    a[row + i] = aii;
    acc[i] += s + aii * ui;
  }
}

/**
 * The Householder reflector of step k: x = a[k+1.., k]; H = I - 2 v vᵀ (|v| = 1, in v[k+1..])
 * maps x to alpha·e_1, and e[k+1] = alpha. v = 0 (H = I) when x is already zero.
 */
function reflector(a: Float64Array, n: number, k: number, v: Float64Array, e: Float64Array): void {
  let scale = 0;
  for (let i = k + 1; i < n; i++) scale += Math.abs(a[i * n + k]);
  if (scale === 0) {
    e[k + 1] = 0;
    for (let i = k + 1; i < n; i++) v[i] = 0;
    return;
  }
  let norm2 = 0;
  for (let i = k + 1; i < n; i++) {
    const xi = a[i * n + k] / scale;
    v[i] = xi;
    norm2 += xi * xi;
  }
  const x0 = v[k + 1];
  const alpha = x0 >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
  e[k + 1] = alpha * scale;
  v[k + 1] = x0 - alpha;
  const vNorm2 = norm2 - x0 * x0 + v[k + 1] * v[k + 1];
  if (vNorm2 === 0) {
    for (let i = k + 1; i < n; i++) v[i] = 0;
    return;
  }
  const inv = 1 / Math.sqrt(vNorm2);
  for (let i = k + 1; i < n; i++) v[i] *= inv;
}

/**
 * Eigenvalues of the symmetric tridiagonal matrix (diagonal d, sub-diagonal e[1..n-1]) by the
 * implicit QL method; they replace d, e is destroyed.
 */
function tridiagonalEigenvalues(d: Float64Array, e: Float64Array): void {
  const n = d.length;
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  if (n > 0) e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > eps * tst1) m++;
    if (m > l) {
      for (let iter = 0; ; iter++) {
        if (iter > 60) throw new Error('symmetricEigenvalues: the QL iteration did not converge');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
        if (!(Math.abs(e[l]) > eps * tst1)) break;
      }
    }
    d[l] += f;
    e[l] = 0;
  }
}
