// Processes as Linux's /proc shows them, for the lifetime tests (test/engine/lifetime.test.ts):
// who is whose child, how much CPU a process has used, whether it still runs.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  /** R running, S sleeping, Z zombie (exited, not yet reaped), ... */
  state: string;
  ppid: number;
  /** User + system CPU time of all its threads, in ms. */
  cpuMs: number;
  /** Clock ticks after boot when it started: with the pid, names one process (pids are reused). */
  startTime: number;
}

let ticks: number | undefined;
function clockTicks(): number {
  ticks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return ticks;
}

/** The process's /proc/PID/stat, or undefined when there is no such process. */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const tick = 1000 / clockTicks();
  return { pid, state: f[0], ppid: Number(f[1]), cpuMs: (Number(f[11]) + Number(f[12])) * tick, startTime: Number(f[19]) };
}

/** The process's command line, arguments joined by spaces ('' when there is no such process). */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** The pids whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => procStat(p)?.ppid === pid);
}

/** Whether the process `p` names still runs: a zombie has ended (it only waits for its parent to reap it). */
export function stillRuns(p: ProcStat): boolean {
  const now = procStat(p.pid);
  return now !== undefined && now.startTime === p.startTime && now.state !== 'Z' && now.state !== 'X';
}

/** Polls `cond` every `everyMs` until it holds (true) or `timeoutMs` passed (false). */
export async function waitUntil(cond: () => boolean, timeoutMs: number, everyMs = 10): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
