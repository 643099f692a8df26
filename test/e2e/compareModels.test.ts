// pMF: Compare Models in a real VS Code (code-server + Chromium): it opens on the bundled Table 2
// set (x- and u-prediction at 4 x 4 and 16 x 16 patches) with every model's one-step samples
// drawn (not blank, different across models, 28 x 28 and 112 x 112 at one display size) and the
// effective dimension of x's and u's patches shown as numbers for all four; the t slider moves x
// and u; a model is removed and added back through the model picker; new seeds survive the panel
// being hidden at once (the page is rebuilt and asks again); the page survives a reload.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { REPO, requireBuilt } from '../helpers/paths';
import { e2eAvailable, startVSCode, type VSCodeSession } from './harness';

const avail = e2eAvailable();
const skip = avail.ok ? false : avail.reason;
let session: VSCodeSession | undefined;
let workspace = '';

const LABELS = ['x-pred, patch 4x4 (dim 16)', 'u-pred, patch 4x4 (dim 16)', 'x-pred, patch 16x16 (dim 256)', 'u-pred, patch 16x16 (dim 256)'];
const PATCH_DIMS = [16, 16, 256, 256];

before(async () => {
  if (skip) return;
  requireBuilt();
  workspace = mkdtempSync(join(tmpdir(), 'pmf-e2e-compare-'));
  session = await startVSCode({ extensionDir: process.env.PMF_E2E_EXTENSION_DIR ?? REPO, workspace,
    settings: { 'pmf.executionProvider': 'cpu' }, viewport: { width: 1500, height: 1000 } });
});

after(async () => {
  await session?.stop();
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});

/** A digest of a canvas's pixels and how many distinct values it holds, read in the webview. */
async function canvasDigest(wv: FrameLocator, selector: string): Promise<{ sum: number; distinct: number; width: number }> {
  return wv.locator(selector).first().evaluate((c: any) => {
    const d: Uint8ClampedArray = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4) {
      sum = (sum * 31 + d[i] * 7 + d[i + 1] * 3 + d[i + 2]) % 1_000_000_007;
      if (seen.size < 64) seen.add(d[i] * 65536 + d[i + 1] * 256 + d[i + 2]);
    }
    return { sum, distinct: seen.size, width: c.getBoundingClientRect().width };
  });
}

/** Waits until the latest run is done and `models` models are measured. */
async function settled(wv: FrameLocator, models: number, timeout = 120_000): Promise<void> {
  await wv.locator(`body[data-done="true"][data-measured="${models}"][data-columns-drawn="${models}"]`).waitFor({ timeout });
}

async function labels(wv: FrameLocator): Promise<string[]> {
  return wv.locator('section.column h2.label').allInnerTexts();
}

/** The table's effective dimensions (x and u at the chosen t) of every model, as numbers. */
async function dims(wv: FrameLocator): Promise<Array<{ x: number; u: number }>> {
  const xs = await wv.locator('#dim-table td.dim-x').allInnerTexts();
  const us = await wv.locator('#dim-table td.dim-u').allInnerTexts();
  return xs.map((x, i) => ({ x: Number(x), u: Number(us[i]) }));
}

