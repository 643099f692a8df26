// pMF: Open Field Visualizer in a real VS Code (code-server + Chromium), on the bundled models.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { FIXTURE, REPO, requireBuilt } from '../helpers/paths';
import { e2eAvailable, startVSCode, type VSCodeSession } from './harness';
import { canvasDigest, setControl, slide } from './webviewPage';

const avail = e2eAvailable();
const skip = avail.ok ? false : avail.reason;
let session: VSCodeSession | undefined;
let workspace = '';

before(async () => {
  if (skip) return;
  requireBuilt();
  workspace = mkdtempSync(join(tmpdir(), 'pmf-e2e-viz-'));
  // PMF_VIZ_CHUNK_BYTES: the host sends a trajectory's frames one per message (as it does for a
  // 256 x 256 model), so every test here goes through the streamed path.
  session = await startVSCode({ extensionDir: process.env.PMF_E2E_EXTENSION_DIR ?? REPO, workspace,
    settings: { 'pmf.executionProvider': 'cpu' }, env: { PMF_VIZ_CHUNK_BYTES: '60000' } });
});

after(async () => {
  await session?.stop();
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});

/** Opens the Field Visualizer on `model` (a quick-pick label) and waits for its first 16-step trajectory, all frames in. */
async function openVisualizer(s: VSCodeSession, model: string): Promise<FrameLocator> {
  await s.runCommand('pMF: Open Field Visualizer');
  await s.pickQuickPickItem(model);
  const wv = await s.webview(undefined, { timeoutMs: 60_000 });
  await wv.locator('body[data-frames="17"][data-loaded="17"]').waitFor({ timeout: 90_000 });
  return wv;
}

test('the visualizer shows z, x, u, v along a trajectory; scrubbing t and moving r change the panels; plots have data',
  { skip, timeout: 240_000 }, async () => {
    const s = session!;
    await s.dumpLogsOnFailure(async () => {
      const wv = await openVisualizer(s, 'fashion-mnist');
      const x0 = 'canvas.field[data-field="x"][data-sample="0"]';
      const u0 = 'canvas.field[data-field="u"][data-sample="0"]';
      const first = await canvasDigest(wv, x0);
      assert.ok(first.distinct > 8, 'the x panel shows an image');
      assert.ok((await canvasDigest(wv, u0)).distinct > 8, 'the u panel shows a field');
      assert.match(await wv.locator('#frame-label').innerText(), /t\s*=\s*1/);
      // the defaults fit the model's cost, and the panel says why
      assert.match(await wv.locator('#defaults-note').innerText(),
        /^Defaults for this model: 16 steps, 4 samples: this model costs [\d.]+ MFLOP per image/);
      // the panels hold 8-bit display values; hovering a pixel fetches its exact float32 values
      await wv.locator(x0).hover({ position: { x: 20, y: 20 } });
      await wv.locator('#readout[data-exact="true"]').waitFor({ timeout: 30_000 });
      const exactText = await wv.locator('#readout').innerText();
      assert.doesNotMatch(exactText, /\u2248/, 'exact values replace the display values');
      const zExact = Number(/\bz ([\u2212-]?[\d.e+\u2212-]+)/.exec(exactText)?.[1].replace(/\u2212/g, '-'));
      assert.ok(Number.isFinite(zExact) && zExact !== 0, `the readout shows an exact z value: ${exactText}`);

      await slide(wv, '#t-scrubber', 8);
      assert.match(await wv.locator('#frame-label').innerText(), /t\s*=\s*0\.5/);
      const z8 = await canvasDigest(wv, 'canvas.field[data-field="z"][data-sample="0"]');
      assert.notEqual(z8.sum, first.sum);

      const xBefore = await canvasDigest(wv, x0);
      await slide(wv, '#r-slider', 1); // r = t: the denoiser
      const xAfter = await canvasDigest(wv, x0);
      assert.notEqual(xAfter.sum, xBefore.sum, 'moving r changes x');
      // the host sends x and u at the new r; z and v are the frame's own: at r = t, u is v
      assert.deepEqual(await canvasDigest(wv, u0), await canvasDigest(wv, 'canvas.field[data-field="v"][data-sample="0"]'),
        'u(z_t, t, t) is drawn exactly as v(z_t, t)');
      assert.match(await wv.locator('#frame-label').innerText(), /r\s*=\s*0\.5/);

      // measured after the images arrive, in the engine's worker thread
      // the model's own 7 x 7 patches (d = 49)
      await wv.locator('body[data-measured="17"][data-patch-dim="49"]').waitFor({ timeout: 60_000 });
      for (const plot of ['#plot-rms', '#plot-dim', '#plot-hf']) {
        const d = await canvasDigest(wv, `${plot} canvas`);
        assert.ok(d.distinct > 2, `${plot} has no drawing`);
      }
      await s.screenshotAs('visualizer.png', workspace);

      // 28 x 28 patches (d = 784) take a second or so per frame: the charts fill in frame by
      // frame while the panels stay live (the engine measures in a worker thread).
      await setControl(wv, '#patch-size', 28);
      await wv.locator('#card-dim .plot-note').filter({ hasText: /Measuring\u2026 \d+ of 17 frames/ }).waitFor({ timeout: 30_000 });
      await slide(wv, '#r-slider', 0.5); // answered while measuring
      assert.match(await wv.locator('#frame-label').innerText(), /r\s*=\s*0\.25/);
      await wv.locator('body[data-measured="17"][data-patch-dim="784"]').waitFor({ timeout: 120_000 });
      assert.equal(await wv.locator('#card-dim .plot-note').innerText(), '', 'the progress note goes when all frames are measured');
    });
  });

