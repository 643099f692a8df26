// The engine process: owns onnxruntime-node and answers the requests of protocol.ts.
// It runs as a child of the extension host (or the CLI), so a native fault in onnxruntime
// or a GPU driver takes down this process only; the client restarts it. It ends with its
// parent, even in the middle of a long run (see watchParent below and docs/design.md).
import { Worker } from 'node:worker_threads';
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
import { evalSamples, netFeatures } from './evalJob';
import { generate } from './generate';
import {
  Crash,
  type EngineErrorData,
  EvalSamples,
  Generate,
  Hello,
  LoadFeatureNet,
  LoadModel,
  LoadProgress,
  NetFeatures,
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

/** A ResponseError that already carries an engine error code (others are answered as 'runtime'). */
function isCodedResponseError(e: unknown): e is ResponseError<EngineErrorData> {
  return e instanceof ResponseError && typeof (e.data as Partial<EngineErrorData> | undefined)?.code === 'string';
}

function toResponseError(e: unknown): ResponseError<EngineErrorData> {
  if (isCodedResponseError(e)) return e;
  if (e instanceof CancelledError) {
    return new ResponseError(REQUEST_CANCELLED, 'Cancelled', { code: 'cancelled' });
  }
  if (e instanceof EngineFailure) return new ResponseError(1, e.message, { code: e.code });
  return new ResponseError(2, e instanceof Error ? e.message : String(e), { code: 'runtime' });
}

/**
 * Wraps a handler so failures reach the client as coded ResponseErrors, and counts it as in
 * flight for the parent watchdog (watchParent) while it runs.
 */
function handle<P, R>(fn: (p: P, token: CancellationToken) => Promise<R> | R) {
  return async (p: P, token: CancellationToken): Promise<R | ResponseError<EngineErrorData>> => {
    const end = working();
    try {
      return await fn(p, token);
    } catch (e) {
      return toResponseError(e);
    } finally {
      end();
    }
  };
}

function abortSignal(token: CancellationToken): AbortSignal {
  const ac = new AbortController();
  if (token.isCancellationRequested) ac.abort();
  token.onCancellationRequested(() => ac.abort());
  return ac.signal;
}

// ---- lifetime: the engine ends with its parent --------------------------------------------
// A parent that exits or is killed (kill -9 of `pmf generate`, a crashed extension host) closes
// the IPC channel, and 'disconnect' ends the engine, but only when this thread gets back to its
// event loop. onnxruntime-node runs session.run synchronously on this thread (its run() only
// defers the call with setImmediate), so during one long call (a big batch, a 256 x 256 model on
// the CPU) 'disconnect' waits for the call to end: tens of seconds of busy cores, measured 39 s
// for one batch of 20000 Fashion-MNIST samples. So a watchdog thread, which runs whatever this
// thread does, looks at the parent every PARENT_CHECK_MS while a request is in flight, and kills
// the whole process when the parent is gone. Nothing is lost by the hard kill: the kernel frees
// the memory and GPU contexts, the engine writes no files, and the measurement workers are
// threads of this process, so they end with it. While no request is in flight, the event loop is
// free and 'disconnect' suffices: the watchdog sleeps (no timer wakes an idle engine).

/** How often the watchdog looks at the parent while the engine works (a getppid and a kill(pid, 0)). */
const PARENT_CHECK_MS = 100;

/**
 * The watchdog's code (a worker with `eval`: no separate bundle), synchronous: it sleeps in
 * Atomics.wait while the count of requests in flight, busy[0], is 0, and between checks. The
 * parent is gone when this process has been re-parented (Linux, macOS: at the parent's exit
 * ppid becomes init's or a subreaper's, even while the parent is still a zombie) or no process
 * has the parent's pid any more (Windows, where there is no re-parenting).
 */
const WATCHDOG = `
const { workerData: { busy: buffer, parentPid, startPpid, intervalMs } } = require('node:worker_threads');
const busy = new Int32Array(buffer);
const pause = new Int32Array(new SharedArrayBuffer(4));
const exists = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code !== 'ESRCH'; } };
for (;;) {
  if (process.ppid !== startPpid || !exists(parentPid)) process.kill(process.pid, 'SIGKILL');
  Atomics.wait(busy, 0, 0);
  Atomics.wait(pause, 0, 0, intervalMs);
}
`;

/** busy[0]: requests in flight, shared with the watchdog. */
const busy = new Int32Array(new SharedArrayBuffer(4));

/** Marks a request in flight, until the returned function is called. */
function working(): () => void {
  if (Atomics.add(busy, 0, 1) === 0) Atomics.notify(busy, 0); // wake the watchdog
  return () => void Atomics.sub(busy, 0, 1);
}

function watchParent(): void {
  // The client names its pid (PMF_ENGINE_PARENT_PID), so a parent that died before this line is
  // noticed too, though process.ppid is then already init's. It is only checked for existence:
  // a launcher between the two (a wrapper script) is not mistaken for a death.
  const startPpid = process.ppid;
  const named = Number(process.env.PMF_ENGINE_PARENT_PID);
  const parentPid = Number.isInteger(named) && named > 0 ? named : startPpid;
  const watchdog = new Worker(WATCHDOG, {
    eval: true,
    workerData: { busy: busy.buffer, parentPid, startPpid, intervalMs: PARENT_CHECK_MS },
    resourceLimits: { maxOldGenerationSizeMb: 16 },
  });
  watchdog.unref(); // it never keeps the engine alive by itself
  watchdog.on('error', (e) => process.stderr.write(`The engine's parent watchdog failed: ${e.message}\n`));
}

connection.onRequest(Hello, () => ({
  pid: process.pid,
  onnxruntimeVersion: ort.env.versions?.common ?? 'unknown',
  nodeVersion: process.version,
  platform: `${process.platform}-${process.arch}`,
  providers: providerReport(),
}));

connection.onRequest(LoadModel, handle(async (p) => {
  const t0 = performance.now();
  const { model, cached } = await cache.load(p.path, p.provider, p.threads ?? 0, (phase, message, weightBytes) => {
    if (p.progressToken) {
      void connection.sendNotification(LoadProgress, { token: p.progressToken, phase, message, weightBytes, elapsedMs: performance.now() - t0 });
    }
  });
  return { modelId: model.id, info: model.info, provider: model.provider, skipped: model.skipped, loadMs: model.loadMs, cached,
    weightBytes: model.weightBytes, modelCache: model.modelCache };
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

connection.onRequest(LoadFeatureNet, handle(async (p) => {
  const { model, cached } = await cache.loadFeatureNet(p.path, p.provider, p.threads ?? 0);
  return { netId: model.id, info: model.info, provider: model.provider, loadMs: model.loadMs, cached };
}));

connection.onRequest(EvalSamples, handle((p, token) => evalSamples(cache, cache.get(p.modelId), cache.getFeatureNet(p.netId), p,
  abortSignal(token), progressOf(p.progressToken))));

connection.onRequest(NetFeatures, handle((p) => netFeatures(cache, cache.getFeatureNet(p.netId), p)));

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

// The parent went away, or closed the channel: nothing left to serve.
process.on('disconnect', () => process.exit(0));
watchParent();
connection.listen();
