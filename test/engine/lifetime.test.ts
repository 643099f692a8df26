// The engine process ends with its parent, even in the middle of one long onnxruntime call (which
// blocks the engine's JS thread): the parent here is the real `pmf generate`, then a stand-in for
// VS Code's extension host (test/helpers/engineHost.ts), each SIGKILLed while the engine computes.
// Real processes, the real engine and onnxruntime; Linux only (it reads /proc).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { EngineClient } from '../../src/engine/client';
import { CLI, ENGINE, REPO, requireBuilt } from '../helpers/paths';
import { childrenOf, cmdline, type ProcStat, procStat, stillRuns, waitUntil } from '../helpers/procs';
import { slowImageModel } from '../helpers/slowModel';

/** The engine must be gone this long after its parent's SIGKILL (it takes 0.1 to 0.3 s). */
const BOUND_MS = 3000;
/** The slow model's call: a Loop of OMEGA matrix products, hours on any CPU (test/helpers/slowModel.ts). */
const OMEGA = '1e9';
const N = 16;

const tmp = mkdtempSync(join(tmpdir(), 'pmf-lifetime-'));
const model = join(tmp, 'slow.onnx');
const parents: ChildProcess[] = [];
const engines: ProcStat[] = [];
/** The CPU time an engine has used once it has started and loaded the slow model. */
let loadCpuMs = 0;

before(async () => {
  if (process.platform !== 'linux') return;
  requireBuilt();
  writeFileSync(model, slowImageModel());
  // What starting the engine and loading the model cost, so that the CLI's engine is known to be
  // in the network call once it has used a second more (there is nothing else it does then).
  const client = new EngineClient({ enginePath: ENGINE });
  try {
    await client.load(model, 'cpu');
    loadCpuMs = procStat(client.pid!)!.cpuMs;
  } finally {
    await client.dispose();
  }
});

after(() => {
  // whatever happened: no parent and no engine outlives the tests
  for (const p of parents) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const e of engines) if (stillRuns(e)) process.kill(e.pid, 'SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

function started(child: ChildProcess): { output: () => string; exited: Promise<NodeJS.Signals | null> } {
  parents.push(child);
  let text = '';
  child.stdout?.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (text += c.toString()));
  const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
  return { output: () => text, exited };
}

/**
 * Waits until `engine` has computed `busyCpuMs` of CPU beyond `baseCpuMs`, checks with
 * `stillInCall` that the call has not finished, SIGKILLs `parent` and returns how long the engine
 * took to end (at most 15 s).
 */
async function killParentMidCall(t: TestContext, parent: ChildProcess, exited: Promise<NodeJS.Signals | null>,
  engine: ProcStat, baseCpuMs: number, stillInCall: () => boolean): Promise<number> {
  const busyCpuMs = 1000;
  const busy = await waitUntil(() => !stillRuns(engine) || procStat(engine.pid)!.cpuMs >= baseCpuMs + busyCpuMs, 60_000, 50);
  assert.ok(busy && stillRuns(engine), 'the engine runs and computes before its parent is killed');
  assert.ok(stillInCall(), 'the network call has not finished when the parent is killed');
  assert.deepEqual(childrenOf(engine.pid), [], 'the engine has no processes of its own (its workers are threads)');
  const cpuAtKill = procStat(engine.pid)!.cpuMs;
  parent.kill('SIGKILL');
  const t0 = performance.now();
  assert.equal(await exited, 'SIGKILL');
  const ended = await waitUntil(() => !stillRuns(engine), 15_000, 5);
  const ms = performance.now() - t0;
  t.diagnostic(`engine ${engine.pid}: ${(cpuAtKill - baseCpuMs).toFixed(0)} ms of CPU into the call; ` +
    `${ended ? 'ended' : 'still running'} ${ms.toFixed(0)} ms after its parent's SIGKILL`);
  assert.ok(ended, `the engine still runs ${ms.toFixed(0)} ms after its parent was killed`);
  return ms;
}

describe('the engine ends with its parent', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  test('kill -9 of `pmf generate` in the middle of a long call', async (t) => {
    const cli = spawn(process.execPath, [CLI, 'generate', '--model', model, '--n', String(N), '--batch-size', String(N),
      '--steps', '1', '--omega', OMEGA, '--provider', 'cpu', '--out', join(tmp, 'out')], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    const { output, exited } = started(cli);
    assert.ok(await waitUntil(() => childrenOf(cli.pid!).length > 0, 30_000, 20), `no engine process: ${output()}`);
    const [pid] = childrenOf(cli.pid!);
    const engine = procStat(pid)!;
    engines.push(engine);
    assert.match(cmdline(pid), /dist\/engine\.js/);
    // with --steps 1 the CLI's progress line appears only when the call is done
    const ms = await killParentMidCall(t, cli, exited, engine, loadCpuMs, () => !/generating: step/.test(output()));
    assert.ok(ms < BOUND_MS, `the engine took ${ms.toFixed(0)} ms to end`);
  });

  test('SIGKILL of an extension host while the engine is idle', async (t) => {
    // No request in flight: the watchdog sleeps, and the closed IPC channel ends the engine ('disconnect').
    const { host, output, exited, events } = startHost('0');
    assert.ok(await waitUntil(() => events().some((e) => e.event === 'loaded') || host.exitCode !== null, 60_000, 20),
      `the host did not load the model: ${output()}`);
    const engine = hostEngine(host, events());
    assert.ok(stillRuns(engine), 'the engine runs before its parent is killed');
    host.kill('SIGKILL');
    const t0 = performance.now();
    assert.equal(await exited, 'SIGKILL');
    const ended = await waitUntil(() => !stillRuns(engine), 15_000, 5);
    const ms = performance.now() - t0;
    t.diagnostic(`idle engine ${engine.pid}: ${ended ? 'ended' : 'still running'} ${ms.toFixed(0)} ms after its parent's SIGKILL`);
    assert.ok(ended && ms < BOUND_MS, `the engine took ${ms.toFixed(0)} ms to end`);
  });

  test('SIGKILL of an extension host (a Node process with an EngineClient) in the middle of a long call', async (t) => {
    const { host, output, exited, events } = startHost(String(N));
    assert.ok(await waitUntil(() => events().some((e) => e.event === 'generating') || host.exitCode !== null, 60_000, 20),
      `the host did not start generating: ${output()}`);
    const engine = hostEngine(host, events());
    const ms = await killParentMidCall(t, host, exited, engine, engine.cpuMs, () => !events().some((e) => e.event !== 'loaded' &&
      e.event !== 'generating'));
    assert.ok(ms < BOUND_MS, `the engine took ${ms.toFixed(0)} ms to end`);
  });
});

/** The stand-in extension host, generating a batch of `batch` samples ('0': none). */
function startHost(batch: string) {
  const host = spawn(process.execPath, [join(REPO, 'out', 'test', 'helpers', 'engineHost.js'), model, batch, OMEGA],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const { output, exited } = started(host);
  const events = () => output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; enginePid?: number });
  return { host, output, exited, events };
}

/** The host's engine, as it reported it, checked to be its child. */
function hostEngine(host: ChildProcess, events: Array<{ event: string; enginePid?: number }>): ProcStat {
  const pid = events.find((e) => e.event === 'loaded')?.enginePid;
  assert.ok(pid, 'the host reports its engine');
  const engine = procStat(pid);
  assert.ok(engine, 'the engine runs');
  engines.push(engine);
  assert.equal(engine.ppid, host.pid, 'the engine is the host\'s child');
  return engine;
}
