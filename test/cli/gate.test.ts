// The checkpoint gate proved against PyTorch itself: trainer/tools/gate_corpus.py builds benign
// and hostile files with this machine's PyTorch and records what torch.load really does with each
// (every hostile payload writes a marker file, so "ran code" is observed, not assumed). Then the
// real `pmf inspect` runs on every file, and the README's promise
//     pmf inspect downloaded.pt && python train.py --resume downloaded.pt
// is checked both ways: every file it passes (exit 0) loads without running code, and every file
// that runs code under torch.load is refused with exit 5.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI, REPO, requireBuilt } from '../helpers/paths';

const PYTHON = process.env.PMF_PYTHON ?? '/usr/bin/python3';

interface Entry {
  name: string;
  hostile: boolean;
  ran_code: boolean;
  loads_plain: boolean;
  loads_weights: boolean;
  weights_ran_code: boolean;
  loads_pickle: boolean;
  pickle_ran_code: boolean;
  error: string;
}

interface Corpus {
  dir: string;
  manifest: { torch: string; files: Entry[] };
  verdicts: Map<string, { code: number; out: string; err: string }>;
}

/** PyTorch 2.x in the Debian 13 root of scripts/check-torch2.sh (CI builds it as root before these tests). */
const TORCH2_ROOT = process.env.PMF_TORCH2_ROOT ?? '/var/cache/pmf-lab/torch2-trixie';
const corpora: Corpus[] = [];
let dir = '';
let manifest: Corpus['manifest'];
let verdicts: Corpus['verdicts'];

function judge(corpusDir: string): Corpus {
  const m = JSON.parse(readFileSync(join(corpusDir, 'manifest.json'), 'utf8')) as Corpus['manifest'];
  const v = new Map<string, { code: number; out: string; err: string }>();
  for (const f of m.files) {
    const r = spawnSync(process.execPath, [CLI, 'inspect', join(corpusDir, f.name)], { encoding: 'utf8', timeout: 60_000 });
    v.set(f.name, { code: r.status ?? -1, out: r.stdout, err: r.stderr });
  }
  return { dir: corpusDir, manifest: m, verdicts: v };
}

