// The checkpoint fuzzer (bench/fuzz.ts) as a CI smoke run: a fixed seed, a few hundred mutated and
// hostile inputs per format (about two minutes on two cores), none of which may crash
// inspectCheckpoint or its statistics, hang past the budget, end in an undocumented outcome, throw a
// message that does not name the file or quotes JavaScript internals, or make the real CLI exit with
// anything but 0, 3 or 5. The full run (10,000 per format) is `node out/bench/fuzz.js`.
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { formatTable, runFuzz } from '../../bench/fuzz';
import { FORMATS, inputName, loadFixtures, makeInput } from '../../bench/fuzzInputs';
import { REPO, requireBuilt } from '../helpers/paths';

before(() => requireBuilt());

test('every input is a pure function of (seed, format, index)', () => {
  const a = loadFixtures(REPO);
  const b = loadFixtures(REPO);
  for (const format of FORMATS) {
    for (const index of [0, 1, 17, 123]) {
      const x = makeInput(a, format, 7, index);
      const y = makeInput(b, format, 7, index);
      assert.deepEqual(Buffer.from(x.bytes), Buffer.from(y.bytes), `${format} #${index}`);
      assert.equal(x.how, y.how);
    }
    assert.notDeepEqual(Buffer.from(makeInput(a, format, 7, 0).bytes), Buffer.from(makeInput(a, format, 8, 0).bytes), `${format}: the seed matters`);
  }
  assert.equal(inputName('pytorch-zip', 42), 'fz-pytorch-zip-000042.pt');
});

test('fuzz smoke run: no crash, no hang, documented outcomes only, messages that name the file', { timeout: 400_000 }, async () => {
  const reproDir = join(tmpdir(), 'pmf-fuzz-smoke');
  const report = await runFuzz({
    perFormat: 800,
    seconds: 110,
    seed: 1,
    // The quick formats first: the time they leave goes to ONNX and safetensors.
    formats: ['pytorch-zip', 'torchscript', 'pytorch-legacy', 'pickle', 'safetensors', 'onnx'],
    workers: 2,
    // A hang is no answer within the budget (2 s) plus this: generous, for shared CI machines.
    marginMs: 10_000,
    cliSample: 0.01,
    cliMax: 3,
    reproDir,
    minimize: false,
    log: () => {},
  });
  const failures = report.formats.flatMap((f) => f.failures);
  const detail = failures
    .map((f) => `${f.format} #${f.index} (${f.code}): ${f.problems[0]?.slice(0, 240)}\n    ${f.how.slice(0, 160)}\n    ${f.repro ?? ''}`)
    .join('\n');
  for (const f of report.formats) {
    assert.ok(f.inputs >= 100, `${f.format}: only ${f.inputs} inputs ran in the time given`);
    assert.ok(f.cli.runs >= 1, `${f.format}: the CLI sample did not run`);
  }
  assert.equal(report.failed, false, `the fuzzer found failures (reproducers in ${reproDir}; rerun one with node out/bench/fuzz.js --seed 1 --format F --only INDEX):\n${formatTable(report)}\n${detail}`);
});
