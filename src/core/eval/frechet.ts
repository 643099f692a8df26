// The Frechet distance between two Gaussians N(mu1, s1), N(mu2, s2) (Dowson & Landau 1982; FID,
// Heusel et al. 2017):  d² = ||mu1 - mu2||² + tr(s1) + tr(s2) - 2·tr(sqrt(s1·s2)).
//
// How tr(sqrt(s1·s2)) is computed. pytorch-fid takes scipy.linalg.sqrtm(s1·s2): a complex Schur
// decomposition of the non-symmetric product, a square root of the triangular factor, and the real
// part of its trace (it adds eps·I, eps = 1e-6, to both covariances when that square root is not
// finite, and fails when the imaginary part is large). Here the same number comes from a symmetric
// problem instead: with the pivoted Cholesky factorization P·s1·Pᵀ = L·Lᵀ,
//     s1·s2 = Pᵀ L Lᵀ P s2  is similar to  M = Lᵀ (P s2 Pᵀ) L   (rank x rank, symmetric, PSD),
// so the eigenvalues of s1·s2 (real, non-negative for covariances) are those of M, and
//     tr(sqrt(s1·s2)) = Σ sqrt(λ_i(M)).
// M's eigenvalues come from a Householder tridiagonalization and implicit QL without
// eigenvectors (symmetricEigenvalues.ts); the whole is about 1.33·d³ multiply-adds (Cholesky
// d³/6, forming M d³/2 with the triangular zeros skipped, the reduction 2/3·d³),
// far fewer than a complex Schur decomposition, and the symmetric eigenvalue problem is perfectly
// conditioned (no imaginary parts to discard).
// Near-singular covariances (fewer samples than dimensions, dead features): the pivoted Cholesky
// stops at the numerical rank of s1 (pivots below d·2^-52·max diag, LAPACK's default), dropping
// a PSD remainder whose trace is below that bound; M's tiny negative eigenvalues (rounding) are
// clipped at 0. No eps·I is added, so a singular case needs no special path and gives what the
// exact arithmetic would, to rounding; pytorch-fid's eps·I changes the distance by about
// 2e-6·(tr terms), which is why results on singular covariances may differ from it at that level.
import {
  fusedPass,
  symmetricEigenvaluesTeam,
  type FusedPass,
  tridiagonalScratch,
  tridiagonalScratchLength,
  type TridiagonalScratch,
} from '../analysis/symmetricEigenvalues';
import { evenRuns, forMyParts, SOLO, TEAM_PARTS, type Team } from '../team';
import { choleskyColumn, pivotedCholeskyTeam, rowProducts, transposeLower, type CholeskyColumn } from './linalg';

export interface FrechetResult {
  /** The Frechet distance (squared, as FID reports it). */
  distance: number;
  /** ||mu1 - mu2||² */
  meanTerm: number;
  trace1: number;
  trace2: number;
  /** tr(sqrt(s1·s2)) */
  traceSqrtProduct: number;
  /** The numerical rank of s1 used. */
  rank: number;
}

/** The Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (sigma d x d row-major, symmetric PSD). */
export function frechetDistance(mu1: Float64Array, sigma1: Float64Array, mu2: Float64Array, sigma2: Float64Array): FrechetResult {
  const terms = frechetTerms(mu1, sigma1, mu2, sigma2);
  return frechetResult(terms, traceSqrtProduct(sigma1, sigma2, mu1.length));
}

/** The terms of the distance but tr(sqrt(s1·s2)), the arguments checked. */
export function frechetTerms(mu1: Float64Array, sigma1: Float64Array, mu2: Float64Array, sigma2: Float64Array):
  { meanTerm: number; trace1: number; trace2: number } {
  const d = mu1.length;
  if (mu2.length !== d) throw new RangeError(`the means have different dimensions (${d} and ${mu2.length})`);
  if (sigma1.length !== d * d || sigma2.length !== d * d) throw new RangeError(`the covariances must be ${d} x ${d}`);
  let meanTerm = 0;
  for (let i = 0; i < d; i++) {
    const t = mu1[i] - mu2[i];
    meanTerm += t * t;
  }
  let trace1 = 0;
  let trace2 = 0;
  for (let i = 0; i < d; i++) {
    trace1 += sigma1[i * d + i];
    trace2 += sigma2[i * d + i];
  }
  return { meanTerm, trace1, trace2 };
}

