// Eigenvalues (only) of a real symmetric matrix: Householder reduction to tridiagonal form,
// then the implicit QL iteration with Wilkinson-type shifts (the eigenvalue half of EISPACK's
// tred2/tql2, as in JAMA). The effective-dimension measurements need the spectrum, never the
// eigenvectors; ml-matrix's EigenvalueDecomposition always accumulates them, which costs about
// five times as much (at d = 768, the 16 x 16 x 3 patches of a 256 x 256 model: seconds per
// field). ml-matrix stays the reference the tests check this against.

/**
 * The n eigenvalues of the symmetric n x n matrix `a` (row-major; only the lower triangle is
 * read), in no particular order. `a` is overwritten.
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (a.length !== n * n) throw new RangeError(`a holds ${a.length} values, expected n * n = ${n * n}`);
  const d = new Float64Array(n);
  const e = new Float64Array(n); // e[i]: the sub-diagonal element between rows i - 1 and i (e[0] = 0)
  tridiagonalize(a, n, d, e);
  tridiagonalEigenvalues(d, e);
  return d;
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
 * two-pass version.
 */
function tridiagonalize(a: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  let v = new Float64Array(n);
  let w = new Float64Array(n); // p = A22 v, then w = p - K v
  let vNext = new Float64Array(n);
  let pNext = new Float64Array(n);
  if (n >= 3) {
    d[0] = a[0];
    reflector(a, n, 0, v, e);
    // p for step 0: a plain pass over rows/columns 1..n-1
    for (let i = 1; i < n; i++) {
      const row = i * n;
      const vi = v[i];
      let s = 0;
      for (let j = 1; j < i; j++) {
        const aij = a[row + j];
        s += aij * v[j];
        w[j] += aij * vi;
      }
      w[i] += s + a[row + i] * vi;
    }
  }
  for (let k = 0; k < n - 2; k++) {
    // here v holds step k's reflector and w = A22 v (indices k+1..n-1)
    let K = 0;
    for (let i = k + 1; i < n; i++) K += v[i] * w[i];
    for (let i = k + 1; i < n; i++) w[i] -= K * v[i];
    const c = k + 1;
    if (c < n - 2) {
      // column c first: it defines the next reflector
      const vc2 = 2 * v[c];
      const wc2 = 2 * w[c];
      for (let i = c; i < n; i++) a[i * n + c] -= v[i] * wc2 + w[i] * vc2;
      d[c] = a[c * n + c];
      reflector(a, n, c, vNext, e);
      for (let i = c + 1; i < n; i++) pNext[i] = 0;
      // rows/columns c+1..n-1: the update of step k and the product for step c in one pass
      // four rows at a time (they share the loads of v, w, vNext and pNext), then the 4 x 4
      // corner on the diagonal
      let i = c + 1;
      for (; i + 4 <= n; i += 4) {
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
          pNext[j] += a0 * u0 + a1 * u1 + a2 * u2 + a3 * u3;
        }
        pNext[i] += s0;
        pNext[i + 1] += s1;
        pNext[i + 2] += s2;
        pNext[i + 3] += s3;
        for (let r = i; r < i + 4; r++) {
          const row = r * n;
          const vr2 = 2 * v[r];
          const wr2 = 2 * w[r];
          const ur = vNext[r];
          for (let j = i; j < r; j++) {
            const arj = a[row + j] - (vr2 * w[j] + wr2 * v[j]);
            a[row + j] = arj;
            pNext[r] += arj * vNext[j];
            pNext[j] += arj * ur;
          }
          const arr = a[row + r] - (vr2 * w[r] + wr2 * v[r]);
          a[row + r] = arr;
          pNext[r] += arr * ur;
        }
      }
      for (; i < n; i++) {
        const row = i * n;
        const vi2 = 2 * v[i];
        const wi2 = 2 * w[i];
        const ui = vNext[i];
        let s = 0;
        for (let j = c + 1; j < i; j++) {
          const aij = a[row + j] - (vi2 * w[j] + wi2 * v[j]);
          a[row + j] = aij;
          s += aij * vNext[j];
          pNext[j] += aij * ui;
        }
        const aii = a[row + i] - (vi2 * w[i] + wi2 * v[i]);
        a[row + i] = aii;
        pNext[i] += s + aii * ui;
      }
      [v, vNext] = [vNext, v];
      [w, pNext] = [pNext, w];
    } else {
      for (let i = k + 1; i < n; i++) {
        const row = i * n;
        const vi2 = 2 * v[i];
        const wi2 = 2 * w[i];
        for (let j = k + 1; j <= i; j++) a[row + j] -= vi2 * w[j] + wi2 * v[j];
      }
    }
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * n + n - 2];
    e[n - 1] = a[(n - 1) * n + n - 2];
  }
  if (n >= 1) d[n - 1] = a[n * n - 1];
  e[0] = 0;
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
