/**
 * Proves the e2e harness against a real, tiny extension written by the test: its command
 * "E2E Probe: Open Panel" asks a quick pick and an input box, then opens a webview panel.
 * Skips (with the reason) when scripts/setup-e2e.sh has not been run.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { e2eAvailable, startVSCode, type VSCodeSession } from './harness';

const PROBE_MANIFEST = {
  name: 'e2e-probe',
  displayName: 'E2E Probe',
  publisher: 'pmf-e2e',
  version: '0.0.1',
  engines: { vscode: '^1.80.0' },
  main: './extension.js',
  activationEvents: [],
  contributes: {
    commands: [{ command: 'e2eProbe.openPanel', title: 'Open Panel', category: 'E2E Probe' }],
  },
};

const PROBE_MAIN = `
const vscode = require('vscode');
exports.activate = (context) => {
  context.subscriptions.push(vscode.commands.registerCommand('e2eProbe.openPanel', async () => {
    const pick = await vscode.window.showQuickPick(['alpha', 'beta', 'gamma'], { placeHolder: 'Pick a greeting' });
    const name = await vscode.window.showInputBox({ prompt: 'Who is there?' });
    const panel = vscode.window.createWebviewPanel('e2eProbe', 'E2E Probe Panel', vscode.ViewColumn.One, {});
    const esc = (s) => String(s).replace(/[&<>"]/g, (c) => '&#' + c.charCodeAt(0) + ';');
    panel.webview.html = '<!DOCTYPE html><html><body style="background:#fff;color:#000">' +
      '<h1 id="probe">hello from the probe</h1>' +
      '<p id="picked">' + esc(pick) + '</p><p id="name">' + esc(name) + '</p></body></html>';
  }));
};
exports.deactivate = () => {};
`;

const avail = e2eAvailable();

test('e2e harness drives a real VS Code: palette, quick pick, input box, webview, screenshot', {
  skip: avail.ok ? false : avail.reason,
  timeout: 110_000,
}, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pmf-e2e-probe-'));
  const extensionDir = path.join(tmp, 'extension');
  const workspace = path.join(tmp, 'workspace');
  fs.mkdirSync(extensionDir);
  fs.mkdirSync(workspace);
  fs.writeFileSync(path.join(extensionDir, 'package.json'), JSON.stringify(PROBE_MANIFEST, null, 2));
  fs.writeFileSync(path.join(extensionDir, 'extension.js'), PROBE_MAIN);
  fs.writeFileSync(path.join(workspace, 'README.md'), '# probe workspace\n');

  let vsc: VSCodeSession | undefined;
  try {
    vsc = await startVSCode({ extensionDir, workspace, startTimeoutMs: 60_000 });
    await vsc.runCommand('E2E Probe: Open Panel');
    await vsc.pickQuickPickItem('beta');
    await vsc.typeInInputBox('Ada', { prompt: 'Who is there?' });

    const view = await vsc.webview();
    const probe = view.locator('#probe');
    await probe.waitFor({ timeout: 30_000 });
    assert.equal(await probe.textContent(), 'hello from the probe');
    assert.equal(await view.locator('#picked').textContent(), 'beta');
    assert.equal(await view.locator('#name').textContent(), 'Ada');
    // The same webview, chosen by its tab title and by index.
    assert.equal(await (await vsc.webview('E2E Probe Panel')).locator('#probe').textContent(), 'hello from the probe');
    assert.equal(await (await vsc.webview(0)).locator('#picked').textContent(), 'beta');

    const png = path.join(tmp, 'shots', 'probe.png');
    await vsc.screenshot(png);
    const bytes = fs.readFileSync(png);
    assert.ok(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'PNG signature');
    assert.ok(bytes.length > 10_000, `screenshot is only ${bytes.length} bytes`);

    const pid = vsc.serverPid;
    await vsc.stop();
    await vsc.stop(); // a second stop is a no-op
    assert.ok(pid !== undefined && !processExists(pid), 'code-server is gone after stop()');
  } catch (e) {
    if (vsc) {
      await vsc.screenshot(path.join(tmp, 'failure.png')).catch(() => undefined);
      console.error(`----- e2e logs (failure screenshot: ${path.join(tmp, 'failure.png')}) -----\n${vsc.logs()}`);
    }
    throw e;
  } finally {
    await vsc?.stop();
    if (!process.env.PMF_E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  }
});

function processExists(pid: number): boolean {
  try {
    const state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== undefined && state !== 'Z';
  } catch {
    return false;
  }
}
