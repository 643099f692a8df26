// Dense kernels for the Frechet distance: pivoted Cholesky of a positive semi-definite matrix and
// products of the form C[a][b] = Σ_t X[a][t]·Y[b][t] (rows against rows: both operands are read
// contiguously), tiled so that the rows in use stay in cache. Float64Array, row-major. Each has a
// form for a team of threads (core/team.ts) whose result does not depend on the team.
import { evenRuns, forMyParts, TEAM_PARTS, SOLO, type Team } from '../team';

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
  for (let i = 0; i < n; i++) if (!(a[i * n + i] >= -Infinity)) throw new RangeError('the covariance holds a value that is not a number');
  const diag = new Float64Array(n);
  const perm = new Int32Array(n);
  const rank = pivotedCholeskyTeam(a, n, diag, perm, new Int32Array(1), SOLO, tol);
  const lt = new Float64Array(rank * n);
  transposeLower(a, n, rank, lt, SOLO);
  return { lt, perm, rank };
}

/**
 * pivotedCholesky by a team (see core/team.ts): every member calls it with the same shared `a`
 * (n x n, no NaN), `diag` (n), `perm` (n) and `pivot` (1) and gets the rank; L is left in a's
 * lower trapezoid (a[i][k] = L[i][k] for k < rank, i >= k; transposeLower copies it out). Each
 * step the leader finds the pivot (or that the rest is below tolerance: pivot -1), swaps rows and
 * the rows above the pivot's column; then each member swaps and computes its run of the rows
 * below (row i: L[i][k], k multiply-adds). Every row is computed the same way by whichever
 * member has it, so the bits do not depend on the team. `column`: the kernel of that step
 * (choleskyColumn, or node/wasmKernels.ts's WebAssembly one).
 */