export function frechetResult(t: { meanTerm: number; trace1: number; trace2: number }, sqrt: { value: number; rank: number }): FrechetResult {
  return { distance: t.meanTerm + t.trace1 + t.trace2 - 2 * sqrt.value, ...t, traceSqrtProduct: sqrt.value, rank: sqrt.rank };
}

/** Throws when a covariance holds a value that is not finite. */
export function checkFinite(...covariances: Float64Array[]): void {
  for (const s of covariances) {
    for (let i = 0; i < s.length; i++) if (!Number.isFinite(s[i])) throw new RangeError('a covariance holds a value that is not finite');
  }
}

/** tr(sqrt(s1·s2)) for symmetric PSD s1, s2 (d x d row-major), by the symmetric route above. */
export function traceSqrtProduct(s1: Float64Array, s2: Float64Array, d: number): { value: number; rank: number } {
  checkFinite(s1, s2);
  const ws = frechetWorkspace(d);
  ws.a.set(s1);
  ws.b.set(s2);
  return traceSqrtProductTeam(ws, SOLO);
}

/**
 * The buffers of traceSqrtProductTeam: a and b (d x d; s1 and s2 go in, and they are reused for
 * each intermediate in turn), lt (Lᵀ, d x d), the pivots and the eigenvalue scratch; 3·d² + O(d)
 * float64 values in all, in one Float64Array and one Int32Array (shared memory for a team).
 */
export interface FrechetWorkspace {
  d: number;
  a: Float64Array;
  b: Float64Array;
  lt: Float64Array;
  diag: Float64Array;
  eig: Float64Array;
  off: Float64Array;
  scratch: TridiagonalScratch;
  perm: Int32Array;
  /** The Cholesky step's pivot, from the leader to the team. */
  pivot: Int32Array;
}

/** How many float64 and int32 values frechetWorkspace lays out for dimension d. */
export function frechetWorkspaceSize(d: number): { f64: number; i32: number } {
  return { f64: 3 * d * d + 3 * d + tridiagonalScratchLength(d), i32: d + 1 };
}

export function frechetWorkspace(d: number, f64?: Float64Array, i32?: Int32Array): FrechetWorkspace {
  const size = frechetWorkspaceSize(d);
  const f = f64 ?? new Float64Array(size.f64);
  const p = i32 ?? new Int32Array(size.i32);
  if (f.length < size.f64 || p.length < size.i32) throw new RangeError(`the workspace for d = ${d} needs ${size.f64} + ${size.i32} values`);
  let at = 0;
  const take = (len: number) => f.subarray(at, (at += len));
  return { d, a: take(d * d), b: take(d * d), lt: take(d * d), diag: take(d), eig: take(d), off: take(d),
    scratch: tridiagonalScratch(d, take(tridiagonalScratchLength(d))), perm: p.subarray(0, d), pivot: p.subarray(d, d + 1) };
}

/**
 * The skipped zeros of the two triangular products (see rowProducts): x's row a starts at column
 * a + sxOff; with syOn y's row b starts at b, with eyOn it ends after b.
 */
export interface ProductForm {
  sxOff: number;
  syOn: boolean;
  eyOn: boolean;
}

/** The kernels the computation's passes call: the JavaScript ones, or node/wasmKernels.ts's WebAssembly ones. */
export interface FrechetKernels {
  name: string;
  /** rowProducts into out (which it zeroes first) in the given form. */
  product(x: Float64Array, rowsX: number, y: Float64Array, rowsY: number, len: number, out: Float64Array, form: ProductForm): void;
  choleskyColumn: CholeskyColumn;
  fusedPass: FusedPass;
}

