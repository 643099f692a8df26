// pMF: Generate Samples in a real VS Code (code-server + Chromium), on the bundled model.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  // batches of 2: the gallery fills in five steps (the same pixels as one batch)
  session = await startVSCode({ extensionDir, workspace, settings: { 'pmf.executionProvider': 'cpu', 'pmf.batchSize': 2 } });
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
      await wv.locator('#timing').filter({ hasText: '10 samples in' }).waitFor({ timeout: 30_000 });
      assert.equal(await imgs.count(), 10);
      assert.equal(await wv.locator('figure.sample.pending').count(), 0);
      assert.equal(await wv.locator('#save').getAttribute('disabled'), null, 'Save All is on once the run is done');
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

/**
 * Generate Samples of 12 Fashion-MNIST samples from `seed` at 300 steps: a slow run (about 2 s per
 * batch of 2), to watch it fill. At 300 x 137 MFLOP an image, a batch of 2 is over the first
 * batch's ~1 s budget: batches 1, 2, 2, ...
 */
async function startSlowRun(s: NonNullable<typeof session>, seed: number): Promise<void> {
  await s.runCommand('pMF: Generate Samples');
  await s.pickQuickPickItem('fashion-mnist');
  await acceptQuickPick(s, 'classes');
  await s.typeInInputBox('12', { prompt: 'Number of samples' });
  await s.typeInInputBox(String(seed), { prompt: 'Seed' });
  await s.pickQuickPickItem('Custom...');
  await s.typeInInputBox('300, 1, 0, 1', { prompt: 'steps, omega' });
}

test('the gallery opens as the run starts: placeholders with class and seed fill batch by batch; cancel keeps the tiles made',
  { skip, timeout: 240_000 }, async () => {
    const s = session!;
    await s.dumpLogsOnFailure(async () => {
      await startSlowRun(s, 100);
      const t0 = Date.now();

      const wv = await s.webview('pMF: Fashion-MNIST pMF (12)', { timeoutMs: 60_000 });
      const pending = wv.locator('figure.sample.pending');
      await pending.first().waitFor({ state: 'visible', timeout: 30_000 });
      // every sample has its tile from the start, with class and seed
      assert.equal(await wv.locator('figure.sample').count(), 12);
      assert.match(await pending.last().innerText(), /Trouser[\s\S]*seed 111/);
      assert.equal(await wv.locator('#save').getAttribute('disabled'), '', 'no Save All during the run');
      assert.match(await wv.locator('#timing').innerText(), /of 12 samples/);

      // the first batch (one image) fills its tile while the rest are still placeholders
      const imgs = wv.locator('figure.sample img');
      await imgs.first().waitFor({ state: 'visible', timeout: 60_000 });
      const firstMs = Date.now() - t0;
      const stillPending = await pending.count();
      assert.ok(stillPending > 0 && stillPending <= 11, `tiles fill batch by batch (${stillPending} still to come)`);
      assert.match(await wv.locator('figure.sample').first().innerText(), /T-shirt\/top[\s\S]*seed 100/);
      assert.equal(await wv.locator('figure.sample:not(.pending) vscode-button[disabled]').count(), await imgs.count(),
        're-generate is off during the run');

      await s.screenshotAs('gallery-running.png', workspace);

      // cancel in the notification: the run stops after the batch in flight; the tiles made stay
      const toast = s.page.locator('.notification-toast').filter({ hasText: 'pMF: generating 12 samples' });
      await toast.getByRole('button', { name: 'Cancel' }).click({ timeout: 30_000 });
      await wv.locator('#timing').filter({ hasText: 'stopped after' }).waitFor({ timeout: 60_000 });
      const made = await imgs.count();
      assert.ok(made >= 1 && made < 12 && made % 2 === 1, `stopped after whole batches (1, 2, 2, ...): ${made}`);
      assert.equal(await pending.count(), 0, 'the placeholders of samples never made are gone');
      assert.equal(await wv.locator('figure.sample').count(), made);
      const captions = await wv.locator('figcaption').allInnerTexts();
      captions.forEach((c, i) => assert.match(c, new RegExp(`seed ${100 + i}`)));
      assert.equal(await wv.locator('#save').getAttribute('disabled'), null, 'Save All saves the samples made');
      assert.equal(await wv.locator('figure.sample vscode-button[disabled]').count(), 0);
      await s.page.locator('.notification-toast').filter({ hasText: `generation stopped after ${made} of 12 samples` })
        .first().waitFor({ timeout: 30_000 });
      console.log(`first tiles after ${firstMs} ms (from the settings' Enter); stopped with ${made} of 12`);
    });
  });

test('closing the gallery during the run stops it after the current batch; nothing is written', { skip, timeout: 240_000 }, async () => {
  const s = session!;
  await s.dumpLogsOnFailure(async () => {
    await startSlowRun(s, 200);
    const wv = await s.webview('pMF: Fashion-MNIST pMF (12)', { timeoutMs: 60_000 });
    await wv.locator('figure.sample img').first().waitFor({ state: 'visible', timeout: 60_000 });
    assert.ok(await wv.locator('figure.sample.pending').count() > 0);
    await s.runCommand('View: Close Editor');
    const toast = s.page.locator('.notification-toast').filter({ hasText: 'the gallery was closed; nothing was written' });
    await toast.first().waitFor({ timeout: 60_000 });
    assert.match(await toast.first().innerText(), /generation stopped after \d+ of 12 samples/);
    assert.equal(existsSync(join(workspace, 'pmf-samples')), false);
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