export function pivotedCholeskyTeam(a: Float64Array, n: number, diag: Float64Array, perm: Int32Array, pivot: Int32Array,
  team: Team, tol?: number, column: CholeskyColumn = choleskyColumn): number {
  const lead = team.rank === 0;
  let threshold = 0;
  if (lead) {
    let maxDiag = 0;
    for (let i = 0; i < n; i++) {
      perm[i] = i;
      diag[i] = a[i * n + i]; // the remaining pivot A[j][j] - Σ_{l<k} L[j][l]²
      maxDiag = Math.max(maxDiag, diag[i]);
    }
    threshold = tol ?? n * 2 ** -52 * maxDiag;
  }
  let rank = 0;
  for (let k = 0; k < n; k++) {
    if (lead) {
      let p = k;
      for (let j = k + 1; j < n; j++) if (diag[j] > diag[p]) p = j;
      pivot[0] = diag[p] > threshold ? p : -1;
      if (pivot[0] >= 0 && p !== k) {
        // symmetric swap of rows and columns k and p (rows carry L's columns 0..k-1 with them);
        // the columns of the rows below k are swapped by the members that compute those rows
        for (let j = 0; j < n; j++) {
          const t = a[k * n + j];
          a[k * n + j] = a[p * n + j];
          a[p * n + j] = t;
        }
        for (let i = 0; i <= k; i++) {
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
    }
    team.barrier();
    const p = pivot[0];
    if (p < 0) break;
    const lkk = Math.sqrt(diag[k]);
    const runs = evenRuns(k + 1, n, TEAM_PARTS);
    forMyParts(team, TEAM_PARTS, (part) => column(a, n, k, p, lkk, diag, runs(part), runs(part + 1)));
    team.barrier();
    if (lead) a[k * n + k] = lkk;
    rank = k + 1;
  }
  team.barrier();
  return rank;
}

/**
 * Rows from..to-1 (all > k) of step k: swap their columns k and p, then column k of L:
 * (A[i][k] - Σ_{l<k} L[i][l]·L[k][l]) / L[k][k], four rows i at a time.
 */
export type CholeskyColumn = typeof choleskyColumn;

export function choleskyColumn(a: Float64Array, n: number, k: number, p: number, lkk: number, diag: Float64Array, from: number, to: number): void {
  if (p !== k) {
    for (let i = from; i < to; i++) {
      const t = a[i * n + k];
      a[i * n + k] = a[i * n + p];
      a[i * n + p] = t;
    }
  }
  const rk = k * n;
  let i = from;
  for (; i + 4 <= to; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let l = 0; l < k; l++) {
      const lk = a[rk + l];
      s0 += a[r0 + l] * lk;
      s1 += a[r1 + l] * lk;
      s2 += a[r2 + l] * lk;
      s3 += a[r3 + l] * lk;
    }
    const l0 = (a[r0 + k] - s0) / lkk;
    const l1 = (a[r1 + k] - s1) / lkk;
    const l2 = (a[r2 + k] - s2) / lkk;
    const l3 = (a[r3 + k] - s3) / lkk;
    a[r0 + k] = l0;
    a[r1 + k] = l1;
    a[r2 + k] = l2;
    a[r3 + k] = l3;
    diag[i] -= l0 * l0;
    diag[i + 1] -= l1 * l1;
    diag[i + 2] -= l2 * l2;
    diag[i + 3] -= l3 * l3;
  }
  for (; i < to; i++) {
    const ri = i * n;
    let s = 0;
    for (let l = 0; l < k; l++) s += a[ri + l] * a[rk + l];
    const lik = (a[ri + k] - s) / lkk;
    a[ri + k] = lik;
    diag[i] -= lik * lik;
  }
}

/** lt[k][i] = a[i][k] for k < rank, i >= k (zero for i < k): L's columns as rows; members take runs of k. */
export function transposeLower(a: Float64Array, n: number, rank: number, lt: Float64Array, team: Team): void {
  const runs = evenRuns(0, rank, TEAM_PARTS);
  forMyParts(team, TEAM_PARTS, (part) => {
    for (let k = runs(part); k < runs(part + 1); k++) {
      const row = k * n;
      lt.fill(0, row, row + k);
      for (let i = k; i < n; i++) lt[row + i] = a[i * n + k];
    }
  });
}

/**
 * out[a][b] = Σ_{t = from(a, b)}^{to(b)-1} x[a][t]·y[b][t] for a < rowsX, b < rowsY (out rowsX x
 * rowsY, row-major), where from(a, b) = max(startX[a], startY[b]) and to(b) = endY[b] skip the
 * zeros of triangular operands (startX/startY: the first column that may be non-zero in each
 * row, endY: one past the last; the entries outside must be stored zeros, since neighbouring rows
 * are summed together over the union of their ranges; undefined: the whole row). With `lowerOnly`, only b <= a is computed (out's
 * upper triangle stays 0). The micro-kernel takes 2 rows of x against 4 rows of y (8 sums in
 * registers, 6 loads per 8 multiply-adds); tiles of 32 x 64 rows by 256 columns stay in cache.
 * `out` (at least rowsX x rowsY, zeroed here) takes the result instead of a new array.
 */
export function rowProducts(
  x: Float64Array,
  rowsX: number,
  y: Float64Array,
  rowsY: number,
  len: number,
  opts: { startX?: (a: number) => number; startY?: (b: number) => number; endY?: (b: number) => number; lowerOnly?: boolean;
    out?: Float64Array } = {},
): Float64Array {
  const out = opts.out ?? new Float64Array(rowsX * rowsY);
  if (opts.out) out.fill(0, 0, rowsX * rowsY);
  const sx = opts.startX ?? (() => 0);
  const sy = opts.startY ?? (() => 0);
  const ey = opts.endY ?? (() => len);
  const lower = opts.lowerOnly === true;
  const TA = 32; // rows of x per tile
  const TB = 64; // rows of y per tile
  const TT = 256; // columns per tile: (TA + TB)·TT·8 bytes = 192 KiB
  const single = (a: number, b: number, t0: number, t1: number): void => {
    const from = Math.max(t0, sx(a), sy(b));
    const to = Math.min(t1, ey(b));
    if (from >= to) return;
    const xa = a * len;
    const yb = b * len;
    let c = 0;
    for (let t = from; t < to; t++) c += x[xa + t] * y[yb + t];
    out[a * rowsY + b] += c;
  };
  for (let t0 = 0; t0 < len; t0 += TT) {
    const t1 = Math.min(len, t0 + TT);
    for (let a0 = 0; a0 < rowsX; a0 += TA) {
      const a1 = Math.min(rowsX, a0 + TA);
      for (let b0 = 0; b0 < (lower ? Math.min(rowsY, a1) : rowsY); b0 += TB) {
        const b1 = Math.min(rowsY, b0 + TB);
        let a = a0;
        for (; a + 2 <= a1; a += 2) {
          // rows a and a+1 together for b < jointEnd (both rows need those b)
          const jointEnd = lower ? Math.min(b1, a + 1) : b1;
          const fa = Math.min(sx(a), sx(a + 1));
          const x0 = a * len;
          const x1 = x0 + len;
          let b = b0;
          for (; b + 4 <= jointEnd; b += 4) {
            const from = Math.max(t0, fa, Math.min(sy(b), sy(b + 1), sy(b + 2), sy(b + 3)));
            const to = Math.min(t1, Math.max(ey(b), ey(b + 1), ey(b + 2), ey(b + 3)));
            if (from >= to) continue;
            const y0 = b * len;
            const y1 = y0 + len;
            const y2 = y1 + len;
            const y3 = y2 + len;
            let c00 = 0;
            let c01 = 0;
            let c02 = 0;
            let c03 = 0;
            let c10 = 0;
            let c11 = 0;
            let c12 = 0;
            let c13 = 0;
            for (let t = from; t < to; t++) {
              const u = x[x0 + t];
              const v = x[x1 + t];
              const w0 = y[y0 + t];
              const w1 = y[y1 + t];
              const w2 = y[y2 + t];
              const w3 = y[y3 + t];
              c00 += u * w0;
              c01 += u * w1;
              c02 += u * w2;
              c03 += u * w3;
              c10 += v * w0;
              c11 += v * w1;
              c12 += v * w2;
              c13 += v * w3;
            }
            const o0 = a * rowsY + b;
            const o1 = o0 + rowsY;
            out[o0] += c00;
            out[o0 + 1] += c01;
            out[o0 + 2] += c02;
            out[o0 + 3] += c03;
            out[o1] += c10;
            out[o1 + 1] += c11;
            out[o1 + 2] += c12;
            out[o1 + 3] += c13;
          }
          for (; b < jointEnd; b++) {
            single(a, b, t0, t1);
            single(a + 1, b, t0, t1);
          }
          // lower triangle: row a+1 also needs b = a+1 (row a stops at b = a)
          if (lower) for (let b2 = Math.max(b0, jointEnd); b2 < Math.min(b1, a + 2); b2++) single(a + 1, b2, t0, t1);
        }
        for (; a < a1; a++) {
          const end = lower ? Math.min(b1, a + 1) : b1;
          for (let b = b0; b < end; b++) single(a, b, t0, t1);
        }
      }
    }
  }
  return out;
}
