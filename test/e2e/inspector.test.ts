// pMF: Inspect Checkpoint in a real VS Code (code-server + Chromium): the custom editor opens
// .onnx and PyTorch files, explains them, computes statistics from the file, reports a
// malicious pickle without running it, hands a runnable checkpoint to Generate Samples, and
// benchmarks it here (latency per execution provider and batch size, through the extension's engine).
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fashionMnistPt } from '../helpers/bundledPyTorch';
import { FASHION, REPO, requireBuilt } from '../helpers/paths';
import { e2eAvailable, startVSCode, type VSCodeSession } from './harness';

const avail = e2eAvailable();
const skip = avail.ok ? false : avail.reason;
let session: VSCodeSession | undefined;
let workspace = '';

const CHECKPOINTS = join(REPO, 'test', 'fixtures', 'checkpoints');
const EVIL = 'malicious.pt';
const OFFICIAL = 'official-tiny.pt';

before(async () => {
  if (skip) return;
  requireBuilt();
  workspace = mkdtempSync(join(tmpdir(), 'pmf-e2e-inspect-'));
  copyFileSync(FASHION, join(workspace, 'fashion.onnx'));
  copyFileSync(fashionMnistPt(), join(workspace, 'fashion.pt'));
  copyFileSync(join(CHECKPOINTS, EVIL), join(workspace, EVIL));
  copyFileSync(join(CHECKPOINTS, OFFICIAL), join(workspace, OFFICIAL));
  writeFileSync(join(workspace, 'broken.onnx'), 'this is not a model');
  const extensionDir = process.env.PMF_E2E_EXTENSION_DIR ?? REPO;
  session = await startVSCode({ extensionDir, workspace, settings: { 'pmf.executionProvider': 'cpu' } });
  await session.extensionsReady(); // the tests open files from the Explorer: the custom editor must be known
});

after(async () => {
  await session?.stop();
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});

/** Whether a log file of the session (the extension's output channel among them) has a line matching `re`. */
function sessionLogHas(s: VSCodeSession, re: RegExp): boolean {
  const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
  try {
    return walk(join(s.userDataDir, 'logs')).some((f) => re.test(readFileSync(f, 'utf8')));
  } catch {
    return false;
  }
}

async function waitUntil(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Opens a file from the Explorer, as a user would: with its default editor. */
async function openFromExplorer(s: VSCodeSession, name: string): Promise<void> {
  const row = s.page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: name }).first();
  await row.waitFor({ state: 'visible', timeout: 30_000 });
  await row.dblclick();
}

test('an .onnx file opens in the inspector: contract, architecture, tensors and their statistics', { skip, timeout: 240_000 },
  async () => {
    const s = session!;
    await s.dumpLogsOnFailure(async () => {
      await openFromExplorer(s, 'fashion.onnx');
      const wv = await s.webview('fashion.onnx', { timeoutMs: 60_000 });
      await wv.locator('#content').waitFor({ state: 'visible', timeout: 60_000 });
      assert.equal((await wv.locator('#format').innerText()).trim(), 'ONNX');
      assert.match(await wv.locator('.contract-ok').innerText(), /runnable pMF checkpoint/);
      const overview = await wv.locator('#overview').innerText();
      assert.match(overview, /x \(denoised image/);
      assert.match(overview, /1 × 28 × 28/);
      assert.match(overview, /pmfDiT/);
      assert.ok(await wv.locator('#generate').isVisible(), 'a runnable checkpoint offers Generate Samples');

      await wv.locator('vscode-tab-header[data-tab=tensors]').click();
      const rows = wv.locator('#tensors tbody tr');
      assert.ok((await rows.count()) > 20, 'the tensors table lists the initializers');
      // The filter matches names and, for weights the exporter named onnx::MatMul_..., the node that reads them.
      await wv.locator('#filter').locator('input').fill('shared_blocks.0');
      await wv.locator('#tensor-count').filter({ hasText: 'match' }).waitFor({ timeout: 10_000 });
      const n = await rows.count();
      assert.ok(n >= 2 && n < 20, `filtered to ${n} rows`);
      const names = await wv.locator('#tensors tbody td.name').allInnerTexts();
      for (const name of names) assert.match(name, /shared_blocks\.0[./]/);
      assert.ok(names.some((name) => /^onnx::MatMul_\d+\s*→ \/net\/shared_blocks\.0\/attn\/q_proj\/MatMul$/.test(name)),
        `an anonymous weight shows the node that reads it: ${names.join(' | ')}`);

      // Statistics of every listed tensor, read from the file on the host.
      await wv.locator('#stats-all').click();
      await wv.locator('#stats-progress').filter({ hasText: `statistics of ${n} tensors` }).waitFor({ timeout: 60_000 });
      assert.equal(await wv.locator('#tensors tbody canvas.hist').count(), n);
      const first = await rows.first().locator('td').allInnerTexts();
      const [min, max, , std] = first.slice(5, 9).map(Number); // name, dtype, shape, params, compared (hidden), min, max, mean, std
      assert.ok(Number.isFinite(min) && Number.isFinite(max) && min <= max, `min ${first[4]} max ${first[5]}`);
      assert.ok(Number.isFinite(std) && std >= 0);
      await s.screenshotAs('inspector.png', workspace);
    });
  });

test('a malicious pickle is reported, and nothing in it runs', { skip, timeout: 120_000 }, async () => {
  const s = session!;
  await s.dumpLogsOnFailure(async () => {
    await s.runCommand('pMF: Inspect Checkpoint');
    await s.answerFileDialog(join(workspace, EVIL));
    const wv = await s.webview(EVIL, { timeoutMs: 60_000 });
    const danger = wv.locator('#findings .finding.danger');
    await danger.first().waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await danger.first().innerText(), /os\.system|posix\.system/);
    assert.equal((await wv.locator('#format').innerText()).trim(), 'PyTorch');
    await wv.locator('vscode-tab-header[data-tab=structure]').click();
    assert.match(await wv.locator('#structure').innerText(), /would run on torch\.load\(weights_only=False\)/);
    assert.ok(!readdirSync(workspace).some((f) => f.startsWith('pwned')), 'the payload must not have run');
    assert.ok(!existsSync(join(REPO, 'pwned')));
  });
});

