// The Field Visualizer and Generate Samples on the bundled flow-matching model (models/flow-matching)
// in a real VS Code (code-server + Chromium): the trajectory is the model's ODE with its own solver
// and steps, u and x come from the ODE solution z_r (the paper's Fig. 1: u = (z_t - z_r)/(t - r),
// x = z_t - t u), the r slider says so, and the measurements are drawn; the gallery shows the
// solver its samples were made with. Nothing here depends on how well the model is trained.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { REPO, requireBuilt } from '../helpers/paths';
import { acceptQuickPick, e2eAvailable, startVSCode, type VSCodeSession } from './harness';
import { canvasDigest, setControl, slide } from './webviewPage';

const avail = e2eAvailable();
const skip = avail.ok ? false : avail.reason;
let session: VSCodeSession | undefined;
let workspace = '';

before(async () => {
  if (skip) return;
  requireBuilt();
  workspace = mkdtempSync(join(tmpdir(), 'pmf-e2e-vizfm-'));
  session = await startVSCode({ extensionDir: process.env.PMF_E2E_EXTENSION_DIR ?? REPO, workspace,
    settings: { 'pmf.executionProvider': 'cpu' } });
});

after(async () => {
  await session?.stop();
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});

const x0 = 'canvas.field[data-field="x"][data-sample="0"]';
const u0 = 'canvas.field[data-field="u"][data-sample="0"]';
const v0 = 'canvas.field[data-field="v"][data-sample="0"]';
const z0 = 'canvas.field[data-field="z"][data-sample="0"]';

