// pMF: Explore Guidance does no work while hidden, in a real VS Code (code-server + Chromium) on
// the bundled Fashion-MNIST model: the noise scale moved and the panel hidden at once (another
// editor in its group; the page is gone, retainContextWhenHidden is off), the host sends the
// engine no cells request until the panel is shown again (its counts, which it logs to the
// "pMF Lab" log when hidden and shown, stay the same), and shown again the page is rebuilt with
// the moved setting and asks once: the grid is drawn at that noise scale.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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

before(async () => {
  if (skip) return;
  requireBuilt();
  workspace = mkdtempSync(join(tmpdir(), 'pmf-e2e-guidance-hidden-'));
  session = await startVSCode({ extensionDir: process.env.PMF_E2E_EXTENSION_DIR ?? REPO, workspace,
    settings: { 'pmf.executionProvider': 'cpu' }, viewport: { width: 1400, height: 900 } });
});

after(async () => {
  await session?.stop();
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});

/** The files of the extension's "pMF Lab" log under the session's logs. */
function logFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...logFiles(p));
    else if (/pMF Lab\.log$/.test(e.name)) out.push(p);
  }
  return out;
}

interface Counts {
  cells: number;
  strips: number;
  refused: number;
}

/** Every "hidden" / "shown again" line of the panel's log, in order, with the engine request counts it gives. */
function visibilityLines(s: VSCodeSession): Array<{ what: 'hidden' | 'shown again' } & Counts> {
  const text = logFiles(join(s.userDataDir, 'logs')).map((f) => readFileSync(f, 'utf8')).join('\n');
  const re = /explore guidance: (hidden|shown again); engine requests so far: (\d+) for cells, (\d+) for strips; refused while hidden: (\d+)/g;
  return [...text.matchAll(re)].map((m) => ({ what: m[1] as 'hidden' | 'shown again', cells: Number(m[2]), strips: Number(m[3]), refused: Number(m[4]) }));
}

/** Waits for the log's visibility line number `k` (0-based) and returns it. */
async function visibilityLine(s: VSCodeSession, k: number, what: 'hidden' | 'shown again'): Promise<Counts> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const lines = visibilityLines(s);
    if (lines.length > k) {
      assert.equal(lines[k].what, what, JSON.stringify(lines));
      return lines[k];
    }
    if (Date.now() > deadline) throw new Error(`no "${what}" line ${k} in the pMF Lab log: ${JSON.stringify(lines)}`);
    await s.page.waitForTimeout(250);
  }
}

/** A digest of a canvas's pixels, read in the webview. */
async function canvasDigest(wv: FrameLocator, selector: string): Promise<number> {
  return wv.locator(selector).first().evaluate((c: any) => {
    const d: Uint8ClampedArray = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum = (sum * 31 + d[i] * 7 + d[i + 1] * 3 + d[i + 2]) % 1_000_000_007;
    return sum;
  });
}

const cell = (row: number, col: number) => `canvas.cell[data-row="${row}"][data-col="${col}"]`;

/** Moves the noise scale as a drag does (an input event), without waiting for anything. */
async function moveNoise(wv: FrameLocator, value: number): Promise<void> {
  await wv.locator('#noise-scale').evaluate((el: any, v: string) => {
    el.value = v;
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, String(value));
}

async function moveAndDraw(wv: FrameLocator, value: number): Promise<void> {
  const before = (await wv.locator('body').getAttribute('data-cells-drawn')) ?? '0';
  await moveNoise(wv, value);
  await wv.locator(`body:not([data-cells-drawn="${before}"])[data-last-cells="40"]`).waitFor({ timeout: 30_000 });
}

test('the noise scale moved, the panel hidden at once: no cells requests reach the engine until it is shown; then the grid is drawn',
  { skip, timeout: 300_000 }, async () => {
    const s = session!;
    await s.dumpLogsOnFailure(async () => {
      await s.runCommand('pMF: Explore Guidance');
      await s.pickQuickPickItem('fashion-mnist');
      const wv = await s.webview(undefined, { timeoutMs: 60_000 });
      await wv.locator('body[data-cells-drawn][data-last-cells="40"]').waitFor({ timeout: 60_000 });
      // the images at noise scale 0.8 and at 1, for later
      await moveAndDraw(wv, 0.8);
      const at08 = await canvasDigest(wv, cell(0, 0));
      await moveAndDraw(wv, 1);
      assert.notEqual(await canvasDigest(wv, cell(0, 0)), at08);

      // move, and hide the panel at once: a new editor in its group
      await moveNoise(wv, 0.8);
      await s.runCommand('File: New Untitled Text File');
      const hidden = await visibilityLine(s, 0, 'hidden');
      assert.ok(hidden.cells >= 3, `the cells requests before (${hidden.cells}) were counted`);
      // while hidden, nothing asks: a few seconds with the editor in front
      await s.page.waitForTimeout(4000);
      assert.equal(visibilityLines(s).length, 1, 'still hidden');

      // shown again (its tab clicked): the page is rebuilt from its saved state and asks once
      const shown = await s.webview('pMF Guidance: Fashion-MNIST pMF', { timeoutMs: 30_000 });
      const again = await visibilityLine(s, 1, 'shown again');
      assert.equal(again.cells, hidden.cells, 'no cells request went to the engine while the panel was hidden');
      assert.equal(again.strips, hidden.strips, 'nor a strip');
      await shown.locator('body[data-cells-drawn][data-last-cells="40"]').waitFor({ timeout: 60_000 });
      assert.equal(await shown.locator('#noise-scale').evaluate((el: any) => String(el.value)), '0.8', 'the moved setting survived');
      assert.equal(await canvasDigest(shown, cell(0, 0)), at08, 'and the grid shows it');

      // hidden once more: the host counts the page's new request (it asked when shown, and the engine answered)
      await s.runCommand('File: New Untitled Text File');
      const later = await visibilityLine(s, 2, 'hidden');
      assert.ok(later.cells > again.cells, `a cells request after being shown (${again.cells} -> ${later.cells})`);
    });
  });
