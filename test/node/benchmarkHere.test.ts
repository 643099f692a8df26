// "Benchmark here" (src/node/benchmarkHere.ts) on the real engine and onnxruntime-node, with the
// bundled Fashion-MNIST model. Timings are only checked for structure and sign: the machine is shared.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EngineClient, EngineError } from '../../src/engine/client';
import type { Provider } from '../../src/engine/protocol';
import { ALL_PROVIDERS, benchmarkHere, type BenchProgress, formatBenchTable, median } from '../../src/node/benchmarkHere';
import { parseBatchList } from '../../src/core/benchPlan';
import { FromWebview, ToWebview } from '../../src/shared/protocol/inspector';
import { ENGINE, FASHION, requireBuilt } from '../helpers/paths';

let client: EngineClient;
/** A provider this machine cannot run (CUDA without its library, here), if there is one. */
let unavailable: Provider | undefined;

before(async () => {
  requireBuilt();
  client = new EngineClient({ enginePath: ENGINE, env: { PMF_CACHE_DIR: 'off' } });
  const h = await client.hello();
  unavailable = ALL_PROVIDERS.find((p) => !h.providers.available[p].usable);
});

after(async () => {
  await client?.dispose();
});

const positive = (x: number | undefined, what: string) => assert.ok(typeof x === 'number' && Number.isFinite(x) && x > 0, `${what}: ${x}`);