test('an official checkpoint is recognised and a broken file gets a clear message', { skip, timeout: 120_000 }, async () => {
  const s = session!;
  await s.dumpLogsOnFailure(async () => {
    await openFromExplorer(s, OFFICIAL);
    const wv = await s.webview(OFFICIAL, { timeoutMs: 60_000 });
    await wv.locator('#content').waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await wv.locator('#overview').innerText(), /official pMF checkpoint/);
    assert.ok(await wv.locator('#convert').isVisible(), 'an official checkpoint offers the convert command');
    assert.ok(!(await wv.locator('#generate').isVisible()), 'a .pt cannot run directly');

    await openFromExplorer(s, 'broken.onnx');
    const bad = await s.webview('broken.onnx', { timeoutMs: 60_000 });
    await bad.locator('#error').waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await bad.locator('#error').innerText(), /broken\.onnx/);
  });
});

test('Compare with…: the ONNX export against its PyTorch weights, every tensor identical', { skip, timeout: 240_000 }, async () => {
  const s = session!;
  await s.dumpLogsOnFailure(async () => {
    const wv = await s.webview('fashion.onnx', { timeoutMs: 60_000 });
    await wv.locator('vscode-tab-header[data-tab=tensors]').click();
    await wv.locator('#filter').locator('input').fill('u_heads.1');
    await wv.locator('#compare').click();
    await s.answerFileDialog(join(workspace, 'fashion.pt'));
    const summary = wv.locator('#compare-summary');
    await summary.filter({ hasText: /against fashion\.pt: 108 paired \(108 identical\), 0 only here, 0 only there/ })
      .waitFor({ timeout: 60_000 });
    const cells = await wv.locator('#tensors tbody td.vs').allInnerTexts();
    assert.ok(cells.length >= 13, `${cells.length} rows compared`);
    for (const c of cells) assert.match(c, /^identical( ⇄)?$/);
    assert.ok(cells.some((c) => c === 'identical ⇄'), 'MatMul weights are compared with the Linear weights transposed');
    assert.match(await wv.locator('#vs-head').innerText(), /vs fashion\.pt/);
    assert.equal(await wv.locator('#compare-findings .finding').count(), 0, 'the bundled weights hold nothing to warn of');
    await s.screenshotAs('inspector-compare.png', workspace);

    // compared with a malicious pickle: its DANGER is shown with the comparison, not only when it is opened
    await wv.locator('#compare').click();
    await s.answerFileDialog(join(workspace, EVIL));
    await summary.filter({ hasText: new RegExp(`against ${EVIL.replace('.', '\\.')}`) }).waitFor({ timeout: 60_000 });
    const danger = wv.locator('#compare-findings .finding.danger');
    await danger.first().waitFor({ state: 'visible', timeout: 30_000 });
    assert.match(await danger.first().innerText(), new RegExp(`${EVIL.replace('.', '\\.')}: .*(os\\.system|posix\\.system)`));
    assert.ok(!readdirSync(workspace).some((f) => f.startsWith('pwned')), 'the payload must not have run');
  });
});