test('a long run shows its progress and stops on Stop; what was shown stays, and the panel runs again',
  { skip, timeout: 240_000 }, async () => {
    const s = session!;
    await s.dumpLogsOnFailure(async () => {
      await s.runCommand('View: Close All Editors');
      const wv = await openVisualizer(s, 'fashion-mnist');
      const drawn = await wv.locator('body').getAttribute('data-drawn');
      // the v-ODE with 2048 Euler steps: about 2049 network calls
      await setControl(wv, '#ode-steps', 2048);
      await setControl(wv, '#mode', 'ode');
      await wv.locator('#busy-label').filter({ hasText: /Computing the trajectory: \d+ of 2049 network calls/ }).waitFor({ timeout: 30_000 });
      await wv.locator('#cancel').click();
      await wv.locator('#busy').waitFor({ state: 'hidden', timeout: 30_000 });
      assert.match(await wv.locator('#status').innerText(), /Stopped/);
      assert.equal(await wv.locator('body').getAttribute('data-frames'), '17', 'the last trajectory stays');
      assert.equal(await wv.locator('body').getAttribute('data-drawn'), drawn, 'nothing new was drawn');
      await setControl(wv, '#mode', 'pmf'); // auto-run
      await setControl(wv, '#steps', 4);
      await wv.locator('body[data-frames="5"][data-loaded="5"][data-measured="5"]').waitFor({ timeout: 60_000 });
      // a long measurement (28 x 28 patches) shows in the busy area and stops there too
      await setControl(wv, '#patch-size', 28);
      await wv.locator('#busy-label').filter({ hasText: /Measuring: \d+ of 5 frames/ }).waitFor({ timeout: 30_000 });
      await wv.locator('#cancel').click();
      await wv.locator('#busy').waitFor({ state: 'hidden', timeout: 30_000 });
      await wv.locator('#card-dim .plot-note').filter({ hasText: /^Stopped: \d of 5 frames measured\.$/ }).waitFor({ timeout: 10_000 });
    });
  });

