// docs/slurm/ run for real: a one-node Slurm on this machine (scripts/slurm-local.sh: Debian's
// slurm-wlm and munge, no systemd, no cgroups), docs/slurm/submit.sh submitting a 4-task array of
// `pmf eval --shard k/4` over the bundled model and the merge job depending on it; the merged scores
// must equal an unsharded run's bit for bit. It fails (never skips) where Slurm is not installed:
// scripts/setup-system.sh installs it, and CI runs that first.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, test } from 'node:test';
import { CLI, REPO, requireBuilt } from '../helpers/paths';

const SLURM_LOCAL = join(REPO, 'scripts', 'slurm-local.sh');
const SUBMIT = join(REPO, 'docs', 'slurm', 'submit.sh');
const N = 4096; // 4 blocks of 1024 samples: one per shard
const SHARDS = 4;
// One CPU thread per task (the node has nproc CPUs, so tasks queue on a small machine); the
// unsharded run uses the same options. --keep 1024 (here and in the reference) keeps
// precision/recall cheap: the test is about the merge, not the metrics.
const EVAL_ARGS = ['--threads', '1', '--keep', '1024'];
const WAIT_MS = 300_000;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', env, cwd, maxBuffer: 64 << 20 });
}
function pmf(cwd: string, ...args: string[]) {
  const r = run(process.execPath, [CLI, ...args], process.env, cwd);
  assert.equal(r.status, 0, `pmf ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}
const which = (b: string) => run('sh', ['-c', `command -v ${b}`]).status === 0;

interface EvalJson {
  protocol: Record<string, unknown>;
  reference: string;
  scores: { n: number; fd: { value: number; meanTerm: number; traceTerm: number } } & Record<string, unknown>;
}

before(() => requireBuilt());

test('docs/slurm/submit.sh: a 4-task array job and its dependent merge give the unsharded FD bit for bit', { timeout: WAIT_MS + 180_000 }, async () => {
  const missing = ['munged', 'munge', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scontrol', 'sinfo'].filter((b) => !which(b));
  assert.deepEqual(missing, [], `Slurm is not installed (missing ${missing.join(', ')}): run ` +
    '`sudo apt-get install slurm-wlm munge` or `sudo scripts/setup-system.sh` (npm test runs every test and skips none)');
  assert.equal(process.getuid?.(), 0, 'the Slurm test starts slurmd, which needs root: run the tests as root');

  const dir = mkdtempSync(join(tmpdir(), 'pmf-slurm-test-'));
  chmodSync(dir, 0o755); // munged wants every folder above its socket searchable by all
  const ref = join(dir, 'ref.npz');
  const out = join(dir, 'out');
  const slurmDir = join(dir, 'slurm');
  try {
    const t0 = Date.now();
    pmf(dir, 'eval-ref', '--net', 'fashion-mnist-classifier', '--fashion-mnist', 'test', '--out', ref, '--keep', '1024');
    pmf(dir, 'eval', 'fashion-mnist', '--net', 'fashion-mnist-classifier', '--ref', ref, '--n', String(N), ...EVAL_ARGS,
      '--state', join(dir, 'unsharded-state.npz'), '--out', join(dir, 'unsharded.json'), '--quiet');
    const unsharded = JSON.parse(readFileSync(join(dir, 'unsharded.json'), 'utf8')) as EvalJson;
    const t1 = Date.now();

    try {
      const started = run('bash', [SLURM_LOCAL, 'start', slurmDir]);
      assert.equal(started.status, 0, `scripts/slurm-local.sh start failed:\n${started.stdout}\n${started.stderr}`);
      const conf = /^export SLURM_CONF=(.+)$/m.exec(started.stdout)?.[1];
      assert.ok(conf && existsSync(conf), `no SLURM_CONF in: ${started.stdout}`);
      const env = { ...process.env, SLURM_CONF: conf };
      const logs = () => {
        const parts = [run('bash', [SLURM_LOCAL, 'logs', slurmDir]).stdout];
        parts.push(run('squeue', ['-a', '-l'], env).stdout);
        for (const f of existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('.out')).sort() : []) {
          parts.push(`----- ${f} -----\n${readFileSync(join(out, f), 'utf8').slice(-4000)}`);
        }
        return parts.join('\n');
      };
      const jobState = (id: string) => /JobState=(\S+)/.exec(run('scontrol', ['-o', 'show', 'job', id], env).stdout)?.[1];
      const sub = run('bash', [SUBMIT], {
        ...env, MODEL: 'fashion-mnist', NET: 'fashion-mnist-classifier', REF: ref, N: String(N), SEED: '0', OUT: out,
        PMF: `${process.execPath} ${CLI}`, PMF_ARGS: EVAL_ARGS.join(' '), SHARDS: String(SHARDS), GPUS: '0',
      }, dir);
      assert.equal(sub.status, 0, `docs/slurm/submit.sh failed:\n${sub.stdout}\n${sub.stderr}\n${logs()}`);
      const ids = /^(\d+) (\d+)$/m.exec(sub.stdout);
      assert.ok(ids, `submit.sh printed no "ARRAY MERGE" job ids: ${sub.stdout}`);
      const [, arrayId, mergeId] = ids;

      const deadline = Date.now() + WAIT_MS;
      let state = jobState(mergeId);
      while (!['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE'].includes(state ?? '')) {
        assert.ok(Date.now() < deadline, `the merge job ${mergeId} is still ${state} after ${WAIT_MS / 1000} s:\n${logs()}`);
        await sleep(500);
        state = jobState(mergeId);
      }
      assert.equal(state, 'COMPLETED', `the merge job ${mergeId} ended ${state}:\n${logs()}`);
      const t2 = Date.now();

      // Every array task ran once, as its own shard, and succeeded.
      const tasks = run('scontrol', ['-o', 'show', 'job', arrayId], env).stdout.trim().split('\n');
      assert.equal(tasks.length, SHARDS, `array ${arrayId}:\n${tasks.join('\n')}`);
      for (const t of tasks) assert.match(t, /JobState=COMPLETED/, t);
      // The merge waited for the whole array (afterok): it started after the last task ended.
      const time = (line: string, key: string) => /\b(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\b/.exec(line.split(`${key}=`)[1] ?? '')?.[1] ?? '';
      const mergeLine = run('scontrol', ['-o', 'show', 'job', mergeId], env).stdout;
      const lastEnd = tasks.map((t) => time(t, 'EndTime')).sort().at(-1) ?? '';
      assert.ok(lastEnd && time(mergeLine, 'StartTime') >= lastEnd, `merge started ${time(mergeLine, 'StartTime')}, before the array's last task ended (${lastEnd})`);
      for (let k = 1; k <= SHARDS; k++) {
        assert.ok(existsSync(join(out, `shard-${k}.npz`)), `shard-${k}.npz missing:\n${logs()}`);
        assert.match(readFileSync(join(out, `slurm-${arrayId}_${k}.out`), 'utf8'), new RegExp(`shard ${k}/${SHARDS} of ${N} samples`));
      }

      const merged = JSON.parse(readFileSync(join(out, 'merged.json'), 'utf8')) as EvalJson;
      console.log(`FD unsharded ${unsharded.scores.fd.value}, merged from ${SHARDS} Slurm tasks ${merged.scores.fd.value}` +
        ` (reference + unsharded ${((t1 - t0) / 1000).toFixed(1)} s, Slurm start to merged ${((t2 - t1) / 1000).toFixed(1)} s)`);
      assert.equal(merged.scores.n, N);
      assert.ok(Object.is(merged.scores.fd.value, unsharded.scores.fd.value),
        `merged FD ${merged.scores.fd.value} != unsharded FD ${unsharded.scores.fd.value}`);
      assert.ok(Number.isFinite(merged.scores.fd.value) && merged.scores.fd.value > 0);
      // The exact merge makes every score, not only the FD, the unsharded run's; the protocol is the same too.
      assert.deepEqual(merged.scores, unsharded.scores);
      assert.deepEqual(merged.protocol, unsharded.protocol);
    } finally {
      const stopped = run('bash', [SLURM_LOCAL, 'stop', slurmDir]);
      assert.equal(stopped.status, 0, `scripts/slurm-local.sh stop failed:\n${stopped.stdout}\n${stopped.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
