// pMF: Generate Samples in a real VS Code (code-server + Chromium), on the bundled model.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { REPO, requireBuilt } from '../helpers/paths';
import { acceptQuickPick, e2eAvailable, startVSCode, type VSCodeSession } from './harness';

const avail = e2eAvailable();
const skip = avail.ok ? false : avail.reason;
let session: VSCodeSession | undefined;
let workspace = '';


before(async () => {
  if (skip) return;
  requireBuilt();
  workspace = mkdtempSync(join(tmpdir(), 'pmf-e2e-ws-'));
  writeFileSync(join(workspace, 'broken.onnx'), 'this is not a model');
  // PMF_E2E_EXTENSION_DIR runs the test against another copy, e.g. an unpacked VSIX.
  const extensionDir = process.env.PMF_E2E_EXTENSION_DIR ?? REPO;
  session = await startVSCode({ extensionDir, workspace, settings: { 'pmf.executionProvider': 'cpu' } });
});

after(async () => {
  await session?.stop();
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});

test('Generate Samples from the command palette fills the gallery with non-blank images', { skip, timeout: 240_000 },
  async () => {
    const s = session!;
    await s.dumpLogsOnFailure(async () => {
      await s.runCommand('pMF: Generate Samples');
      await s.pickQuickPickItem('fashion-mnist');
      await acceptQuickPick(s, 'classes'); // all ten classes are pre-selected
      await s.typeInInputBox('10', { prompt: 'Number of samples' });
      await s.typeInInputBox('5', { prompt: 'Seed' });
      await acceptQuickPick(s, 'sampling'); // the model's default settings

      const wv = await s.webview(undefined, { timeoutMs: 60_000 });
      const imgs = wv.locator('figure.sample img');
      await imgs.nth(9).waitFor({ state: 'visible', timeout: 60_000 });
      assert.equal(await imgs.count(), 10);
      // Decode every image in the webview and measure it: 28x28 and not a single colour.
      // (The page has the DOM; this tsconfig does not, hence the `any`.)
      const measured = await imgs.evaluateAll((els: any[]) => els.map((img) => {
        const c = (globalThis as any).document.createElement('canvas');
        c.width = img.naturalWidth;
        c.height = img.naturalHeight;
        const g = c.getContext('2d');
        g.drawImage(img, 0, 0);
        const d: Uint8ClampedArray = g.getImageData(0, 0, c.width, c.height).data;
        let lo = 255;
        let hi = 0;
        for (let i = 0; i < d.length; i += 4) {
          lo = Math.min(lo, d[i]);
          hi = Math.max(hi, d[i]);
        }
        return { w: img.naturalWidth as number, h: img.naturalHeight as number, range: hi - lo };
      }));
      assert.equal(measured.length, 10);
      for (const m of measured) {
        assert.deepEqual([m.w, m.h], [28, 28]);
        assert.ok(m.range > 50, `a blank or flat image: range ${m.range}`);
      }
      const captions = await wv.locator('figcaption').allInnerTexts();
      assert.match(captions[0], /T-shirt\/top[\s\S]*seed 5/);
      assert.match(captions[9], /Ankle boot[\s\S]*seed 14/);
      assert.equal((await wv.locator('#provider').innerText()).trim(), 'cpu');
      assert.equal(await wv.locator('figure.sample.blank').count(), 0);
      await s.screenshotAs('gallery.png', workspace);

      // Re-generate one sample: same class, the next unused seed (5 + 10).
      const before = await imgs.first().getAttribute('src');
      await wv.locator('figure.sample vscode-button').first().click();
      await wv.locator('figure.sample figcaption').first().filter({ hasText: 'seed 15' }).waitFor({ timeout: 30_000 });
      assert.notEqual(await imgs.first().getAttribute('src'), before);
      assert.match((await wv.locator('figcaption').first().innerText()), /T-shirt\/top/);
    });
  });

test('a file that is not a pMF checkpoint gets an actionable error in VS Code', { skip, timeout: 120_000 }, async () => {
  const s = session!;
  await s.dumpLogsOnFailure(async () => {
    await s.runCommand('pMF: Generate Samples');
    await s.pickQuickPickItem('broken.onnx');
    const toast = s.page.locator('.notification-toast').filter({ hasText: 'is not an ONNX model' });
    await toast.first().waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await toast.first().innerText(), /broken\.onnx is not an ONNX model/);
  });
});