test('median of odd and even counts', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('CPU at batch 1 and 2, two runs each: one row per provider x batch, positive timings, images/s from s/batch',
  { timeout: 120_000 }, async () => {
    const providers: Provider[] = unavailable ? ['cpu', unavailable] : ['cpu'];
    const progress: BenchProgress[] = [];
    const r = await benchmarkHere(client, { modelPath: FASHION, providers, batches: [1, 2], runs: 2, onProgress: (p) => progress.push(p) });
    assert.equal(r.rows.length, providers.length * 2);
    assert.deepEqual(r.rows.map((x) => `${x.provider}/${x.batch}`), providers.flatMap((p) => [`${p}/1`, `${p}/2`]));
    assert.equal(r.runs, 2);
    assert.deepEqual(r.batches, [1, 2]);
    assert.equal(r.kind, 'image');
    assert.equal(r.omega, 2, "the model's default guidance");

    const cpu = r.providers.find((p) => p.provider === 'cpu')!;
    assert.equal(cpu.ok, true);
    positive(cpu.loadS, 'load s');
    assert.equal(cpu.alreadyLoaded, false);
    assert.equal(cpu.modelCache?.state, 'unused', 'the cache is off in this test');
    if (process.platform === 'linux') positive(cpu.rssBytes, 'engine RSS');
    for (const row of r.rows.filter((x) => x.provider === 'cpu')) {
      assert.equal(row.ok, true, row.error);
      assert.equal(row.runsS?.length, 2);
      for (const s of row.runsS) positive(s, 'a run');
      positive(row.medianS, 'median');
      positive(row.minS, 'min');
      positive(row.engineMedianS, 'engine median');
      assert.ok(row.minS! <= row.medianS!, `min ${row.minS} <= median ${row.medianS}`);
      assert.equal(row.minS, Math.min(...row.runsS));
      positive(row.imagesPerS, 'images/s');
      assert.ok(Math.abs(row.imagesPerS! * row.medianS! - row.batch) < 1e-9 * row.batch, 'images/s = batch / median s');
      assert.equal(row.loadS, cpu.loadS);
    }

    if (unavailable) {
      const p = r.providers.find((x) => x.provider === unavailable)!;
      assert.equal(p.ok, false);
      assert.match(p.error!, new RegExp(unavailable));
      assert.equal(p.errorCode, 'provider');
      for (const row of r.rows.filter((x) => x.provider === unavailable)) {
        assert.equal(row.ok, false);
        assert.equal(row.errorCode, 'provider');
        assert.ok(row.error && row.error.length > 10);
        assert.equal(row.medianS, undefined);
      }
      assert.ok(r.notOffered.some((n) => n.provider === unavailable), 'the report says the machine does not offer it');
    }

    // progress: a load and 2 x (warm-up + 2 runs) per provider, counted to the end
    assert.ok(progress.length > 0);
    assert.equal(progress.at(-1)!.total, providers.length * (1 + 2 * 3));
    assert.ok(progress.some((p) => p.provider === 'cpu' && p.batch === 2 && /run 2 of 2/.test(p.message)));
    assert.ok(progress.every((p, i) => i === 0 || p.done >= progress[i - 1].done), 'done never goes back');

    // what the inspector panel gets: the result passes its schema, through JSON as webview messages go
    const msg = ToWebview.parse(JSON.parse(JSON.stringify(ToWebview.parse({ type: 'bench', result: r }))));
    assert.ok(msg.type === 'bench');
    assert.equal(msg.result.rows.length, r.rows.length);
    assert.equal(msg.result.rows[0].medianS, r.rows[0].medianS);

    const table = formatBenchTable(r);
    assert.match(table, /Fashion-MNIST/);
    assert.match(table, /^cpu\s+\d/m);
    if (unavailable) assert.match(table, new RegExp(`^error: ${unavailable}: `, 'm'));
  });

test('by default every provider the engine offers is measured, and those it does not offer are listed', { timeout: 180_000 }, async () => {
  const h = await client.hello();
  const offered = ALL_PROVIDERS.filter((p) => h.providers.available[p].usable);
  const r = await benchmarkHere(client, { modelPath: FASHION, batches: [1], runs: 1 });
  assert.deepEqual(r.providers.map((p) => p.provider), offered);
  assert.deepEqual(r.notOffered.map((p) => p.provider), ALL_PROVIDERS.filter((p) => !offered.includes(p)));
  assert.equal(r.rows.length, offered.length);
  assert.ok(r.rows.find((x) => x.provider === 'cpu')?.ok);
});

test('a model the engine already holds is timed and left loaded', { timeout: 60_000 }, async () => {
  const load = await client.load(FASHION, 'cpu');
  const r = await benchmarkHere(client, { modelPath: FASHION, providers: ['cpu'], batches: [1], runs: 1 });
  assert.equal(r.providers[0].alreadyLoaded, true);
  assert.ok(r.rows[0].ok);
  // still there for whoever loaded it
  const g = await client.generate({ modelId: load.modelId, seeds: [1], labels: [1], steps: 1, omega: 1, tMin: 0, tMax: 1, batchSize: 1 });
  assert.equal(g.samples.length, 28 * 28);
  await client.unload(load.modelId);
});

test('a cancel stops the benchmark with a cancelled error; the engine stays usable', { timeout: 60_000 }, async () => {
  const ac = new AbortController();
  const run = benchmarkHere(client, {
    modelPath: FASHION, providers: ['cpu'], batches: [1], runs: 1000, signal: ac.signal,
    onProgress: (p) => {
      if (/run 3 of/.test(p.message)) ac.abort();
    },
  });
  await assert.rejects(run, (e: unknown) => e instanceof EngineError && e.code === 'cancelled');
  const r = await benchmarkHere(client, { modelPath: FASHION, providers: ['cpu'], batches: [1], runs: 1 });
  assert.ok(r.rows[0].ok);
});

test('batch lists parse; the panel\'s benchmark message is bounded', () => {
  assert.deepEqual(parseBatchList('1, 4,4 16'), [1, 4, 16]);
  assert.throws(() => parseBatchList('1,x'), /positive integers separated by commas/);
  assert.throws(() => parseBatchList(''), /positive integers/);
  assert.ok(FromWebview.safeParse({ type: 'benchmark' }).success);
  assert.ok(FromWebview.safeParse({ type: 'benchmark', batches: [1, 4], runs: 5 }).success);
  for (const bad of [{ runs: 0 }, { runs: 1001 }, { batches: [] }, { batches: [0] }, { batches: [5000] }, { batches: [1.5] }]) {
    assert.equal(FromWebview.safeParse({ type: 'benchmark', ...bad }).success, false, JSON.stringify(bad));
  }
});

test('bad plans are refused with what is allowed', async () => {
  await assert.rejects(benchmarkHere(client, { modelPath: FASHION, batches: [0] }), /batch size is an integer from 1/);
  await assert.rejects(benchmarkHere(client, { modelPath: FASHION, runs: 0 }), /Runs is an integer from 1/);
  await assert.rejects(benchmarkHere(client, { modelPath: FASHION, batches: [] }), /at least one batch size/);
});

test('a file that is no model gives error rows that name it, not a throw', { timeout: 60_000 }, async () => {
  const missing = `${FASHION}.missing.onnx`;
  const r = await benchmarkHere(client, { modelPath: missing, providers: ['cpu'], batches: [1, 2], runs: 1 });
  assert.equal(r.rows.length, 2);
  for (const row of r.rows) {
    assert.equal(row.ok, false);
    assert.ok(row.error?.includes('model.onnx.missing.onnx'), row.error);
  }
});