test('a toy model shows its data plane', { skip, timeout: 180_000 }, async () => {
  const s = session!;
  await s.dumpLogsOnFailure(async () => {
    await s.runCommand('pMF: Open Field Visualizer');
    await s.pickQuickPickItem('swiss-roll/u-D512');
    const wv = await s.webview(undefined, { timeoutMs: 60_000 });
    await wv.locator('#toy-plane').waitFor({ timeout: 60_000 });
    await wv.locator('body[data-frames]').waitFor({ timeout: 60_000 });
    const d = await canvasDigest(wv, '#toy-plane');
    assert.ok(d.distinct > 3, 'the data plane is drawn');
    await s.screenshotAs('visualizer-toy.png', workspace);
  });
});

test('Compare Toy Models shows the six bundled toys; u-prediction leaves the plane at D = 512, x-prediction does not',
  { skip, timeout: 180_000 }, async () => {
    const s = session!;
    await s.dumpLogsOnFailure(async () => {
      await s.runCommand('pMF: Compare Toy Models (Fig. 2)');
      const wv = await s.webview(undefined, { timeoutMs: 60_000 });
      await wv.locator('body[data-cells="6"]').waitFor({ timeout: 120_000 });
      const offPlane = async (pred: string, dim: number) => {
        const text = await wv.locator(`figure.cell[data-prediction="${pred}"][data-dim="${dim}"] .off-plane`).innerText();
        return Number(/off-plane norm ([\d.]+)/.exec(text)![1]);
      };
      assert.ok((await offPlane('x', 512)) < 0.5, 'x-prediction stays in the plane at D = 512');
      assert.ok((await offPlane('u', 512)) > 5, 'u-prediction does not');
      for (let i = 0; i < 6; i++) {
        assert.ok((await canvasDigest(wv, `figure.cell:nth-child(${i + 1}) canvas`)).distinct > 2, 'every cell is drawn');
      }
      await s.screenshotAs('toy-compare.png', workspace);
    });
  });

test('a reloaded window restores the visualizer with its settings (WebviewPanelSerializer + setState)',
  { skip, timeout: 240_000 }, async () => {
    const s = session!;
    await s.dumpLogsOnFailure(async () => {
      await s.runCommand('View: Close All Editors'); // one visualizer tab, so the restored one is unambiguous
      let wv = await openVisualizer(s, 'fashion-mnist');
      await setControl(wv, '#steps', 6);
      await wv.locator('#run').click();
      await wv.locator('body[data-frames="7"][data-loaded="7"]').waitFor({ timeout: 60_000 });
      await s.runCommand('Developer: Reload Window');
      await s.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
      wv = await s.webview('pMF Fields: Fashion-MNIST pMF', { timeoutMs: 90_000 });
      await wv.locator('body[data-frames="7"][data-loaded="7"]').waitFor({ timeout: 90_000 });
      assert.equal(await wv.locator('body').getAttribute('data-kind'), 'image');
    });
  });