test('Compare Models opens on the Table 2 set: four labelled columns, their samples drawn, their effective dimensions as numbers',
  { skip, timeout: 300_000 }, async () => {
    const s = session!;
    await s.dumpLogsOnFailure(async () => {
      const t0 = Date.now();
      await s.runCommand('pMF: Compare Models');
      const wv = await s.webview(undefined, { timeoutMs: 60_000 });
      await settled(wv, 4);
      console.log(`four Table 2 models computed and measured in ${((Date.now() - t0) / 1000).toFixed(1)} s after the command`);
      assert.deepEqual(await labels(wv), LABELS);
      assert.deepEqual(await wv.locator('section.column').evaluateAll((els) => els.map((e: any) => e.dataset.patchDim as string)),
        PATCH_DIMS.map(String));

      // one-step samples: 8 seeds per model, each image drawn, the models' images differ
      const digests = [];
      for (let slot = 0; slot < 4; slot++) {
        const col = `section.column[data-slot="${slot}"]`;
        assert.equal(await wv.locator(`${col} canvas.samples`).count(), 8);
        const d = await canvasDigest(wv, `${col} canvas.samples >> nth=0`);
        assert.ok(d.distinct > 8, `model ${slot + 1}'s first sample shows an image (${d.distinct} distinct colours)`);
        assert.notEqual((await canvasDigest(wv, `${col} canvas.samples >> nth=1`)).sum, d.sum, 'seed 1 is another image');
        digests.push(d);
      }
      assert.notEqual(digests[0].sum, digests[1].sum, 'x- and u-prediction at 4x4 patches give different samples');
      assert.notEqual(digests[2].sum, digests[3].sum, 'x- and u-prediction at 16x16 patches give different samples');
      // 28 x 28 and 112 x 112 at one display size
      assert.equal(await wv.locator('section.column[data-slot="0"] canvas.samples').first().evaluate((c: any) => c.width), 28);
      assert.equal(await wv.locator('section.column[data-slot="2"] canvas.samples').first().evaluate((c: any) => c.width), 112);
      assert.equal(digests[0].width, digests[2].width);

      // the measurements: numbers for all four models, within [1, patch dimension]
      const d = await dims(wv);
      assert.equal(d.length, 4);
      d.forEach((v, i) => {
        for (const n of [v.x, v.u]) assert.ok(Number.isFinite(n) && n >= 1 && n <= PATCH_DIMS[i], `model ${i + 1}: ${v.x}, ${v.u}`);
      });
      assert.match(await wv.locator('section.column[data-slot="0"] .dim-at-t').innerText(), /x \d+\.\d\d · u \d+\.\d\d \(of 16\)/);
      const means = await wv.locator('#dim-table td.mean-u').allInnerTexts();
      assert.ok(means.every((m) => Number.isFinite(Number(m))), `means over t: ${means.join(', ')}`);
      console.log(`effective dimension at t = 0.5 (x, u): ${d.map((v, i) => `${LABELS[i]}: ${v.x}, ${v.u}`).join('; ')}`);
      // published metrics (or that there are none) next to each column
      for (const m of await wv.locator('section.column .metrics').allInnerTexts()) assert.match(m, /^(FD \d|class-consistency|no published metrics)/);

      // the t slider: x and u at another t, no new run
      const xBefore = await canvasDigest(wv, 'section.column[data-slot="0"] canvas.x');
      await wv.locator('#t').evaluate((el: any) => {
        el.value = '1';
        el.dispatchEvent(new Event('input', { bubbles: true }));
      });
      await wv.locator('#t-label').filter({ hasText: 't = 0.875' }).waitFor({ timeout: 5_000 });
      assert.notEqual((await canvasDigest(wv, 'section.column[data-slot="0"] canvas.x')).sum, xBefore.sum, 'x at t = 0.875 is another image');
      assert.match(await wv.locator('#dim-table thead').innerText(), /x at t = 0\.875/);
      // keyboard: End goes to t = 0, where x is z_0
      await wv.locator('#t').focus();
      await wv.locator('#t').press('End');
      await wv.locator('#t-label').filter({ hasText: 't = 0.000' }).waitFor({ timeout: 5_000 });
      await s.screenshotAs('compare-models.png', workspace);
      await wv.locator('#dim-table').scrollIntoViewIfNeeded();
      await s.screenshotAs('compare-models-dims.png', workspace);
      // the page ran under its strict CSP without complaint (no refused inline style or script, no page errors)
      const complaints = s.logs().split('\n').filter((l) => /Refused to|pMF compare models|compareModels\.js|pageerror/.test(l));
      assert.deepEqual(complaints, []);
    });
  });

test('a model removed and added back through the picker; the page comes back after a reload', { skip, timeout: 300_000 }, async () => {
  const s = session!;
  await s.dumpLogsOnFailure(async () => {
    const wv = await s.webview(undefined, { timeoutMs: 30_000 });
    await wv.locator('section.column[data-slot="3"] vscode-button.remove').click();
    await settled(wv, 3, 30_000);
    assert.deepEqual(await labels(wv), LABELS.slice(0, 3));
    assert.equal(await wv.locator('#dim-table tbody tr').count(), 3);

    await wv.locator('#add').click();
    await s.pickQuickPickItem('table2/u-p16');
    await settled(wv, 4);
    assert.deepEqual(await labels(wv), LABELS);

    // replace x-p4 by the Fashion-MNIST model (x-prediction, 28 x 28, 2x2 patches: its own label)
    await wv.locator('section.column[data-slot="0"] vscode-button.replace').click();
    await s.pickQuickPickItem('fashion-mnist');
    await settled(wv, 4);
    const replaced = await labels(wv);
    assert.match(replaced[0], /^x-pred, patch \dx\d \(dim \d+\)$/);
    assert.deepEqual(replaced.slice(1), LABELS.slice(1));
    const metrics = await wv.locator('section.column[data-slot="0"] .metrics').innerText();
    assert.match(metrics, /^FD \d+\.\d{3} · class-consistency \d+\.\d %$/, 'the bundled Fashion-MNIST model publishes its metrics');

    // new seeds, then the panel hidden at once (its page is gone, the run stops); shown again, the page asks again
    await wv.locator('#resample').click();
    await s.runCommand('File: New Untitled Text File');
    await s.page.waitForTimeout(500);
    const shown = await s.webview('pMF: Compare Models', { timeoutMs: 30_000 });
    await settled(shown, 4);
    assert.equal(await shown.locator('#seeds').innerText(), 'seeds 8\u201315');
    assert.deepEqual(await labels(shown), replaced);

    await s.runCommand('Developer: Reload Window');
    await s.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    const again = await s.webview('pMF: Compare Models', { timeoutMs: 90_000 });
    await settled(again, 4);
    assert.deepEqual(await labels(again), replaced, 'the same models after the reload');
    assert.equal(await again.locator('#t-label').innerText(), 't = 0.000', 'and the same t');
  });
});
