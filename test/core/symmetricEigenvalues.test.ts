// The eigenvalue-only symmetric solver behind the effective-dimension measurements, checked
// against closed forms and against ml-matrix's full EigenvalueDecomposition (the library it
// replaces on that path, kept here as the reference).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { symmetricEigenvalues } from '../../src/core/analysis/symmetricEigenvalues';
import { gaussian } from '../../src/core/noise';

const sorted = (a: ArrayLike<number>): number[] => Array.from(a).sort((x, y) => x - y);

/** A random symmetric n x n matrix (row-major, both triangles filled). */
function randomSymmetric(n: number, seed: number): Float64Array {
  const g = gaussian(seed, n * n);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = g[i * n + j];
  return a;
}

/** X^T X / m for m random vectors of dimension d, some of them repeated: a covariance-like PSD matrix of rank <= rank. */
function gramLike(d: number, rank: number, seed: number): Float64Array {
  const x = gaussian(seed, rank * d);
  const a = new Float64Array(d * d);
  for (let r = 0; r < rank; r++) {
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) a[i * d + j] += (x[r * d + i] * x[r * d + j]) / rank;
  }
  return a;
}

function reference(a: Float64Array, n: number): number[] {
  const m = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m.set(i, j, a[i * n + j]);
  return sorted(new EigenvalueDecomposition(m, { assumeSymmetric: true }).realEigenvalues);
}

function assertClose(got: number[], want: number[], scale: number, what: string): void {
  assert.equal(got.length, want.length, what);
  const worst = Math.max(0, ...got.map((g, i) => Math.abs(g - want[i])));
  assert.ok(worst <= 1e-10 * Math.max(scale, 1), `${what}: largest difference ${worst} (scale ${scale})`);
}

describe('symmetricEigenvalues', () => {
  for (const n of [1, 2, 3, 7, 32, 129]) {
    test(`random symmetric ${n} x ${n}: same spectrum as ml-matrix`, () => {
      const a = randomSymmetric(n, 100 + n);
      const want = reference(a, n);
      assertClose(sorted(symmetricEigenvalues(a.slice(), n)), want, Math.max(...want.map(Math.abs)), `n = ${n}`);
    });
  }

  test('covariance-like matrices of low rank (d = 96, rank 5): 91 zeros, the rest as ml-matrix', () => {
    const a = gramLike(96, 5, 3);
    const want = reference(a, 96);
    const got = sorted(symmetricEigenvalues(a.slice(), 96));
    assertClose(got, want, want[95], 'rank 5');
    assert.equal(got.filter((l) => Math.abs(l) > 1e-9 * want[95]).length, 5);
  });

  test('reads only the lower triangle', () => {
    const n = 20;
    const a = randomSymmetric(n, 9);
    const want = reference(a, n);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) a[i * n + j] = 1e6; // garbage above the diagonal
    assertClose(sorted(symmetricEigenvalues(a, n)), want, Math.max(...want.map(Math.abs)), 'lower triangle');
  });

  test('closed forms: tridiagonal [-1, 2, -1] of size 50, the identity, zero, a diagonal with a 1e12 range', () => {
    const n = 50;
    const t = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      t[i * n + i] = 2;
      if (i > 0) t[i * n + i - 1] = t[(i - 1) * n + i] = -1;
    }
    const want = sorted(Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1))));
    assertClose(sorted(symmetricEigenvalues(t, n)), want, 4, 'Toeplitz');

    const eye = new Float64Array(n * n);
    for (let i = 0; i < n; i++) eye[i * n + i] = 1;
    assertClose(sorted(symmetricEigenvalues(eye, n)), new Array<number>(n).fill(1), 1, 'identity');
    assertClose(sorted(symmetricEigenvalues(new Float64Array(n * n), n)), new Array<number>(n).fill(0), 1, 'zero');

    const diag = [1e6, 3, 1e-6, -2, 0.5];
    const dm = new Float64Array(25);
    diag.forEach((v, i) => (dm[i * 5 + i] = v));
    assertClose(sorted(symmetricEigenvalues(dm, 5)), sorted(diag), 1, 'diagonal');
  });

  test('an empty matrix has no eigenvalues; a wrong length is refused', () => {
    assert.equal(symmetricEigenvalues(new Float64Array(0), 0).length, 0);
    assert.throws(() => symmetricEigenvalues(new Float64Array(5), 2), /expected n \* n = 4/);
  });
});
