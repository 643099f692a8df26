// The few WebAssembly JS API declarations src/node/wasmKernels.ts uses: TypeScript's own are in
// its DOM library, which this Node project does not include (and @types/node 20 has none).
declare namespace WebAssembly {
  // eslint-disable-next-line @typescript-eslint/no-extraneous-class -- an opaque handle: compiled code, no members to call
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number; shared?: boolean });
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
  }
}
