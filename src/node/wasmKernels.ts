// The WebAssembly SIMD kernels of the Frechet distance (wasm/frechetKernels.ts, built into
// dist/frechetKernels.wasm) as FrechetKernels (core/eval/frechet.ts) over a workspace that lives
// in the module's (shared) memory: a view's byteOffset is the kernel's pointer. V8 first runs a
// function in its baseline tier (Liftoff, about 6x slower on these loops) and optimises it after
// a few calls; the kernels are called per row block or step (thousands of calls at d = 2048), so
// they run optimised almost at once (2.5 s at d = 2048 as with Liftoff off) and no process-wide
// V8 flag is set (the metric sweep scores in the extension host, which other extensions share).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { frechetWorkspace, frechetWorkspaceSize, type FrechetKernels, type FrechetWorkspace } from '../core/eval/frechet';

/** dist/frechetKernels.wasm: beside the bundle (dist/cli.js, dist/frechetWorker.js) or, for the compiled tests (out/src/node), in dist/. */
const WASM_CANDIDATES = [join(__dirname, 'frechetKernels.wasm'), join(__dirname, '..', '..', '..', 'dist', 'frechetKernels.wasm')];
/** The workspace starts here (the module's own static data lies below). */
const BASE = 65536;
const PAGE = 65536;

interface Exports {
  rowProducts(x: number, rowsX: number, y: number, rowsY: number, len: number, out: number, sxOff: number, syOn: number, eyOn: number): void;
  choleskyColumn(a: number, n: number, k: number, p: number, lkk: number, diag: number, from: number, to: number): void;
  fusedPass(a: number, n: number, c: number, from: number, to: number, v: number, w: number, vNext: number, acc: number): void;
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null when dist/frechetKernels.wasm is not there (the JavaScript kernels run instead). */
export function frechetKernelsModule(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  const path = WASM_CANDIDATES.find((p) => existsSync(p));
  if (!path) return (compiled = null);
  compiled = new WebAssembly.Module(readFileSync(path));
  return compiled;
}

/** A shared memory (the module imports one, so a team of threads can share it) that holds a workspace of dimension d. */
export function workspaceMemory(d: number): WebAssembly.Memory {
  const size = frechetWorkspaceSize(d);
  const pages = Math.ceil((BASE + size.f64 * 8 + size.i32 * 4) / PAGE);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** The workspace laid out in `memory` (every member of a team lays it out the same way). */
export function memoryWorkspace(d: number, memory: WebAssembly.Memory): FrechetWorkspace {
  const size = frechetWorkspaceSize(d);
  return frechetWorkspace(d, new Float64Array(memory.buffer, BASE, size.f64), new Int32Array(memory.buffer, BASE + size.f64 * 8, size.i32));
}

/** The kernels of an instance of the module on `memory`; every array they get must be a view of that memory. */
export function wasmKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): FrechetKernels {
  const x = new WebAssembly.Instance(module, { env: { memory, abort: () => { throw new Error('frechetKernels.wasm aborted'); } } })
    .exports as unknown as Exports;
  const buffer = memory.buffer;
  const ptr = (v: Float64Array): number => {
    if (v.buffer !== buffer) {
      throw new Error('a WebAssembly kernel got an array outside its memory');
    }
    return v.byteOffset;
  };
  return {
    name: 'webassembly-simd',
    product(xs, rowsX, y, rowsY, len, out, form) {
      out.fill(0, 0, rowsX * rowsY);
      x.rowProducts(ptr(xs), rowsX, ptr(y), rowsY, len, ptr(out), form.sxOff, form.syOn ? 1 : 0, form.eyOn ? 1 : 0);
    },
    choleskyColumn(a, n, k, p, lkk, diag, from, to) {
      x.choleskyColumn(ptr(a), n, k, p, lkk, ptr(diag), from, to);
    },
    fusedPass(a, n, c, from, to, v, w, vNext, acc) {
      x.fusedPass(ptr(a), n, c, from, to, ptr(v), ptr(w), ptr(vNext), ptr(acc));
    },
  };
}