export const JS_KERNELS: FrechetKernels = {
  name: 'javascript',
  product(x, rowsX, y, rowsY, len, out, form) {
    rowProducts(x, rowsX, y, rowsY, len, { out, startX: (a) => a + form.sxOff, startY: form.syOn ? (b) => b : undefined,
      endY: form.eyOn ? (b) => b + 1 : undefined });
  },
  choleskyColumn,
  fusedPass,
};

/** Rows of x per block when a team shares a product (blocks go to parts in turn). */
const BLOCK = 32;

/**
 * traceSqrtProduct by a team (core/team.ts): every member calls it with the same workspace
 * (s1 in a, s2 in b, finite); the leader's value is the result (the others return NaN). The
 * same bits for any team (with the same kernels).
 */
export function traceSqrtProductTeam(ws: FrechetWorkspace, team: Team, kernels: FrechetKernels = JS_KERNELS): { value: number; rank: number } {
  const { d, a, b, lt, perm } = ws;
  const rank = pivotedCholeskyTeam(a, d, ws.diag, perm, ws.pivot, team, undefined, kernels.choleskyColumn);
  if (rank === 0) return { value: 0, rank };
  transposeLower(a, d, rank, lt, team);
  team.barrier();
  // s2p = P s2 Pᵀ into a (L is in lt now). M = Lᵀ s2p L with s2p = H + Hᵀ, H its lower triangle
  // with half the diagonal: M = Z + Zᵀ, Z = Lᵀ (H L), and H L is lower triangular (d³/6 + d³/3
  // multiply-adds, where Lᵀ·(s2p·L) directly would take d³/2 + d³/6).
  const rowRuns = evenRuns(0, d, TEAM_PARTS);
  forMyParts(team, TEAM_PARTS, (part) => {
    for (let i = rowRuns(part); i < rowRuns(part + 1); i++) {
      const src = perm[i] * d;
      const row = i * d;
      for (let j = 0; j < i; j++) a[row + j] = b[src + perm[j]];
      a[row + i] = 0.5 * b[src + perm[i]];
      a.fill(0, row + i + 1, row + d);
    }
  });
  team.barrier();
  // yt[l][i] = Σ_{j=l..i} L[j][l]·H[i][j] = (H·L)[i][l] into b (rank x d)
  sharedProduct(team, rank, (r0, r1) => kernels.product(lt.subarray(r0 * d, r1 * d), r1 - r0, a, d, d, b.subarray(r0 * d, r1 * d),
    { sxOff: r0, syOn: false, eyOn: true }));
  team.barrier();
  // z[k][l] = Σ_i L[i][k]·yt[l][i] into a (rank x rank)
  sharedProduct(team, rank, (r0, r1) => kernels.product(lt.subarray(r0 * d, r1 * d), r1 - r0, b, rank, d, a.subarray(r0 * rank, r1 * rank),
    { sxOff: r0, syOn: true, eyOn: false }));
  team.barrier();
  // M's lower triangle, in place: m[k][l] = z[k][l] + z[l][k] (the upper triangle is only read)
  const mRuns = evenRuns(0, rank, TEAM_PARTS);
  forMyParts(team, TEAM_PARTS, (part) => {
    for (let k = mRuns(part); k < mRuns(part + 1); k++) for (let l = 0; l <= k; l++) a[k * rank + l] += a[l * rank + k];
  });
  team.barrier();
  symmetricEigenvaluesTeam(a, rank, ws.eig, ws.off, ws.scratch, team, kernels.fusedPass);
  if (team.rank !== 0) return { value: NaN, rank };
  let value = 0;
  for (let i = 0; i < rank; i++) if (ws.eig[i] > 0) value += Math.sqrt(ws.eig[i]);
  return { value, rank };
}

/** Runs fn over the row blocks [r0, r1) of 0..rows-1 that this member's parts have (block q: part q mod TEAM_PARTS). */
function sharedProduct(team: Team, rows: number, fn: (r0: number, r1: number) => void): void {
  forMyParts(team, TEAM_PARTS, (part) => {
    for (let r0 = part * BLOCK; r0 < rows; r0 += TEAM_PARTS * BLOCK) fn(r0, Math.min(rows, r0 + BLOCK));
  });
}
