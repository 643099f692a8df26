// Scoring a finished evaluation off the extension host. The scores of a run (src/node/evaluation.ts
// scoreEval: the Frechet distance, and precision/recall and density/coverage over thousands of
// kept features) are seconds of single-threaded work (about 11 s at 10,000 samples), which would
// freeze every extension: so `pmf eval --merge STATE --ref REF --out FILE --json` (dist/cli.js, the
// same scoring and results file as the command line) computes and writes them in its own process.
import { fork } from 'node:child_process';
import type { EvalProtocol, EvalScores } from '../../node/evaluation';

export interface ScoredRun {
  protocol: EvalProtocol;
  reference: string;
  scores: EvalScores;
}

/** A scoring run that was cancelled (its process is stopped; no results were written). */
export class ScoringCancelled extends Error {
  constructor() {
    super('Scoring cancelled');
    this.name = 'ScoringCancelled';
  }
}

/**
 * Scores the finished run in `statePath` against `refPath` and writes the results JSON to `out`
 * (all or nothing). Rejects with the CLI's own message (which names the file) when it fails.
 */
export function scoreInProcess(cliPath: string, statePath: string, refPath: string, out: string, signal: AbortSignal): Promise<ScoredRun> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new ScoringCancelled());
      return;
    }
    const child = fork(cliPath, ['eval', '--merge', statePath, '--ref', refPath, '--out', out, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [], env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => stdout.push(c));
    child.stderr?.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-8000);
    });
    const onAbort = () => child.kill('SIGTERM');
    signal.addEventListener('abort', onAbort);
    child.on('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      reject(new Error(`Cannot start ${cliPath} to score the run: ${e.message}`));
    });
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) {
        reject(new ScoringCancelled());
        return;
      }
      if (code !== 0) {
        const message = stderr.trim().replace(/^pmf: /, '');
        reject(new Error(message || `Scoring ${statePath} stopped (${sig ?? `exit code ${code}`}).`));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(stdout).toString('utf8')) as ScoredRun);
      } catch (e) {
        reject(new Error(`Scoring ${statePath} gave no results (${(e as Error).message}); ${out} holds them if it was written.`));
      }
    });
  });
}
