// The engine process: owns onnxruntime-node and answers the requests of protocol.ts.
// It runs as a child of the extension host (or the CLI), so a native fault in onnxruntime
// or a GPU driver takes down this process only; the client restarts it.
import * as ort from 'onnxruntime-node';
import {
  type CancellationToken,
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
  ResponseError,
} from 'vscode-jsonrpc/node';
import { CancelledError } from '../core/sampler';
import { EngineFailure } from './errors';
import { generate } from './generate';
import {
  Crash,
  type EngineErrorData,
  Generate,
  Hello,
  LoadModel,
  Progress,
  Run,
  UnloadModel,
  VizConsistency,
  VizFieldsAt,
  VizFrameData,
  VizMeasure,
  VizMeasured,
  VizTrajectory,
} from './protocol';
import { providerReport } from './providers';
import { SessionCache } from './sessions';
import { Visualizer } from './visualize';

if (!process.send) {
  process.stderr.write('The pMF engine is started by the extension or the CLI (it needs an IPC channel).\n');
  process.exit(2);
}

/** JSON-RPC's code for a cancelled request (LSP's RequestCancelled). */
const REQUEST_CANCELLED = -32800;

const connection = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
const cache = new SessionCache();
const visualizer = new Visualizer(cache);

function toResponseError(e: unknown): ResponseError<EngineErrorData> {
  if (e instanceof ResponseError) return e;
  if (e instanceof CancelledError) {
    return new ResponseError(REQUEST_CANCELLED, 'Cancelled', { code: 'cancelled' });
  }
  if (e instanceof EngineFailure) return new ResponseError(1, e.message, { code: e.code });
  return new ResponseError(2, e instanceof Error ? e.message : String(e), { code: 'runtime' });
}

/** Wraps a handler so failures reach the client as coded ResponseErrors. */
function handle<P, R>(fn: (p: P, token: CancellationToken) => Promise<R> | R) {
  return async (p: P, token: CancellationToken): Promise<R | ResponseError<EngineErrorData>> => {
    try {
      return await fn(p, token);
    } catch (e) {
      return toResponseError(e);
    }
  };
}

function abortSignal(token: CancellationToken): AbortSignal {
  const ac = new AbortController();
  if (token.isCancellationRequested) ac.abort();
  token.onCancellationRequested(() => ac.abort());
  return ac.signal;
}

connection.onRequest(Hello, () => ({
  pid: process.pid,
  onnxruntimeVersion: ort.env.versions?.common ?? 'unknown',
  nodeVersion: process.version,
  platform: `${process.platform}-${process.arch}`,
  providers: providerReport(),
}));

connection.onRequest(LoadModel, handle(async (p) => {
  const { model, cached } = await cache.load(p.path, p.provider, p.threads ?? 0);
  return { modelId: model.id, info: model.info, provider: model.provider, skipped: model.skipped, loadMs: model.loadMs, cached };
}));

connection.onRequest(Generate, handle(async (p, token) => {
  const model = cache.get(p.modelId);
  const t0 = performance.now();
  const samples = await generate(cache, model, p, abortSignal(token), (done, total) => {
    if (p.progressToken) void connection.sendNotification(Progress, { token: p.progressToken, done, total });
  });
  return { samples, sampleShape: model.info.sampleShape, provider: model.provider, ms: performance.now() - t0 };
}));

connection.onRequest(Run, handle(async (p) => {
  const model = cache.get(p.modelId);
  const t0 = performance.now();
  const { data, dims } = await cache.run(model, p.feeds);
  return { output: data, dims, ms: performance.now() - t0 };
}));

connection.onRequest(UnloadModel, handle(async (p) => {
  await cache.unload(p.modelId);
}));

/** Reports progress under `token` (when the client gave one). */
const progressOf = (token: string | undefined) => (done: number, total: number) => {
  if (token) void connection.sendNotification(Progress, { token, done, total });
};

connection.onRequest(VizTrajectory, handle((p, token) => visualizer.trajectory(cache.get(p.modelId), p, abortSignal(token),
  progressOf(p.progressToken))));
connection.onRequest(VizMeasure, handle((p, token) => visualizer.measure(p.trajectoryId, p.patchSize, abortSignal(token),
  (frame, frames, patchDim, measurement) => {
    if (p.progressToken) void connection.sendNotification(VizMeasured, { token: p.progressToken, frame, frames, patchDim, measurement });
  })));
connection.onRequest(VizFieldsAt, handle((p) => visualizer.fieldsAt(p)));
connection.onRequest(VizConsistency, handle((p, token) => visualizer.consistency(p.trajectoryId, p.fineSteps, abortSignal(token),
  progressOf(p.progressToken))));
connection.onRequest(VizFrameData, handle((p) => visualizer.frameData(p.trajectoryId, p.frame)));

connection.onRequest(Crash, () => {
  if (process.env.PMF_ENGINE_TEST !== '1') return toResponseError(new EngineFailure('bad-request', 'engine/crash is a test hook'));
  process.abort();
});

// The parent went away: nothing left to serve.
process.on('disconnect', () => process.exit(0));
connection.listen();