test('the Field Visualizer runs the flow-matching model\'s ODE and shows u and x from it (Fig. 1); the r slider is the ODE down to r',
  { skip, timeout: 300_000 }, async () => {
    const s = session!;
    await s.dumpLogsOnFailure(async () => {
      await s.runCommandAndPick('pMF: Open Field Visualizer', 'flow-matching');
      const wv = await s.webview(undefined, { timeoutMs: 60_000 });
      // the model's own sampler (pmf.default_sampling: 16 Heun steps) along 16 frame steps
      await wv.locator('body[data-model-type="flow-matching"][data-frames="17"][data-loaded="17"]').waitFor({ timeout: 120_000 });
      assert.match(await wv.locator('#defaults-note').innerText(), /the ODE with the model's own sampler, 16 Heun steps per unit of t/);
      assert.match(await wv.locator('#model-meta').innerText(), /flow matching \(no r\)/);
      assert.match(await wv.locator('#model-meta').innerText(), /CFG by two passes/);

      // what a flow-matching model has: a solver and ODE steps, omega (two-pass guidance); no mode,
      // no step r, no MeanFlow consistency
      assert.equal(await wv.locator('#solver').evaluate((e: any) => e.value), 'heun');
      assert.ok(await wv.locator('#solver').isVisible(), 'the solver is offered');
      assert.ok(await wv.locator('#ode-steps').isVisible(), 'the ODE steps are offered');
      assert.equal(await wv.locator('#ode-steps').evaluate((e: any) => e.value), '16');
      assert.ok(await wv.locator('#omega').isVisible(), 'omega, for the model\'s two-pass guidance');
      assert.equal(await wv.locator('#mode').isVisible(), false, 'no mode: the trajectory is the ODE');
      assert.equal(await wv.locator('#r-step').isVisible(), false, 'no step r: the network has no r');
      assert.equal(await wv.locator('#card-consistency').isVisible(), false, 'no MeanFlow consistency');

      // the r control says what it is: the ODE down to r, with the steps this frame's z_r takes
      assert.match(await wv.locator('#r-label').innerText(), /ODE down to r/);
      assert.match(await wv.locator('#r-slider').getAttribute('aria-label') ?? '', /ODE/);
      assert.match(await wv.locator('#frame-label').innerText(), /t\s*=\s*1\.0000/);
      assert.match(await wv.locator('#r-meaning').innerText(),
        /u = \(z_t \u2212 z_r\)\/\(t \u2212 r\), z_r by 16 Heun steps of the ODE from z_t down to r; x = z_t \u2212 t\u00b7u/);

      // the panels render: x an image, u and v fields
      for (const sel of [x0, u0, v0, z0]) assert.ok((await canvasDigest(wv, sel)).distinct > 8, `${sel} shows something`);
      const first = { z: await canvasDigest(wv, z0), u: await canvasDigest(wv, u0) };

      // scrubbing t: z_t and u change; at t = 0.5 z_r takes 8 Heun steps down to r = 0
      await slide(wv, '#t-scrubber', 8);
      assert.match(await wv.locator('#frame-label').innerText(), /t\s*=\s*0\.5000/);
      assert.match(await wv.locator('#r-meaning').innerText(), /z_r by 8 Heun steps/);
      assert.notEqual((await canvasDigest(wv, z0)).sum, first.z.sum, 'z_t changes along t');
      assert.notEqual((await canvasDigest(wv, u0)).sum, first.u.sum, 'u changes along t');

      // r = t: no ODE to solve, u is v (drawn exactly as v), x the denoiser z_t - t v
      const xAtZero = await canvasDigest(wv, x0);
      await slide(wv, '#r-slider', 1);
      assert.match(await wv.locator('#r-meaning').innerText(), /r = t: u = v\(z_t, t\)/);
      assert.deepEqual(await canvasDigest(wv, u0), await canvasDigest(wv, v0), 'u(z_t, t, t) is v(z_t, t)');
      assert.notEqual((await canvasDigest(wv, x0)).sum, xAtZero.sum, 'x at r = t is the denoiser, not the ODE end point');
      // r = t / 2: z_r by ceil(16 * 0.25) = 4 steps, u differs from v
      await slide(wv, '#r-slider', 0.5);
      assert.match(await wv.locator('#frame-label').innerText(), /r\s*=\s*0\.2500/);
      await wv.locator('#r-meaning').filter({ hasText: /z_r by 4 Heun steps/ }).waitFor({ timeout: 10_000 });
      assert.notEqual((await canvasDigest(wv, u0)).sum, (await canvasDigest(wv, v0)).sum, 'u averages v over [r, t]');

      // the measurements apply unchanged: measured in the engine, drawn along t
      await wv.locator('body[data-measured="17"][data-patch-dim]').waitFor({ timeout: 120_000 });
      for (const plot of ['#plot-rms', '#plot-dim', '#plot-hf']) {
        const d = await canvasDigest(wv, `${plot} canvas`);
        assert.ok(d.distinct > 2, `${plot} has no drawing`);
      }
      await s.screenshotAs('visualizer-flow.png', workspace);

      // another solver: the trajectory runs again with it, and the r control names it
      await setControl(wv, '#solver', 'euler');
      await wv.locator('#r-meaning').filter({ hasText: /Euler step/ }).waitFor({ timeout: 120_000 });
      await wv.locator('body[data-frames="17"][data-loaded="17"]').waitFor({ timeout: 120_000 });
    });
  });

test('Generate Samples on the flow-matching model: the sampling pick offers the solvers, the gallery shows the one used',
  { skip, timeout: 240_000 }, async () => {
    const s = session!;
    await s.dumpLogsOnFailure(async () => {
      await s.runCommand('View: Close All Editors');
      await s.runCommandAndPick('pMF: Generate Samples', 'flow-matching');
      await acceptQuickPick(s, 'classes');
      await s.typeInInputBox('4', { prompt: 'Number of samples' });
      await s.typeInInputBox('0', { prompt: 'Seed' });
      // the model's steps with the other solver (its default is Heun)
      await s.pickQuickPickItem('Euler solver: 16 Euler steps, \u03c9 2, interval [0, 1]');
      const wv = await s.webview(undefined, { timeoutMs: 60_000 });
      await wv.locator('#timing').filter({ hasText: '4 samples in' }).waitFor({ timeout: 120_000 });
      assert.equal(await wv.locator('figure.sample img').count(), 4);
      assert.match(await wv.locator('#settings').innerText(), /^16 Euler steps, \u03c9 2, interval \[0, 1\]$/);
      assert.equal(await wv.locator('#settings').getAttribute('data-solver'), 'euler');
    });
  });
