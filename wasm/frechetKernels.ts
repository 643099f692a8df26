// The Frechet distance's hot loops in WebAssembly with 128-bit SIMD (AssemblyScript; built by
// esbuild.mjs into dist/frechetKernels.wasm, loaded by src/node/wasmKernels.ts). Each is the
// JavaScript kernel of the same name (src/core/eval/linalg.ts rowProducts and choleskyColumn,
// src/core/analysis/symmetricEigenvalues.ts fusedPass) with its inner loop two lanes wide: the
// same loop bounds and elementwise arithmetic, its dot products summed as two interleaved halves
// (so the last bits differ from the JavaScript kernels'). About 3x one JavaScript thread on these
// loops (V8 has no autovectoriser; WebAssembly also drops the bounds checks). Pointers are byte
// offsets of float64 arrays in the (shared) memory the module imports.
//
// Written by hand, not taken from a library: the kernels must run over the team's shared
// buffers in place (src/core/team.ts), which no npm BLAS for WebAssembly does.

@inline function hsum(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

@inline function at(p: usize, i: i32): usize {
  return p + (<usize>i << 3);
}

@inline function ld(p: usize, i: i32): f64 {
  return load<f64>(at(p, i));
}

@inline function st(p: usize, i: i32, v: f64): void {
  store<f64>(at(p, i), v);
}

/** Σ_{t=from}^{to-1} x[t]·y[t], two lanes then the odd tail. */
@inline function dot(x: usize, y: usize, from: i32, to: i32): f64 {
  let c = f64x2.splat(0);
  let t = from;
  for (; t + 2 <= to; t += 2) c = f64x2.add(c, f64x2.mul(v128.load(at(x, t)), v128.load(at(y, t))));
  let s = hsum(c);
  for (; t < to; t++) s += ld(x, t) * ld(y, t);
  return s;
}

// startX(a) = a + sxOff when sxOff >= 0 (else 0); startY(b) = b when syOn; endY(b) = b + 1 when eyOn (else len)
@inline function sxOf(a: i32, sxOff: i32): i32 {
  return sxOff >= 0 ? a + sxOff : 0;
}

function single(x: usize, y: usize, out: usize, a: i32, b: i32, rowsY: i32, len: i32, t0: i32, t1: i32, sxOff: i32, syOn: bool, eyOn: bool): void {
  const from = max(t0, max(sxOf(a, sxOff), syOn ? b : 0));
  const to = min(t1, eyOn ? b + 1 : len);
  if (from >= to) return;
  const o = a * rowsY + b;
  st(out, o, ld(out, o) + dot(at(x, a * len), at(y, b * len), from, to));
}

/**
 * rowProducts of linalg.ts: out[a][b] += Σ_t x[a][t]·y[b][t] over t from max(startX(a), startY(b))
 * to endY(b) (out zeroed by the caller), the same tiles (32 x 64 rows by 256 columns) and the
 * 2 x 4 micro-kernel, eight two-lane accumulators.
 */
export function rowProducts(x: usize, rowsX: i32, y: usize, rowsY: i32, len: i32, out: usize, sxOff: i32, syOn: bool, eyOn: bool): void {
  const TA = 32;
  const TB = 64;
  const TT = 256;
  for (let t0 = 0; t0 < len; t0 += TT) {
    const t1 = min(len, t0 + TT);
    for (let a0 = 0; a0 < rowsX; a0 += TA) {
      const a1 = min(rowsX, a0 + TA);
      for (let b0 = 0; b0 < rowsY; b0 += TB) {
        const b1 = min(rowsY, b0 + TB);
        let a = a0;
        for (; a + 2 <= a1; a += 2) {
          const fa = min(sxOf(a, sxOff), sxOf(a + 1, sxOff));
          const x0 = at(x, a * len);
          const x1 = at(x, (a + 1) * len);
          let b = b0;
          for (; b + 4 <= b1; b += 4) {
            const from = max(t0, max(fa, syOn ? b : 0));
            const to = min(t1, eyOn ? b + 4 : len);
            if (from >= to) continue;
            const y0 = at(y, b * len);
            const y1 = at(y, (b + 1) * len);
            const y2 = at(y, (b + 2) * len);
            const y3 = at(y, (b + 3) * len);
            let c00 = f64x2.splat(0);
            let c01 = f64x2.splat(0);
            let c02 = f64x2.splat(0);
            let c03 = f64x2.splat(0);
            let c10 = f64x2.splat(0);
            let c11 = f64x2.splat(0);
            let c12 = f64x2.splat(0);
            let c13 = f64x2.splat(0);
            let t = from;
            for (; t + 2 <= to; t += 2) {
              const u = v128.load(at(x0, t));
              const v = v128.load(at(x1, t));
              const w0 = v128.load(at(y0, t));
              const w1 = v128.load(at(y1, t));
              const w2 = v128.load(at(y2, t));
              const w3 = v128.load(at(y3, t));
              c00 = f64x2.add(c00, f64x2.mul(u, w0));
              c01 = f64x2.add(c01, f64x2.mul(u, w1));
              c02 = f64x2.add(c02, f64x2.mul(u, w2));
              c03 = f64x2.add(c03, f64x2.mul(u, w3));
              c10 = f64x2.add(c10, f64x2.mul(v, w0));
              c11 = f64x2.add(c11, f64x2.mul(v, w1));
              c12 = f64x2.add(c12, f64x2.mul(v, w2));
              c13 = f64x2.add(c13, f64x2.mul(v, w3));
            }
            let s00 = hsum(c00);
            let s01 = hsum(c01);
            let s02 = hsum(c02);
            let s03 = hsum(c03);
            let s10 = hsum(c10);
            let s11 = hsum(c11);
            let s12 = hsum(c12);
            let s13 = hsum(c13);
            if (t < to) {
              const u = ld(x0, t);
              const v = ld(x1, t);
              const w0 = ld(y0, t);
              const w1 = ld(y1, t);
              const w2 = ld(y2, t);
              const w3 = ld(y3, t);
              s00 += u * w0;
              s01 += u * w1;
              s02 += u * w2;
              s03 += u * w3;
              s10 += v * w0;
              s11 += v * w1;
              s12 += v * w2;
              s13 += v * w3;
            }
            const o0 = a * rowsY + b;
            const o1 = o0 + rowsY;
            st(out, o0, ld(out, o0) + s00);
            st(out, o0 + 1, ld(out, o0 + 1) + s01);
            st(out, o0 + 2, ld(out, o0 + 2) + s02);
            st(out, o0 + 3, ld(out, o0 + 3) + s03);
            st(out, o1, ld(out, o1) + s10);
            st(out, o1 + 1, ld(out, o1 + 1) + s11);
            st(out, o1 + 2, ld(out, o1 + 2) + s12);
            st(out, o1 + 3, ld(out, o1 + 3) + s13);
          }
          for (; b < b1; b++) {
            single(x, y, out, a, b, rowsY, len, t0, t1, sxOff, syOn, eyOn);
            single(x, y, out, a + 1, b, rowsY, len, t0, t1, sxOff, syOn, eyOn);
          }
        }
        for (; a < a1; a++) for (let b = b0; b < b1; b++) single(x, y, out, a, b, rowsY, len, t0, t1, sxOff, syOn, eyOn);
      }
    }
  }
}

/** choleskyColumn of linalg.ts: rows from..to-1 (> k) of Cholesky step k, pivot p. */
export function choleskyColumn(a: usize, n: i32, k: i32, p: i32, lkk: f64, diag: usize, from: i32, to: i32): void {
  if (p !== k) {
    for (let i = from; i < to; i++) {
      const t = ld(a, i * n + k);
      st(a, i * n + k, ld(a, i * n + p));
      st(a, i * n + p, t);
    }
  }
  const rk = at(a, k * n);
  let i = from;
  for (; i + 4 <= to; i += 4) {
    const r0 = at(a, i * n);
    const r1 = at(a, (i + 1) * n);
    const r2 = at(a, (i + 2) * n);
    const r3 = at(a, (i + 3) * n);
    let c0 = f64x2.splat(0);
    let c1 = f64x2.splat(0);
    let c2 = f64x2.splat(0);
    let c3 = f64x2.splat(0);
    let l = 0;
    for (; l + 2 <= k; l += 2) {
      const lk = v128.load(at(rk, l));
      c0 = f64x2.add(c0, f64x2.mul(v128.load(at(r0, l)), lk));
      c1 = f64x2.add(c1, f64x2.mul(v128.load(at(r1, l)), lk));
      c2 = f64x2.add(c2, f64x2.mul(v128.load(at(r2, l)), lk));
      c3 = f64x2.add(c3, f64x2.mul(v128.load(at(r3, l)), lk));
    }
    let s0 = hsum(c0);
    let s1 = hsum(c1);
    let s2 = hsum(c2);
    let s3 = hsum(c3);
    if (l < k) {
      const lk = ld(rk, l);
      s0 += ld(r0, l) * lk;
      s1 += ld(r1, l) * lk;
      s2 += ld(r2, l) * lk;
      s3 += ld(r3, l) * lk;
    }
    const l0 = (ld(r0, k) - s0) / lkk;
    const l1 = (ld(r1, k) - s1) / lkk;
    const l2 = (ld(r2, k) - s2) / lkk;
    const l3 = (ld(r3, k) - s3) / lkk;
    st(r0, k, l0);
    st(r1, k, l1);
    st(r2, k, l2);
    st(r3, k, l3);
    st(diag, i, ld(diag, i) - l0 * l0);
    st(diag, i + 1, ld(diag, i + 1) - l1 * l1);
    st(diag, i + 2, ld(diag, i + 2) - l2 * l2);
    st(diag, i + 3, ld(diag, i + 3) - l3 * l3);
  }
  for (; i < to; i++) {
    const ri = at(a, i * n);
    const lik = (ld(ri, k) - dot(ri, rk, 0, k)) / lkk;
    st(ri, k, lik);
    st(diag, i, ld(diag, i) - lik * lik);
  }
}

/**
 * fusedPass of symmetricEigenvalues.ts: rows from..to-1 of the fused pass of step c - 1 (the
 * rank-2 update of those rows and their share of A22·vNext into acc, entries c+1..n-1 zeroed here).
 */
export function fusedPass(a: usize, n: i32, c: i32, from: i32, to: i32, v: usize, w: usize, vNext: usize, acc: usize): void {
  for (let j = c + 1; j < n; j++) st(acc, j, 0);
  let i = from;
  for (; i + 4 <= to; i += 4) {
    const r0 = at(a, i * n);
    const r1 = at(a, (i + 1) * n);
    const r2 = at(a, (i + 2) * n);
    const r3 = at(a, (i + 3) * n);
    const v0 = 2 * ld(v, i);
    const v1 = 2 * ld(v, i + 1);
    const v2 = 2 * ld(v, i + 2);
    const v3 = 2 * ld(v, i + 3);
    const w0 = 2 * ld(w, i);
    const w1 = 2 * ld(w, i + 1);
    const w2 = 2 * ld(w, i + 2);
    const w3 = 2 * ld(w, i + 3);
    const u0 = ld(vNext, i);
    const u1 = ld(vNext, i + 1);
    const u2 = ld(vNext, i + 2);
    const u3 = ld(vNext, i + 3);
    const V0 = f64x2.splat(v0);
    const V1 = f64x2.splat(v1);
    const V2 = f64x2.splat(v2);
    const V3 = f64x2.splat(v3);
    const W0 = f64x2.splat(w0);
    const W1 = f64x2.splat(w1);
    const W2 = f64x2.splat(w2);
    const W3 = f64x2.splat(w3);
    const U0 = f64x2.splat(u0);
    const U1 = f64x2.splat(u1);
    const U2 = f64x2.splat(u2);
    const U3 = f64x2.splat(u3);
    let c0 = f64x2.splat(0);
    let c1 = f64x2.splat(0);
    let c2 = f64x2.splat(0);
    let c3 = f64x2.splat(0);
    let j = c + 1;
    for (; j + 2 <= i; j += 2) {
      const vj = v128.load(at(v, j));
      const wj = v128.load(at(w, j));
      const uj = v128.load(at(vNext, j));
      const a0 = f64x2.sub(v128.load(at(r0, j)), f64x2.add(f64x2.mul(V0, wj), f64x2.mul(W0, vj)));
      const a1 = f64x2.sub(v128.load(at(r1, j)), f64x2.add(f64x2.mul(V1, wj), f64x2.mul(W1, vj)));
      const a2 = f64x2.sub(v128.load(at(r2, j)), f64x2.add(f64x2.mul(V2, wj), f64x2.mul(W2, vj)));
      const a3 = f64x2.sub(v128.load(at(r3, j)), f64x2.add(f64x2.mul(V3, wj), f64x2.mul(W3, vj)));
      v128.store(at(r0, j), a0);
      v128.store(at(r1, j), a1);
      v128.store(at(r2, j), a2);
      v128.store(at(r3, j), a3);
      c0 = f64x2.add(c0, f64x2.mul(a0, uj));
      c1 = f64x2.add(c1, f64x2.mul(a1, uj));
      c2 = f64x2.add(c2, f64x2.mul(a2, uj));
      c3 = f64x2.add(c3, f64x2.mul(a3, uj));
      const pj = f64x2.add(f64x2.add(f64x2.add(f64x2.mul(a0, U0), f64x2.mul(a1, U1)), f64x2.mul(a2, U2)), f64x2.mul(a3, U3));
      v128.store(at(acc, j), f64x2.add(v128.load(at(acc, j)), pj));
    }
    let s0 = hsum(c0);
    let s1 = hsum(c1);
    let s2 = hsum(c2);
    let s3 = hsum(c3);
    for (; j < i; j++) {
      const vj = ld(v, j);
      const wj = ld(w, j);
      const uj = ld(vNext, j);
      const a0 = ld(r0, j) - (v0 * wj + w0 * vj);
      const a1 = ld(r1, j) - (v1 * wj + w1 * vj);
      const a2 = ld(r2, j) - (v2 * wj + w2 * vj);
      const a3 = ld(r3, j) - (v3 * wj + w3 * vj);
      st(r0, j, a0);
      st(r1, j, a1);
      st(r2, j, a2);
      st(r3, j, a3);
      s0 += a0 * uj;
      s1 += a1 * uj;
      s2 += a2 * uj;
      s3 += a3 * uj;
      st(acc, j, ld(acc, j) + (a0 * u0 + a1 * u1 + a2 * u2 + a3 * u3));
    }
    st(acc, i, ld(acc, i) + s0);
    st(acc, i + 1, ld(acc, i + 1) + s1);
    st(acc, i + 2, ld(acc, i + 2) + s2);
    st(acc, i + 3, ld(acc, i + 3) + s3);
    for (let r = i; r < i + 4; r++) {
      const row = at(a, r * n);
      const vr2 = 2 * ld(v, r);
      const wr2 = 2 * ld(w, r);
      const ur = ld(vNext, r);
      for (let jj = i; jj < r; jj++) {
        const arj = ld(row, jj) - (vr2 * ld(w, jj) + wr2 * ld(v, jj));
        st(row, jj, arj);
        st(acc, r, ld(acc, r) + arj * ld(vNext, jj));
        st(acc, jj, ld(acc, jj) + arj * ur);
      }
      const arr = ld(row, r) - (vr2 * ld(w, r) + wr2 * ld(v, r));
      st(row, r, arr);
      st(acc, r, ld(acc, r) + arr * ur);
    }
  }
  for (; i < to; i++) {
    const row = at(a, i * n);
    const vi2 = 2 * ld(v, i);
    const wi2 = 2 * ld(w, i);
    const ui = ld(vNext, i);
    const VI = f64x2.splat(vi2);
    const WI = f64x2.splat(wi2);
    const UI = f64x2.splat(ui);
    let cs = f64x2.splat(0);
    let j = c + 1;
    for (; j + 2 <= i; j += 2) {
      const aij = f64x2.sub(v128.load(at(row, j)), f64x2.add(f64x2.mul(VI, v128.load(at(w, j))), f64x2.mul(WI, v128.load(at(v, j)))));
      v128.store(at(row, j), aij);
      cs = f64x2.add(cs, f64x2.mul(aij, v128.load(at(vNext, j))));
      v128.store(at(acc, j), f64x2.add(v128.load(at(acc, j)), f64x2.mul(aij, UI)));
    }
    let s = hsum(cs);
    for (; j < i; j++) {
      const aij = ld(row, j) - (vi2 * ld(w, j) + wi2 * ld(v, j));
      st(row, j, aij);
      s += aij * ld(vNext, j);
      st(acc, j, ld(acc, j) + aij * ui);
    }
    const aii = ld(row, i) - (vi2 * ld(w, i) + wi2 * ld(v, i));
    st(row, i, aii);
    st(acc, i, ld(acc, i) + (s + aii * ui));
  }
}
