// Bundles the extension host, the engine process and its measurement worker, the inspector's worker thread, the CLI and the webviews,
// and builds the Frechet distance's WebAssembly kernels.
// onnxruntime-node and sharp load native .node files: they stay external and ship in node_modules.
import * as esbuild from 'esbuild';
import asc from 'assemblyscript/asc';
import { cpSync, mkdirSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'info' };
const nodeCommon = { ...common, platform: 'node', target: 'node20', format: 'cjs',
  external: ['vscode', 'onnxruntime-node', 'sharp'] };

const builds = [
  // The banner stamps the start of bundle evaluation, for the activation time the extension logs.
  { ...nodeCommon, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist',
    banner: { js: 'var __pmfBundleStart = performance.now();' } },
  { ...nodeCommon, entryPoints: { engine: 'src/engine/main.ts' }, outdir: 'dist' },
  { ...nodeCommon, entryPoints: { inspectWorker: 'src/node/inspectWorker.ts', measureWorker: 'src/engine/measureWorker.ts', frechetWorker: 'src/node/frechetWorker.ts',
    tokenDimensionsWorker: 'src/node/tokenDimensionsWorker.ts' }, outdir: 'dist' },
  { ...nodeCommon, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist',
    banner: { js: '#!/usr/bin/env node' } },
  { ...common, platform: 'browser', target: 'es2022', format: 'iife',
    entryPoints: { gallery: 'webview/gallery/main.ts', visualizer: 'webview/visualizer/main.ts',
      toyCompare: 'webview/toyCompare/main.ts', inspector: 'webview/inspector/main.ts',
      guidance: 'webview/guidance/main.ts', compareModels: 'webview/compareModels/main.ts' },
    outdir: 'dist/webview' },
];

mkdirSync('dist/webview', { recursive: true });
for (const f of ['codicon.css', 'codicon.ttf']) {
  cpSync(`node_modules/@vscode/codicons/dist/${f}`, `dist/webview/${f}`);
}
cpSync('media/base.css', 'dist/webview/base.css');
cpSync('webview/gallery/gallery.css', 'dist/webview/gallery.css');
cpSync('webview/visualizer/visualizer.css', 'dist/webview/visualizer.css');
cpSync('webview/toyCompare/toyCompare.css', 'dist/webview/toyCompare.css');
cpSync('webview/inspector/inspector.css', 'dist/webview/inspector.css');
cpSync('webview/guidance/guidance.css', 'dist/webview/guidance.css');
cpSync('webview/compareModels/compareModels.css', 'dist/webview/compareModels.css');
cpSync('node_modules/uplot/dist/uPlot.min.css', 'dist/webview/uPlot.min.css');
// The Frechet distance's SIMD kernels (wasm/frechetKernels.ts, AssemblyScript): an imported shared
// memory, so a team of worker threads runs them over one workspace (src/node/wasmKernels.ts).
{
  const { error, stderr } = await asc.main(['wasm/frechetKernels.ts', '--outFile', 'dist/frechetKernels.wasm', '-O3',
    '--enable', 'simd', '--enable', 'threads', '--runtime', 'stub', '--importMemory', '--sharedMemory',
    '--initialMemory', '1', '--maximumMemory', '65536', '--noAssert']);
  if (error) {
    console.error(stderr.toString());
    throw error;
  }
}
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
