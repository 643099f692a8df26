// Activation time of pMF Lab in a real VS Code (code-server), against a minimal extension
// measured the same way in the same run. Each extension logs "activated in X ms (bundle
// evaluation Y ms, activate() Z ms)" from its own timestamps; this reads VS Code's log files.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../test/helpers/paths';
import { e2eAvailable, startVSCode } from '../test/e2e/harness';

const RUNS = 3;

function baselineExtension(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pmf-bench-baseline-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({
    name: 'baseline', publisher: 'bench', version: '0.0.1', engines: { vscode: '^1.95.0' }, main: './extension.js',
    activationEvents: [], contributes: { commands: [{ command: 'baseline.showLog', title: 'Show Log', category: 'Baseline' }] },
  }));
  writeFileSync(join(dir, 'extension.js'), `var __pmfBundleStart = performance.now();
const vscode = require('vscode');
const moduleLoadedAt = performance.now();
exports.activate = (context) => {
  const t = performance.now();
  const log = vscode.window.createOutputChannel('Baseline', { log: true });
  context.subscriptions.push(log, vscode.commands.registerCommand('baseline.showLog', () => log.show()));
  const end = performance.now();
  const bundle = moduleLoadedAt - __pmfBundleStart;
  log.info('activated in ' + (bundle + end - t).toFixed(1) + ' ms (bundle evaluation ' + bundle.toFixed(1) + ' ms, activate() ' + (end - t).toFixed(1) + ' ms)');
};
`);
  return dir;
}

function findActivation(root: string, logName: string): number | undefined {
  const walk = (d: string): string[] => readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
  for (const f of walk(join(root, 'logs'))) {
    if (!f.endsWith(`${logName}.log`)) continue;
    const text = readFileSync(f, "utf8");
    const m = text.match(/activated in ([\d.]+) ms/);
    if (m && process.env.PMF_BENCH_VERBOSE) process.stderr.write((text.split("\n").find((l) => l.includes("activated in")) ?? "") + "\n");
    if (m) return Number(m[1]);
  }
  return undefined;
}

async function measure(extensionDir: string, command: string, logName: string): Promise<number> {
  const ws = mkdtempSync(join(tmpdir(), 'pmf-bench-ws-'));
  mkdirSync(ws, { recursive: true });
  const s = await startVSCode({ extensionDir, workspace: ws });
  try {
    await s.runCommand(command);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ms = findActivation(s.userDataDir, logName);
      if (ms !== undefined) return ms;
      if (Date.now() > deadline) throw new Error(`no activation line in ${logName}.log`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await s.stop();
    rmSync(ws, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const avail = e2eAvailable();
  if (!avail.ok) throw new Error(`activation bench needs the e2e tools: ${avail.reason}`);
  const baseline = baselineExtension();
  try {
    const ours: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      ours.push(await measure(REPO, 'pMF: Show Log', 'pMF Lab'));
      base.push(await measure(baseline, 'Baseline: Show Log', 'Baseline'));
    }
    process.stdout.write(`\nExtension activation in code-server (median of ${RUNS}; bundle evaluation + activate()):\n\n` +
      '| extension | activation ms | ratio |\n|---|---|---|\n' +
      `| minimal extension (baseline) | ${median(base).toFixed(1)} | 1.00x |\n` +
      `| pMF Lab | ${median(ours).toFixed(1)} | ${(median(ours) / median(base)).toFixed(2)}x |\n` +
      `(pMF Lab runs: ${ours.map((x) => x.toFixed(1)).join(', ')}; baseline: ${base.map((x) => x.toFixed(1)).join(', ')})\n`);
  } finally {
    rmSync(baseline, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
});
