// Explore Guidance without a VS Code: the grid's cells (src/shared/protocol/guidance.ts), the
// text fields' parsers, the workspace defaults "Use these settings" saves and what Generate
// Samples and the Field Visualizer then start with (guidanceDefaults.ts), and the command lines
// it copies (commandLines.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evalCommand, generateCommand } from '../../src/extension/guidance/commandLines';
import { clearDefaults, DEFAULTS_KEY, saveDefaults, savedDefaults, startingSettings } from '../../src/extension/guidance/guidanceDefaults';
import {
  cellAt, cellKey, clampSelection, defaultGuidanceConfig, GuidanceConfig, gridShape, type ModelView, parseIntervals, parseNumbers,
} from '../../src/shared/protocol/guidance';

const model: ModelView = { name: 'Fashion-MNIST pMF', path: '/m/model.onnx', spec: 'fashion-mnist', provider: 'cpu', numClasses: 10,
  classNames: Array.from({ length: 10 }, (_, i) => `c${i}`), sampleShape: [1, 28, 28], defaultSampling: { steps: 1, omega: 2, tMin: 0, tMax: 1 } };

/** vscode.Memento's get and update, in memory. */
function memento(init: Record<string, unknown> = {}) {
  const store = new Map(Object.entries(init));
  return {
    store,
    keys: () => [...store.keys()],
    get: <T>(key: string, fallback?: T) => (store.has(key) ? store.get(key) as T : fallback) as T,
    update: async (key: string, value: unknown) => {
      store.set(key, JSON.parse(JSON.stringify(value)));
    },
  };
}

test('the default grid: 5 omegas (the model\'s among them, selected) by 8 seeds cycling through the classes', () => {
  const c = defaultGuidanceConfig(model);
  assert.ok(GuidanceConfig.safeParse(c).success);
  assert.deepEqual(c.omegas, [1, 1.5, 2, 3, 4]);
  assert.deepEqual(gridShape(c), { rows: 5, cols: 8 });
  assert.deepEqual(c.selected, { row: 2, col: 0 });
  assert.deepEqual(cellAt(c, 3, 5), { omega: 3, tMin: 0, tMax: 1, seed: 5, label: 5 });
  // same seeds and classes in every row
  for (let r = 0; r < 5; r++) assert.equal(cellAt(c, r, 6).seed, 6);
  // a model whose default omega is off the list gets it in, in order
  assert.deepEqual(defaultGuidanceConfig({ ...model, defaultSampling: { steps: 1, omega: 7, tMin: 0.2, tMax: 0.8 } }).omegas, [1, 1.5, 3, 4, 7]);
});

test('columns of intervals: one seed and class, each column its interval; the selection stays inside the grid', () => {
  const c: GuidanceConfig = { ...defaultGuidanceConfig(model), columns: 'intervals', intervals: [{ tMin: 0, tMax: 1 }, { tMin: 0.2, tMax: 0.6 }],
    selected: { row: 4, col: 7 } };
  assert.deepEqual(gridShape(c), { rows: 5, cols: 2 });
  assert.deepEqual(cellAt(c, 1, 1), { omega: 1.5, tMin: 0.2, tMax: 0.6, seed: 0, label: 0 });
  assert.deepEqual(clampSelection(c), { row: 4, col: 1 });
  // a cell's key names everything its image depends on
  assert.notEqual(cellKey(cellAt(c, 1, 1), 1, 1), cellKey(cellAt(c, 1, 1), 1, 0.9));
  assert.notEqual(cellKey(cellAt(c, 1, 1), 1, 1), cellKey(cellAt(c, 1, 0), 1, 1));
  assert.equal(cellKey(cellAt(c, 1, 1), 2, 1), cellKey({ ...cellAt(c, 1, 1) }, 2, 1));
});

test('the text fields: omegas, seeds and intervals, or why not', () => {
  assert.deepEqual(parseNumbers('1, 1.5  2', 1, 10, 8), [1, 1.5, 2]);
  assert.match(parseNumbers('1, 0.5', 1, 10, 8) as string, /0\.5: numbers from 1 to 10/);
  assert.match(parseNumbers('1.5', 0, 9, 8, true) as string, /integers/);
  assert.match(parseNumbers('1,2,3', 1, 10, 2) as string, /At most 2/);
  assert.match(parseNumbers(' ', 1, 10, 2) as string, /at least one/);
  assert.deepEqual(parseIntervals('0-1, 0.2 - 0.8', 4), [{ tMin: 0, tMax: 1 }, { tMin: 0.2, tMax: 0.8 }]);
  assert.match(parseIntervals('0.8-0.2', 4) as string, /t_min <= t_max/);
  assert.match(parseIntervals('0-1.5', 4) as string, /<= 1/);
});

