// A stand-in for VS Code's extension host in the lifetime tests (test/engine/lifetime.test.ts):
// a Node process that forks the engine through EngineClient, as src/extension/extension.ts does,
// loads MODEL and starts one generation of BATCH samples in one batch (one step, guidance OMEGA),
// then waits to be killed; with BATCH 0 it only loads the model and leaves the engine idle.
// It reports on stdout, one JSON object a line: {"event":"loaded","enginePid":...},
// {"event":"generating"}, then {"event":"progress"} per finished network call and {"event":"done"}.
//   node out/test/helpers/engineHost.js MODEL BATCH OMEGA
import { EngineClient } from '../../src/engine/client';
import { ENGINE } from './paths';

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(model: string, batch: number, omega: number): Promise<void> {
  const client = new EngineClient({ enginePath: ENGINE, log: (m) => process.stderr.write(`[engine] ${m}\n`) });
  const { modelId } = await client.load(model, 'cpu');
  say({ event: 'loaded', enginePid: client.pid });
  if (batch === 0) {
    setInterval(() => {}, 60_000); // idle until killed
    return;
  }
  const seeds = Array.from({ length: batch }, (_, i) => i);
  say({ event: 'generating' });
  await client.generate({ modelId, seeds, labels: seeds.map((s) => s % 10), steps: 1, omega, tMin: 0, tMax: 1, batchSize: batch },
    undefined, () => say({ event: 'progress' }));
  say({ event: 'done' });
  await client.dispose();
}

const [model, batch, omega] = process.argv.slice(2);
if (!model || !(Number(batch) >= 0) || !(Number(omega) >= 1)) {
  process.stderr.write('usage: node engineHost.js MODEL BATCH OMEGA\n');
  process.exit(2);
}
main(model, Number(batch), Number(omega)).catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