test('a real image picked through VS Code runs image mode; the fields of a step export to .npy',
  { skip, timeout: 240_000 }, async () => {
    const s = session!;
    await s.dumpLogsOnFailure(async () => {
      // A 56x56 image with a bright square, written by sharp into the workspace.
      const sharp = (await import('sharp')).default;
      const px = Buffer.alloc(56 * 56, 0);
      for (let y = 14; y < 42; y++) for (let x = 14; x < 42; x++) px[y * 56 + x] = 230;
      const png = join(workspace, 'square.png');
      await sharp(px, { raw: { width: 56, height: 56, channels: 1 } }).png().toFile(png);

      await s.runCommand('View: Close All Editors');
      const wv = await openVisualizer(s, 'fashion-mnist');
      await setControl(wv, '#steps', 4);
      await setControl(wv, '#mode', 'image');
      await wv.locator('#pick-image').click();
      await s.answerFileDialog(png);
      // Wait for the image-mode result itself: the steps change above also auto-runs a 5-frame pMF
      // trajectory, so the frame count alone could match that one. Image-mode results carry the
      // notice of how the image was fitted to the model.
      await wv.locator('#status').filter({ hasText: /5 frames.*resized from 56x56 to 28x28/ }).waitFor({ timeout: 90_000 });
      assert.equal(await wv.locator('body').getAttribute('data-frames'), '5');
      assert.equal(await wv.locator('#mode').evaluate((el: any) => el.value), 'image');
      // z at t0 = 0.7 holds the image: its centre is brighter than its corner on average over samples
      const zCentreMinusCorner = await wv.locator('canvas.field[data-field="z"]').evaluateAll((cs: any[]) => cs.map((c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const at = (fx: number, fy: number): number => d[(Math.floor(fy * c.height) * c.width + Math.floor(fx * c.width)) * 4];
        let centre = 0;
        let corner = 0;
        for (let i = 0; i < 9; i++) {
          centre += at(0.4 + 0.025 * (i % 3), 0.4 + 0.025 * Math.floor(i / 3));
          corner += at(0.05 + 0.025 * (i % 3), 0.05 + 0.025 * Math.floor(i / 3));
        }
        return centre - corner;
      }));
      const mean = zCentreMinusCorner.reduce((a, b) => a + b, 0) / zCentreMinusCorner.length;
      assert.ok(mean > 0, `the noised image keeps its square: centre - corner = ${mean}`);

      const out = join(workspace, 'step.npy');
      await wv.locator('#export-npy').click();
      await s.answerFileDialog(out);
      await wv.locator('#status').filter({ hasText: 'step.npy' }).waitFor({ timeout: 30_000 });
      assert.ok(existsSync(out));
      const npy = readFileSync(out);
      const len = npy.readUInt16LE(8);
      assert.match(npy.subarray(10, 10 + len).toString('latin1'), /'shape': \(4, 4, 1, 28, 28\)/);
    });
  });

test('unconditional and u-prediction image models work; a failed engine call shows in the panel, which stays usable',
  { skip, timeout: 240_000 }, async () => {
    const s = session!;
    await s.dumpLogsOnFailure(async () => {
      copyFileSync(FIXTURE('image-unconditional'), join(workspace, 'image-unconditional.onnx'));
      copyFileSync(FIXTURE('image-u-prediction'), join(workspace, 'image-u-prediction.onnx'));
      await s.runCommand('View: Close All Editors');
      const wv = await openVisualizer(s, 'image-unconditional.onnx');
      assert.equal(await wv.locator('#class-0').count(), 0, 'no class selects for an unconditional model');

      // A patch size larger than the 16x16 images: the engine refuses, the panel says why.
      await setControl(wv, '#patch-size', 32);
      await wv.locator('#run').click();
      await wv.locator('#error').filter({ hasText: 'does not fit the 16x16 images' }).waitFor({ timeout: 30_000 });
      // Only the patch size changed: the same trajectory is measured again, with 2 x 2 patches.
      const drawn = await wv.locator('body').getAttribute('data-drawn');
      await setControl(wv, '#patch-size', 2); // auto-run
      await wv.locator('body[data-measured="17"][data-patch-dim="4"]').waitFor({ timeout: 60_000 });
      assert.equal(await wv.locator('#error').isVisible(), false, 'the error clears when a run succeeds');
      assert.equal(await wv.locator('body').getAttribute('data-drawn'), drawn, 'the trajectory was not computed again');

      const uSel = 'canvas.field[data-field="u"][data-sample="0"]';
      const uncondU = await canvasDigest(wv, uSel);
      await wv.locator('#change-model').click();
      await s.pickQuickPickItem('image-u-prediction.onnx');
      await wv.getByText('test fixture: image-u-prediction').first().waitFor({ timeout: 60_000 });
      let u = uncondU;
      for (const deadline = Date.now() + 60_000; u.sum === uncondU.sum && Date.now() < deadline;) {
        await new Promise((r) => setTimeout(r, 250));
        u = await canvasDigest(wv, uSel);
      }
      assert.notEqual(u.sum, uncondU.sum, 'the panels show the u-prediction model');
      assert.ok(u.distinct > 8, 'u of a u-prediction model is drawn');
    });
  });