test('Generate Samples from the inspector runs that checkpoint', { skip, timeout: 240_000 }, async () => {
  const s = session!;
  await s.dumpLogsOnFailure(async () => {
    const wv = await s.webview('fashion.onnx', { timeoutMs: 60_000 });
    await wv.locator('#generate').click();
    // The model is taken from the inspector: the first question is the classes.
    const widget = s.quickInputWidget();
    await widget.getByText('classes', { exact: false }).first().waitFor({ state: 'visible', timeout: 60_000 });
    await s.page.keyboard.press('Escape');
  });
});

test('Benchmark here: a table of provider x batch with a CPU row, from the extension\'s engine', { skip, timeout: 300_000 }, async () => {
  const s = session!;
  await s.dumpLogsOnFailure(async () => {
    const wv = await s.webview('fashion.onnx', { timeoutMs: 60_000 });
    const button = wv.locator('#benchmark');
    assert.ok(await button.isVisible(), 'a runnable checkpoint offers Benchmark here');
    await button.click();
    await wv.locator('#bench-running').waitFor({ state: 'visible', timeout: 30_000 });
    const cpu = wv.locator('#bench-table tbody tr[data-provider=cpu]');
    await cpu.first().waitFor({ state: 'visible', timeout: 240_000 });
    assert.ok(await wv.locator('#bench-running').isHidden(), 'the progress goes when the table comes');
    // default plan: batch 1 and 4, one row each per provider; every provider row is either timed or its error
    const attr = async (rows: typeof cpu, name: string) => Promise.all((await rows.all()).map((tr) => tr.getAttribute(name)));
    assert.deepEqual(await attr(cpu, 'data-batch'), ['1', '4']);
    const providers = await attr(wv.locator('#bench-table tbody tr'), 'data-provider');
    assert.equal(providers.length % 2, 0, `rows: ${providers.join(',')}`);
    for (const tr of await cpu.all()) {
      const cells = await tr.locator('td').allInnerTexts();
      // provider, batch, load s, s/batch (median), min s/batch, img/s, engine RSS, notes
      const [median, min, rate] = cells.slice(3, 6).map(Number);
      for (const x of [median, min, rate]) assert.ok(Number.isFinite(x) && x > 0, `cells ${cells.join(' | ')}`);
      assert.ok(min <= median, `min ${min} <= median ${median}`);
    }
    const first = await cpu.first().locator('td').allInnerTexts();
    assert.equal(first[0].trim(), 'cpu');
    assert.ok(Number(first[2]) > 0, `load s ${first[2]}`);
    if (process.platform === 'linux') assert.match(first[6], /\d+ (MB|GB)/);
    assert.match(await wv.locator('#bench-facts').innerText(), /one step, ω 2, median of 5 runs/);
    const notes = await wv.locator('#bench-notes').innerText();
    if (!providers.includes('cuda')) assert.match(notes, /cuda not measured: /);
    await s.screenshotAs('inspector-benchmark.png', workspace);
  });
});

test('Benchmark here stops when the panel closes mid-run', { skip, timeout: 240_000 }, async () => {
  const s = session!;
  await s.dumpLogsOnFailure(async () => {
    const wv = await s.webview('fashion.onnx', { timeoutMs: 60_000 });
    await wv.locator('#bench-batches').locator('input').fill('1');
    await wv.locator('#bench-runs').locator('input').fill('1000');
    await wv.locator('#bench-again').click();
    const progress = wv.locator('#bench-progress');
    await progress.filter({ hasText: /run \d+ of 1000/ }).waitFor({ timeout: 120_000 });
    await s.runCommand('View: Close All Editors');
    await waitUntil('the log line of a stopped benchmark', () => sessionLogHas(s, /benchmark of \S*fashion\.onnx stopped/), 60_000);
    // the first test's run logged batch 1 and batch 4 per provider; a finished run of this one would log batch 1 alone
    assert.ok(!sessionLogHas(s, /benchmarked \S*fashion\.onnx: .*batch 1 [\d.e+-]+ s \([\d.e+-]+ img\/s\)(;|$)/m),
      'the run of 1000 did not finish');
  });
});
