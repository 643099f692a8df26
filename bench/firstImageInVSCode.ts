// The first image of a paper-size model in a real VS Code (code-server + Chromium), CPU provider.
// Generate Samples: how long after the model is loaded the first image is in the gallery. The model
// loads as soon as it is picked (before the class, count, seed and settings prompts), so the
// clock starts when the last prompt is answered and stops when the first tile shows its image;
// the time to the last image of the run is measured too. Run three times: the first run in a
// fresh VS Code (its engine starts and loads the model, optimised-model cache warm or cold as the
// machine has it), then twice more with the model loaded.
//
// pMF: Open Field Visualizer: from the model's init reaching the panel (the host posts it once the
// model is loaded) to its first panels drawn, as the webview records it (body[data-first-image-ms]),
// and from picking the model to that draw; three openings, the first in a fresh engine.
//
// Used by bench/paper-scale.ts for B/16; on its own:
//   node out/bench/firstImageInVSCode.js MODEL.onnx [CLASS]     (CLASS default: golden retriever)
import { existsSync, linkSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { e2eAvailable, startVSCode, type VSCodeSession } from '../test/e2e/harness';
import { REPO } from '../test/helpers/paths';

export interface GalleryFirstImage {
  /** Seconds from the last prompt to the first image, per run. */
  firstImageS: number[];
  /** Seconds from the last prompt to the run's last image, per run. */
  allImagesS: number[];
  samples: number;
}

const SAMPLES = 4;

export interface VisualizerFirstPanel {
  /** Milliseconds from the model's init in the panel to its first panels drawn, per opening. */
  afterLoadMs: number[];
  /** Seconds from picking the model (its load included) to the first panels drawn, per opening. */
  afterPickS: number[];
}

/** A fresh VS Code on a workspace holding `model` (linked, not copied); `body` runs in it. */
async function inVSCode<T>(model: string, body: (session: VSCodeSession, name: string) => Promise<T>): Promise<T> {
  const avail = e2eAvailable();
  if (!avail.ok) throw new Error(`VS Code cannot run here: ${avail.reason}`);
  const workspace = mkdtempSync(join(tmpdir(), 'pmf-bench-vscode-'));
  const name = basename(model);
  symlinkSync(resolve(model), join(workspace, name));
  // a weights file beside it: a hard link (onnxruntime refuses external data that a symbolic link
  // takes out of the model's folder), a symbolic link on another file system
  const data = `${resolve(model)}.data`;
  if (existsSync(data)) {
    try {
      linkSync(data, join(workspace, `${name}.data`));
    } catch {
      symlinkSync(data, join(workspace, `${name}.data`));
    }
  }
  const session = await startVSCode({ extensionDir: REPO, workspace, settings: { 'pmf.executionProvider': 'cpu' } });
  try {
    return await session.dumpLogsOnFailure(() => body(session, name));
  } finally {
    await session.stop();
    rmSync(workspace, { recursive: true, force: true });
  }
}

/** Opens the Field Visualizer on `model` `runs` times (its cost-fitted defaults). */
export async function visualizerFirstPanel(model: string, runs = 3): Promise<VisualizerFirstPanel> {
  return inVSCode(model, async (session, name) => {
    const afterLoadMs: number[] = [];
    const afterPickS: number[] = [];
    for (let run = 0; run < runs; run++) {
      await session.runCommand('pMF: Open Field Visualizer');
      const input = session.quickInputBox();
      await input.waitFor({ state: 'visible', timeout: 30_000 });
      await session.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').first().waitFor({ state: 'visible', timeout: 30_000 });
      await input.fill(name);
      const row = session.quickInputWidget().locator('.quick-input-list .monaco-list-row').filter({ hasText: name }).first();
      await row.waitFor({ state: 'visible', timeout: 30_000 });
      const t0 = performance.now();
      await row.click();
      const wv = await session.webview(undefined, { timeoutMs: 120_000 });
      const first = wv.locator('body[data-first-image-ms]');
      await first.waitFor({ state: 'attached', timeout: 240_000 });
      afterPickS.push((performance.now() - t0) / 1000);
      afterLoadMs.push(Number(await first.getAttribute('data-first-image-ms')));
      await session.runCommand('View: Close All Editors');
    }
    return { afterLoadMs, afterPickS };
  });
}

/** Runs Generate Samples `runs` times on `model` (one class, SAMPLES samples, the model's defaults). */
export async function galleryFirstImage(model: string, className = 'golden retriever', runs = 3): Promise<GalleryFirstImage> {
  return inVSCode(model, async (session, name) => {
    const firstImageS: number[] = [];
    const allImagesS: number[] = [];
    for (let run = 0; run < runs; run++) {
      await session.runCommand('pMF: Generate Samples');
      await session.pickQuickPickItem(name, { timeoutMs: 60_000 });
      // the classes: type to find one, tick it, accept
      const input = session.quickInputBox();
      const widget = session.quickInputWidget();
      await widget.getByText('classes', { exact: false }).first().waitFor({ state: 'visible', timeout: 120_000 });
      await input.fill(className);
      await widget.locator('.quick-input-list .monaco-list-row').filter({ hasText: className }).first().click();
      await input.press('Enter');
      await session.typeInInputBox(String(SAMPLES), { prompt: 'Suggested' });
      await session.typeInInputBox(String(run * SAMPLES)); // the seed
      await widget.getByText('sampling', { exact: false }).first().waitFor({ state: 'visible', timeout: 30_000 });
      await widget.locator('.quick-input-list .monaco-list-row').first().waitFor({ state: 'visible', timeout: 30_000 });
      const t0 = performance.now();
      await session.page.keyboard.press('Enter'); // the model's default settings
      const wv = await session.webview(undefined, { timeoutMs: 60_000 });
      const imgs = wv.locator('figure.sample img');
      await imgs.first().waitFor({ state: 'visible', timeout: 120_000 });
      firstImageS.push((performance.now() - t0) / 1000);
      await imgs.nth(SAMPLES - 1).waitFor({ state: 'visible', timeout: 240_000 });
      allImagesS.push((performance.now() - t0) / 1000);
      await session.runCommand('View: Close All Editors');
    }
    return { firstImageS, allImagesS, samples: SAMPLES };
  });
}

if (require.main === module) {
  const [model, className] = process.argv.slice(2);
  if (!model) {
    process.stderr.write('usage: node out/bench/firstImageInVSCode.js MODEL.onnx [CLASS]\n');
    process.exit(2);
  }
  (async () => {
    const r = await galleryFirstImage(model, className);
    console.log(`pMF: Generate Samples, ${basename(model)}, ${r.samples} samples, CPU, in code-server: first image ` +
      `${r.firstImageS.map((s) => s.toFixed(2)).join(' / ')} s after the last prompt, all ${r.samples} ` +
      `${r.allImagesS.map((s) => s.toFixed(2)).join(' / ')} s (first run: a fresh engine)`);
    const v = await visualizerFirstPanel(model);
    console.log(`pMF: Open Field Visualizer, ${basename(model)}, CPU, in code-server: first panels ` +
      `${v.afterLoadMs.map((x) => (x / 1000).toFixed(2)).join(' / ')} s after the model was loaded, ` +
      `${v.afterPickS.map((x) => x.toFixed(2)).join(' / ')} s after it was picked (first opening: a fresh engine)`);
  })().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
