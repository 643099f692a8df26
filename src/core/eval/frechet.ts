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
import { symmetricEigenvalues } from '../analysis/symmetricEigenvalues';
import { pivotedCholesky, rowProducts } from './linalg';

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
  const { value, rank } = traceSqrtProduct(sigma1, sigma2, d);
  return { distance: meanTerm + trace1 + trace2 - 2 * value, meanTerm, trace1, trace2, traceSqrtProduct: value, rank };
}

/** tr(sqrt(s1·s2)) for symmetric PSD s1, s2 (d x d row-major), by the symmetric route above. */
export function traceSqrtProduct(s1: Float64Array, s2: Float64Array, d: number): { value: number; rank: number } {
  for (const s of [s1, s2]) {
    for (let i = 0; i < s.length; i++) if (!Number.isFinite(s[i])) throw new RangeError('a covariance holds a value that is not finite');
  }
  const { lt, perm, rank } = pivotedCholesky(Float64Array.from(s1), d);
  if (rank === 0) return { value: 0, rank };
  const s2p = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const src = perm[i] * d;
    for (let j = 0; j < d; j++) s2p[i * d + j] = s2[src + perm[j]];
  }
  // M = Lᵀ s2p L with s2p = H + Hᵀ, H its lower triangle with half the diagonal:
  // M = Z + Zᵀ, Z = Lᵀ (H L), and H L is lower triangular (d³/6 + d³/3 multiply-adds, where
  // Lᵀ·(s2p·L) directly would take d³/2 + d³/6).
  for (let i = 0; i < d; i++) {
    s2p[i * d + i] *= 0.5;
    for (let j = i + 1; j < d; j++) s2p[i * d + j] = 0;
  }
  // yt[l][i] = Σ_{j=l..i} L[j][l]·H[i][j] = (H·L)[i][l]; z[k][l] = Σ_i L[i][k]·yt[l][i]
  const yt = rowProducts(lt, rank, s2p, d, d, { startX: (l) => l, endY: (i) => i + 1 });
  const z = rowProducts(lt, rank, yt, rank, d, { startX: (k) => k, startY: (l) => l });
  const m = new Float64Array(rank * rank);
  for (let k = 0; k < rank; k++) for (let l = 0; l <= k; l++) m[k * rank + l] = z[k * rank + l] + z[l * rank + k];
  const eig = symmetricEigenvalues(m, rank);
  let value = 0;
  for (const l of eig) if (l > 0) value += Math.sqrt(l);
  return { value, rank };
}