test('"Use these settings" saves per model in the workspace; Generate Samples and the visualizer start with them', async () => {
  const ws = memento();
  const info = { defaultSampling: { steps: 1, omega: 2, tMin: 0, tMax: 1 }, hasCfg: true };
  assert.deepEqual(startingSettings(ws, '/m/a.onnx', info), { settings: info.defaultSampling, source: 'model' });
  await saveDefaults(ws, '/m/a.onnx', { steps: 1, omega: 3, tMin: 0.1, tMax: 0.9 });
  await saveDefaults(ws, '/m/b.onnx', { steps: 2, omega: 1.5, tMin: 0, tMax: 1 });
  assert.deepEqual(startingSettings(ws, '/m/a.onnx', info), { settings: { steps: 1, omega: 3, tMin: 0.1, tMax: 0.9 }, source: 'explored' });
  assert.deepEqual(savedDefaults(ws, '/m/b.onnx'), { steps: 2, omega: 1.5, tMin: 0, tMax: 1 });
  // a model without guidance inputs keeps its own guidance; only the steps apply
  assert.deepEqual(startingSettings(ws, '/m/b.onnx', { ...info, hasCfg: false }).settings, { steps: 2, omega: 2, tMin: 0, tMax: 1 });
  // invalid settings are refused and nothing changes
  await assert.rejects(saveDefaults(ws, '/m/a.onnx', { steps: 1, omega: 0.5, tMin: 0, tMax: 1 }));
  await assert.rejects(saveDefaults(ws, '/m/a.onnx', { steps: 1, omega: 2, tMin: 0.9, tMax: 0.1 }), /t_min <= t_max/);
  assert.equal(savedDefaults(ws, '/m/a.onnx')?.omega, 3);
  // an entry of another shape (an older version's) is ignored, not trusted
  ws.store.set(DEFAULTS_KEY, { ...(ws.store.get(DEFAULTS_KEY) as object), '/m/c.onnx': { omega: 'high' } });
  assert.equal(savedDefaults(ws, '/m/c.onnx'), undefined);
  await clearDefaults(ws, '/m/a.onnx');
  assert.equal(savedDefaults(ws, '/m/a.onnx'), undefined);
  assert.equal(savedDefaults(ws, '/m/b.onnx')?.omega, 1.5);
});

test('the command lines: pmf generate and pmf eval of the setting, quoted for a shell', () => {
  const settings = { steps: 1, omega: 3, tMin: 0, tMax: 0.75 };
  assert.equal(generateCommand({ modelSpec: 'fashion-mnist', settings, hasCfg: true }),
    'pmf generate --model fashion-mnist --steps 1 --omega 3 --t-min 0 --t-max 0.75');
  assert.equal(evalCommand({ modelSpec: "/my models/it's.onnx", settings, hasCfg: true, net: 'fashion-mnist-classifier', reference: '/w/ref.npz' }),
    "pmf eval '/my models/it'\\''s.onnx' --net fashion-mnist-classifier --ref /w/ref.npz --n 10000 --seed 0 --steps 1 --omega 3 --t-min 0 --t-max 0.75");
  assert.equal(evalCommand({ modelSpec: 'm.onnx', settings, hasCfg: false }), 'pmf eval m.onnx --net NET.onnx --ref REF.npz --n 10000 --seed 0 --steps 1');
});

test('"Use these settings" keeps the noise scale; entries saved without one load as 1; the command lines carry --noise-scale', async () => {
  const info = { defaultSampling: { steps: 1, omega: 2, tMin: 0, tMax: 1 }, hasCfg: true };
  // an entry from before the noise scale was saved: it loads, with the model's own noise (no noiseScale)
  const ws = memento({ [DEFAULTS_KEY]: { '/m/old.onnx': { steps: 1, omega: 3, tMin: 0, tMax: 1 } } });
  assert.deepEqual(startingSettings(ws, '/m/old.onnx', info), { settings: { steps: 1, omega: 3, tMin: 0, tMax: 1 }, source: 'explored' });
  const saved = await saveDefaults(ws, '/m/a.onnx', { steps: 1, omega: 3, tMin: 0, tMax: 1, noiseScale: 0.7 });
  assert.deepEqual(saved, { steps: 1, omega: 3, tMin: 0, tMax: 1, noiseScale: 0.7 });
  assert.deepEqual(startingSettings(ws, '/m/a.onnx', info).settings, saved);
  // a model without guidance inputs: the steps and the noise scale apply
  assert.deepEqual(startingSettings(ws, '/m/a.onnx', { ...info, hasCfg: false }).settings, { steps: 1, omega: 2, tMin: 0, tMax: 1, noiseScale: 0.7 });
  // 1 is the model's own noise: saved as no noise scale at all
  assert.deepEqual(await saveDefaults(ws, '/m/b.onnx', { steps: 1, omega: 3, tMin: 0, tMax: 1, noiseScale: 1 }), { steps: 1, omega: 3, tMin: 0, tMax: 1 });
  assert.equal(savedDefaults(ws, '/m/old.onnx')?.omega, 3, 'the older entry is still there');
  // out of the slider's range: refused, nothing saved
  await assert.rejects(saveDefaults(ws, '/m/a.onnx', { steps: 1, omega: 3, tMin: 0, tMax: 1, noiseScale: 3 }));
  assert.equal(savedDefaults(ws, '/m/a.onnx')?.noiseScale, 0.7);
  assert.equal(generateCommand({ modelSpec: 'fashion-mnist', settings: saved, hasCfg: true }),
    'pmf generate --model fashion-mnist --steps 1 --omega 3 --t-min 0 --t-max 1 --noise-scale 0.7');
  assert.match(evalCommand({ modelSpec: 'fashion-mnist', settings: saved, hasCfg: true }), / --t-max 1 --noise-scale 0\.7$/);
  assert.equal(generateCommand({ modelSpec: 'm.onnx', settings: { ...saved, noiseScale: 1 }, hasCfg: false }), 'pmf generate --model m.onnx --steps 1');
});
