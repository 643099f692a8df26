// The gallery's outputs in a real VS Code (code-server + Chromium): Save All twice keeps both
// saves (the second under -run2 names), and a model that returns NaN shows its count in place of
// each sample, with Save All off.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { REPO, requireBuilt } from '../helpers/paths';
import { expectedNonFinite, nonFiniteModel } from '../node/nonFiniteModels';
import { acceptQuickPick, e2eAvailable, startVSCode, type VSCodeSession } from './harness';

const avail = e2eAvailable();
const skip = avail.ok ? false : avail.reason;
let session: VSCodeSession | undefined;
let workspace = '';


/** Generate Samples on `model` (all classes, the model's default settings). */
async function generate(s: VSCodeSession, model: string, n: number, seed: number): Promise<void> {
  // runCommandAndPick: the model pick can close and go inert before the item is picked (CI at aaffe14)
  await s.runCommandAndPick('pMF: Generate Samples', model);
  await acceptQuickPick(s, 'classes');
  await s.typeInInputBox(String(n), { prompt: 'Number of samples' });
  await s.typeInInputBox(String(seed), { prompt: 'Seed' });
  await acceptQuickPick(s, 'sampling');
}

before(async () => {
  if (skip) return;
  requireBuilt();
  workspace = mkdtempSync(join(tmpdir(), 'pmf-e2e-out-'));
  writeFileSync(join(workspace, 'nan-model.onnx'), nonFiniteModel('nan'));
  const extensionDir = process.env.PMF_E2E_EXTENSION_DIR ?? REPO;
  session = await startVSCode({ extensionDir, workspace, settings: { 'pmf.executionProvider': 'cpu' } });
});

after(async () => {
  await session?.stop();
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});

test('Save All twice into the output folder: both saves stay, the second under -run2 names', { skip, timeout: 240_000 }, async () => {
  const s = session!;
  await s.dumpLogsOnFailure(async () => {
    await generate(s, 'fashion-mnist', 3, 0);
    const wv = await s.webview(undefined, { timeoutMs: 60_000 });
    await wv.locator('figure.sample img').nth(2).waitFor({ state: 'visible', timeout: 60_000 });
    // Save All is on once the run is done
    await wv.locator('#timing').filter({ hasText: '3 samples in' }).waitFor({ timeout: 30_000 });
    const out = join(workspace, 'pmf-samples');
    await wv.locator('#save').click();
    await wv.locator('#status').filter({ hasText: `Saved 4 files to ${out}` }).waitFor({ timeout: 30_000 });
    await wv.locator('#save').click();
    await wv.locator('#status').filter({ hasText: 'names with -run2: an earlier save has the plain names there' })
      .waitFor({ timeout: 30_000 });
    assert.deepEqual(readdirSync(out).sort(), ['000-t-shirt-top-seed0-run2.png', '000-t-shirt-top-seed0.png',
      '001-trouser-seed1-run2.png', '001-trouser-seed1.png', '002-pullover-seed2-run2.png', '002-pullover-seed2.png',
      'grid-run2.png', 'grid.png']);
  });
});

test('a model that returns NaN: each tile says how many values, no black image, Save All off', { skip, timeout: 240_000 }, async () => {
  const s = session!;
  await s.dumpLogsOnFailure(async () => {
    await generate(s, 'nan-model.onnx', 2, 3);
    const wv = await s.webview('pMF: Fixture nan model (2)', { timeoutMs: 60_000 });
    const tiles = wv.locator('figure.sample.nonfinite .nonfinite-tile');
    await tiles.nth(1).waitFor({ state: 'visible', timeout: 60_000 });
    const expected = expectedNonFinite('nan', [3, 4]);
    assert.deepEqual((await tiles.allInnerTexts()).map((t) => t.trim()), expected.map((k) => `NaN: ${k} values`));
    assert.equal(await wv.locator('figure.sample img').count(), 0, 'no image for a NaN sample');
    await wv.locator('#timing').filter({ hasText: '2 samples in' }).waitFor({ timeout: 30_000 });
    assert.match(await wv.locator('#nonfinite').innerText(),
      new RegExp(`^2 of 2 samples are not images: the model returned ${expected[0] + expected[1]} NaN values\\. Re-generate them`));
    assert.equal(await wv.locator('#save').getAttribute('disabled'), '');
    await s.screenshotAs('gallery-nan.png', workspace);
    assert.equal(existsSync(join(workspace, 'pmf-samples', 'grid-run3.png')), false);
  });
});