before(() => {
  requireBuilt();
  dir = mkdtempSync(join(tmpdir(), 'pmf-gate-'));
  const built = spawnSync(PYTHON, [join(REPO, 'trainer', 'tools', 'gate_corpus.py'), dir], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(built.status, 0, `gate_corpus.py failed: ${built.stderr}`);
  ({ manifest, verdicts } = corpora[corpora.push(judge(dir)) - 1]);
  if (existsSync(join(TORCH2_ROOT, '.pmf-lab-packages')) && process.getuid?.() === 0) {
    // The same corpus built and loaded by PyTorch 2.x (its own torch.save, weights_only=True by default), inside its root.
    mkdirSync(join(REPO, 'tmp'), { recursive: true });
    const inRepo = mkdtempSync(join(REPO, 'tmp', 'gate-torch2-'));
    const rel = inRepo.slice(REPO.length + 1);
    const r = spawnSync('bash', [join(REPO, 'scripts', 'torch2-exec.sh'), `python3 trainer/tools/gate_corpus.py /repo/${rel}`],
      { encoding: 'utf8', timeout: 300_000, env: { ...process.env, PMF_TORCH2_ROOT: TORCH2_ROOT } });
    assert.equal(r.status, 0, `gate_corpus.py under PyTorch 2.x failed: ${r.stderr}`);
    corpora.push(judge(inRepo));
  } else {
    // The full test command (scripts/test.sh sets PMF_FULL_TEST) checks both PyTorch versions or fails.
    assert.ok(!process.env.PMF_FULL_TEST, `the PyTorch 2.x root is missing at ${TORCH2_ROOT} (or this is not root): ` +
      'build it with sudo bash scripts/check-torch2.sh, and run the tests as root (this test enters that root with chroot)');
    // Said, not hidden: run by hand without the root (not root, or scripts/check-torch2.sh not run) only this PyTorch is checked.
    console.log(`# gate: PyTorch 2.x root not available at ${TORCH2_ROOT}: the corpus is checked on this machine's PyTorch only`);
  }
});

after(() => {
  for (const c of corpora) rmSync(c.dir, { recursive: true, force: true });
});

test('the corpus is what it claims: the hostile files run code under this PyTorch, the benign ones load', () => {
  assert.ok(manifest.files.length >= 30, `${manifest.files.length} files`);
  const benign = manifest.files.filter((f) => !f.hostile);
  for (const f of benign) {
    assert.ok(!f.ran_code && !f.weights_ran_code && !f.pickle_ran_code, `${f.name} ran code`);
    assert.ok(f.loads_plain || f.loads_pickle, `${f.name} does not load: ${f.error}`);
  }
  // Of the two copies of a duplicated data.pkl, torch.load runs one: the corpus has it in both places.
  const ran = new Set(manifest.files.filter((f) => f.ran_code).map((f) => f.name));
  for (const name of [
    'evil-reduce.pt', 'evil-numpy-runstring.pt', 'evil-duplicate-first.pt', 'evil-local-header.pt', 'evil-nested-load.pt',
    'evil-legacy-magic-long4.pt', 'evil-legacy-magic-text.pt', 'evil-legacy-version-octal.pt', 'evil-legacy-in-magic.pt',
    'evil-legacy-in-version.pt', 'evil-legacy-in-sysinfo.pt', 'evil-legacy-in-object.pt', 'evil-legacy-in-keys.pt',
    'evil-protocol0.pt', 'evil-protocol0-builtin.pt', 'evil-inst.pt', 'evil-obj.pt', 'evil-stack-global-computed.pt',
    'evil-truncated-after-call.pt', 'evil-tar.pt',
  ]) {
    assert.ok(ran.has(name), `${name} was meant to run code under torch ${manifest.torch} but did not`);
  }
});

test('every file that runs code under torch.load or pickle.load is refused with exit code 5, and says why (each PyTorch)', () => {
  for (const c of corpora) {
    const ran = c.manifest.files.filter((x) => x.ran_code || x.weights_ran_code || x.pickle_ran_code);
    assert.ok(ran.length >= 20, `torch ${c.manifest.torch}: ${ran.length} files ran code`);
    for (const f of ran) {
      const v = c.verdicts.get(f.name)!;
      assert.equal(v.code, 5, `torch ${c.manifest.torch}: ${f.name}: pmf inspect exited ${v.code}\n${v.out}${v.err}`);
      assert.match(v.out + v.err, /DANGER|is refused/, f.name);
      assert.ok((v.out + v.err).includes(f.name), `${f.name}: the message names the file`);
    }
  }
});

test('every file pmf inspect passes (exit 0) loads without running code (each PyTorch)', () => {
  for (const c of corpora) {
    const passed = c.manifest.files.filter((f) => c.verdicts.get(f.name)!.code === 0);
    assert.ok(passed.length >= 10, `torch ${c.manifest.torch}: ${passed.length} files passed`);
    for (const f of passed) {
      assert.ok(!f.ran_code && !f.weights_ran_code && !f.pickle_ran_code, `torch ${c.manifest.torch}: ${f.name} passed the gate but runs code`);
      assert.ok(f.loads_plain || f.loads_weights || f.loads_pickle, `${f.name} passed the gate but loads in none of the ways: ${f.error}`);
    }
  }
});

test('the duplicated, case-folded, outside-folder and local-header archives are refused as ambiguous, whichever copy torch reads', () => {
  for (const name of ['evil-duplicate-first.pt', 'evil-duplicate-second.pt', 'evil-duplicate-case.pt', 'evil-outside-folder.pt', 'evil-local-header.pt']) {
    const v = verdicts.get(name)!;
    assert.equal(v.code, 5, name);
    assert.match(v.err, new RegExp(`${name.replace(/\./g, '\\.')} is refused: .*PyTorch and pMF Lab could read different contents`), name);
  }
});

test('--compare reports the findings of both files and fails when either is dangerous', () => {
  const r = spawnSync(process.execPath, [CLI, 'inspect', join(dir, 'benign-zip.pt'), '--compare', join(dir, 'evil-reduce.pt')], { encoding: 'utf8' });
  assert.equal(r.status, 5, r.stderr);
  assert.match(r.stdout, /evil-reduce\.pt: DANGER: Unsafe global __builtin__\.exec \(executes Python code\)/);
  const j = spawnSync(process.execPath, [CLI, 'inspect', join(dir, 'evil-numpy-runstring.pt'), '--compare', join(dir, 'benign-zip.pt'), '--json'], { encoding: 'utf8' });
  assert.equal(j.status, 5, j.stderr);
  const out = JSON.parse(j.stdout) as { findings: { a: Array<{ severity: string; message: string }>; b: unknown[] } };
  assert.ok(out.findings.a.some((f) => f.severity === 'danger' && /numpy\.testing\._private\.utils\.runstring/.test(f.message)));
  const ok = spawnSync(process.execPath, [CLI, 'inspect', join(dir, 'benign-zip.pt'), '--compare', join(dir, 'benign-zip-proto4.pt')], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
});
