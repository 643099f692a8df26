// pMF: Generate Samples on a paper-size model in a real VS Code (code-server + Chromium), CPU
// provider: how long after the model is loaded the first image is in the gallery. The model
// loads as soon as it is picked (before the class, count, seed and settings prompts), so the
// clock starts when the last prompt is answered and stops when the first tile shows its image;
// the time to the last image of the run is measured too. Run three times: the first run in a
// fresh VS Code (its engine starts and loads the model, optimised-model cache warm or cold as the
// machine has it), then twice more with the model loaded.
//
// Used by bench/paper-scale.ts for B/16; on its own:
//   node out/bench/galleryFirstImage.js MODEL.onnx [CLASS]     (CLASS default: golden retriever)
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { e2eAvailable, startVSCode } from '../test/e2e/harness';
import { REPO } from '../test/helpers/paths';

export interface GalleryFirstImage {
  /** Seconds from the last prompt to the first image, per run. */
  firstImageS: number[];
  /** Seconds from the last prompt to the run's last image, per run. */
  allImagesS: number[];
  samples: number;
}

const SAMPLES = 4;

/** Runs Generate Samples `runs` times on `model` (one class, SAMPLES samples, the model's defaults). */
export async function galleryFirstImage(model: string, className = 'golden retriever', runs = 3): Promise<GalleryFirstImage> {
  const avail = e2eAvailable();
  if (!avail.ok) throw new Error(`VS Code cannot run here: ${avail.reason}`);
  const workspace = mkdtempSync(join(tmpdir(), 'pmf-bench-gallery-'));
  const name = basename(model);
  // the workspace lists the model as its own file (a link: the weights are not copied)
  symlinkSync(resolve(model), join(workspace, name));
  try {
    cpSync(`${resolve(model)}.data`, join(workspace, `${name}.data`));
  } catch {
    /* no external data */
  }
  const session = await startVSCode({ extensionDir: REPO, workspace, settings: { 'pmf.executionProvider': 'cpu' } });
  const firstImageS: number[] = [];
  const allImagesS: number[] = [];
  try {
    await session.dumpLogsOnFailure(async () => {
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
    });
  } finally {
    await session.stop();
    rmSync(workspace, { recursive: true, force: true });
  }
  return { firstImageS, allImagesS, samples: SAMPLES };
}

if (require.main === module) {
  const [model, className] = process.argv.slice(2);
  if (!model) {
    process.stderr.write('usage: node out/bench/galleryFirstImage.js MODEL.onnx [CLASS]\n');
    process.exit(2);
  }
  galleryFirstImage(model, className).then((r) => {
    console.log(`pMF: Generate Samples, ${basename(model)}, ${r.samples} samples, CPU, in code-server: first image ` +
      `${r.firstImageS.map((s) => s.toFixed(2)).join(' / ')} s after the last prompt, all ${r.samples} ` +
      `${r.allImagesS.map((s) => s.toFixed(2)).join(' / ')} s (first run: a fresh engine)`);
  }, (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
