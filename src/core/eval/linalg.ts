// Dense kernels for the Frechet distance: pivoted Cholesky of a positive semi-definite matrix and
// products of the form C[a][b] = Σ_t X[a][t]·Y[b][t] (rows against rows: both operands are read
// contiguously), tiled so that the rows in use stay in cache. Float64Array, row-major.

/**
 * Cholesky factorization with symmetric (diagonal) pivoting of the symmetric positive
 * semi-definite n x n matrix `a` (row-major, full; overwritten): P A Pᵀ = L Lᵀ, L n x rank, lower
 * trapezoidal, where (P A Pᵀ)[i][j] = A[perm[i]][perm[j]]. It stops when the largest remaining
 * pivot is at most `tol` (default n·2^-52·max diag, LAPACK dpstrf's): the remaining Schur
 * complement, positive semi-definite with trace below (n - rank)·tol, is dropped. Returns Lᵀ
 * (rank x n row-major: lt[k][i] = L[i][k], zero for i < k), the permutation and the rank.
 */
export function pivotedCholesky(a: Float64Array, n: number, tol?: number): { lt: Float64Array; perm: Int32Array; rank: number } {
  if (a.length !== n * n) throw new RangeError(`a holds ${a.length} values, expected ${n * n}`);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  // diag[j]: the remaining pivot A[j][j] - Σ_{l<k} L[j][l]²
  const diag = new Float64Array(n);
  let maxDiag = 0;
  for (let i = 0; i < n; i++) {
    diag[i] = a[i * n + i];
    if (!(diag[i] >= -Infinity)) throw new RangeError('the covariance holds a value that is not a number');
    maxDiag = Math.max(maxDiag, diag[i]);
  }
  const threshold = tol ?? n * 2 ** -52 * maxDiag;
  let rank = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let j = k + 1; j < n; j++) if (diag[j] > diag[p]) p = j;
    if (!(diag[p] > threshold)) break;
    if (p !== k) {
      // symmetric swap of rows and columns k and p (rows carry L's columns 0..k-1 with them)
      for (let j = 0; j < n; j++) {
        const t = a[k * n + j];
        a[k * n + j] = a[p * n + j];
        a[p * n + j] = t;
      }
      for (let i = 0; i < n; i++) {
        const t = a[i * n + k];
        a[i * n + k] = a[i * n + p];
        a[i * n + p] = t;
      }
      const t = diag[k];
      diag[k] = diag[p];
      diag[p] = t;
      const q = perm[k];
      perm[k] = perm[p];
      perm[p] = q;
    }
    const lkk = Math.sqrt(diag[k]);
    a[k * n + k] = lkk;
    const rk = k * n;
    for (let i = k + 1; i < n; i++) {
      const ri = i * n;
      let s = a[ri + k];
      for (let l = 0; l < k; l++) s -= a[ri + l] * a[rk + l];
      const lik = s / lkk;
      a[ri + k] = lik;
      diag[i] -= lik * lik;
    }
    rank = k + 1;
  }
  const lt = new Float64Array(rank * n);
  for (let k = 0; k < rank; k++) for (let i = k; i < n; i++) lt[k * n + i] = a[i * n + k];
  return { lt, perm, rank };
}

/**
 * out[a][b] = Σ_{t = from(a, b)}^{len-1} x[a][t]·y[b][t] for a < rowsX, b < rowsY (out rowsX x
 * rowsY, row-major), where from(a, b) = max(startX[a], startY[b]) skips the leading zeros of
 * triangular operands (startX/startY: the first column that may be non-zero in each row; pass
 * undefined for 0). With `lowerOnly`, only b <= a is computed (out's upper triangle stays 0).
 */
export function rowProducts(
  x: Float64Array,
  rowsX: number,
  y: Float64Array,
  rowsY: number,
  len: number,
  opts: { startX?: (a: number) => number; startY?: (b: number) => number; lowerOnly?: boolean } = {},
): Float64Array {
  const out = new Float64Array(rowsX * rowsY);
  const sx = opts.startX ?? (() => 0);
  const sy = opts.startY ?? (() => 0);
  const TA = 32; // rows of x per tile
  const TB = 64; // rows of y per tile
  const TT = 256; // columns per tile: (TA + TB)·TT·8 bytes = 192 KiB
  for (let t0 = 0; t0 < len; t0 += TT) {
    const t1 = Math.min(len, t0 + TT);
    for (let a0 = 0; a0 < rowsX; a0 += TA) {
      const a1 = Math.min(rowsX, a0 + TA);
      for (let b0 = 0; b0 < (opts.lowerOnly ? Math.min(rowsY, a1) : rowsY); b0 += TB) {
        const b1 = Math.min(rowsY, b0 + TB);
        for (let a = a0; a < a1; a++) {
          const xa = a * len;
          const bEnd = opts.lowerOnly ? Math.min(b1, a + 1) : b1;
          const fa = sx(a);
          let b = b0;
          for (; b + 4 <= bEnd; b += 4) {
            const from = Math.max(t0, fa, Math.min(sy(b), sy(b + 1), sy(b + 2), sy(b + 3)));
            if (from >= t1) continue;
            // rows b..b+3 may start at different columns: their leading entries are zero (triangular), so summing them is harmless
            const y0 = b * len;
            const y1 = y0 + len;
            const y2 = y1 + len;
            const y3 = y2 + len;
            let c0 = 0;
            let c1 = 0;
            let c2 = 0;
            let c3 = 0;
            for (let t = from; t < t1; t++) {
              const v = x[xa + t];
              c0 += v * y[y0 + t];
              c1 += v * y[y1 + t];
              c2 += v * y[y2 + t];
              c3 += v * y[y3 + t];
            }
            const o = a * rowsY + b;
            out[o] += c0;
            out[o + 1] += c1;
            out[o + 2] += c2;
            out[o + 3] += c3;
          }
          for (; b < bEnd; b++) {
            const from = Math.max(t0, fa, sy(b));
            if (from >= t1) continue;
            const yb = b * len;
            let c = 0;
            for (let t = from; t < t1; t++) c += x[xa + t] * y[yb + t];
            out[a * rowsY + b] += c;
          }
        }
      }
    }
  }
  return out;
}
