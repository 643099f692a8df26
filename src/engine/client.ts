// The client side of the engine: spawns the engine process, talks protocol.ts to it,
// restarts it when it dies, and maps its errors. Used by the extension host and the CLI.
// It never loads onnxruntime itself.
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  CancellationTokenSource,
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
  type MessageConnection,
  type RequestType,
  type RequestType0,
  ResponseError,
} from 'vscode-jsonrpc/node';
import {
  Crash,
  type EngineErrorCode,
  type EngineErrorData,
  EvalSamples,
  type EvalSamplesParams,
  type EvalSamplesResult,
  Generate,
  type GenerateParams,
  type GenerateResult,
  Hello,
  type HelloResult,
  LoadFeatureNet,
  type LoadFeatureNetResult,
  LoadModel,
  LoadProgress,
  type LoadProgressParams,
  type LoadResult,
  NetFeatures,
  type NetFeaturesParams,
  type NetFeaturesResult,
  Progress,
  type ProgressParams,
  type ProviderSetting,
  Run,
  type RunParams,
  type RunResult,
  UnloadModel,
  type FieldsAtParams,
  type FieldsAtReply,
  type FrameDataReply,
  type MeasuredParams,
  type MeasureReply,
  type TrajectoryParams,
  type TrajectoryReply,
  VizConsistency,
  VizFieldsAt,
  VizFrameData,
  VizMeasure,
  VizMeasured,
  VizTrajectory,
} from './protocol';

export type ClientErrorCode = EngineErrorCode | 'crashed';

/** An engine request failed; `code` says why, `message` is meant for the user. */
export class EngineError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export interface EngineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
}

export interface EngineClientOptions {
  /** Path of the bundled engine entry (dist/engine.js). */
  enginePath: string;
  /** Diagnostics sink (stderr of the engine, restarts). */
  log?: (message: string) => void;
  /** Called when the engine dies unexpectedly; the next request restarts it. */
  onCrash?: (exit: EngineExit) => void;
  env?: NodeJS.ProcessEnv;
  /**
   * Where the engine keeps optimised models (src/node/modelCache.ts): the extension's global
   * storage, the CLI's cache folder. PMF_CACHE_DIR (in `env`, else in this process's
   * environment) overrides it; 'off' turns the cache off; without any, there is no cache.
   */
  cacheDir?: string;
}

interface Running {
  child: ChildProcess;
  connection: MessageConnection;
  exited: Promise<EngineExit>;
}

export class EngineClient {
  private running?: Running;
  private stderrTail = '';
  private disposed = false;
  private readonly progress = new Map<string, (p: ProgressParams) => void>();
  private readonly measured = new Map<string, (p: MeasuredParams) => void>();
  private readonly loadProgress = new Map<string, (p: LoadProgressParams) => void>();

  constructor(private readonly opts: EngineClientOptions) {}

  /** The engine's process id, when it runs. */
  get pid(): number | undefined {
    return this.running?.child.pid;
  }

  private start(): Running {
    if (this.disposed) throw new EngineError('crashed', 'The pMF engine has been shut down.');
    const child = fork(this.opts.enginePath, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // PMF_ENGINE_PARENT_PID: the engine ends when this process does (src/engine/main.ts)
      // MALLOC_MMAP_THRESHOLD_: glibc serves every allocation over 128 kB with its own mapping, so
      // the memory onnxruntime frees after optimising a model goes back to the system (without it
      // the engine kept 2x a model's weights after loading it; docs/design.md, Loading models)
      env: { MALLOC_MMAP_THRESHOLD_: '131072', ...process.env, ...this.opts.env, ...this.cacheEnv(), ELECTRON_RUN_AS_NODE: '1',
        PMF_ENGINE_PARENT_PID: String(process.pid) },
      execArgv: [],
    });
    this.stderrTail = '';
    const onOutput = (chunk: Buffer) => {
      const text = chunk.toString();
      this.stderrTail = (this.stderrTail + text).slice(-4000);
      this.opts.log?.(text.trimEnd());
    };
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', onOutput);
    const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    connection.onNotification(Progress, (p) => this.progress.get(p.token)?.(p));
    connection.onNotification(VizMeasured, (p) => this.measured.get(p.token)?.(p));
    connection.onNotification(LoadProgress, (p) => this.loadProgress.get(p.token)?.(p));
    connection.listen();
    const exited = new Promise<EngineExit>((resolve) => {
      child.once('exit', (code, signal) => {
        const exit = { code, signal, stderrTail: this.stderrTail };
        connection.dispose();
        if (this.running?.child === child) this.running = undefined;
        if (!this.disposed) {
          this.opts.log?.(`engine process ${child.pid} exited (code ${code}, signal ${signal})`);
          this.opts.onCrash?.(exit);
        }
        resolve(exit);
      });
    });
    const running = { child, connection, exited };
    this.running = running;
    return running;
  }

  /** Sends a request, starting the engine if needed; rejects with EngineError. */
  async request<P, R>(type: RequestType<P, R, EngineErrorData> | RequestType0<R, EngineErrorData>, params: P,
    signal?: AbortSignal): Promise<R> {
    if (signal?.aborted) throw new EngineError('cancelled', 'Cancelled');
    const running = this.running ?? this.start();
    const cts = new CancellationTokenSource();
    const onAbort = () => cts.cancel();
    signal?.addEventListener('abort', onAbort);
    const died = running.exited.then((exit) => {
      throw new EngineError('crashed', `The pMF engine stopped (${exit.signal ?? `exit code ${exit.code}`}) while ` +
        `working on ${type.method}.${exit.stderrTail ? ` Last output: ${exit.stderrTail.trim().slice(-500)}` : ''}`);
    });
    try {
      const sent = params === undefined
        ? running.connection.sendRequest(type.method, cts.token)
        : running.connection.sendRequest(type.method, params, cts.token);
      return await Promise.race([sent as Promise<R>, died]);
    } catch (e) {
      if (e instanceof EngineError) throw e;
      const data = e instanceof ResponseError ? (e.data as EngineErrorData | undefined) : undefined;
      if (data?.code) throw new EngineError(data.code, (e as Error).message);
      if (signal?.aborted) throw new EngineError('cancelled', 'Cancelled');
      // Anything else (a rejected pending response, a closed channel) usually means the process
      // is dying: give its exit a moment to show.
      const exit = await Promise.race([running.exited, new Promise<undefined>((r) => setTimeout(r, 1000, undefined))]);
      if (exit) {
        throw new EngineError('crashed', `The pMF engine stopped (${exit.signal ?? `exit code ${exit.code}`}) while ` +
          `working on ${type.method}.`);
      }
      throw new EngineError('runtime', e instanceof Error ? e.message : String(e));
    } finally {
      signal?.removeEventListener('abort', onAbort);
      cts.dispose();
    }
  }

  hello(): Promise<HelloResult> {
    return this.request(Hello, undefined);
  }

  /** Loads a model; onProgress sees its phases (reading, optimising or cached or loading, ready). */
  load(path: string, provider: ProviderSetting, signal?: AbortSignal, threads?: number,
    onProgress?: (p: LoadProgressParams) => void): Promise<LoadResult> {
    return this.withToken(this.loadProgress, onProgress, (progressToken) => this.request(LoadModel, { path, provider, threads, progressToken }, signal));
  }

  /** PMF_CACHE_DIR for the engine: from `env`, else this process's environment, else the cacheDir option. */
  private cacheEnv(): NodeJS.ProcessEnv {
    const dir = this.opts.env?.PMF_CACHE_DIR ?? process.env.PMF_CACHE_DIR ?? this.opts.cacheDir;
    return dir === undefined ? {} : { PMF_CACHE_DIR: dir };
  }

  /** Generates samples; onProgress sees (steps done, steps total) across batches. */
  generate(params: Omit<GenerateParams, 'progressToken'>, signal?: AbortSignal,
    onProgress?: (done: number, total: number) => void): Promise<GenerateResult> {
    return this.withProgress(onProgress, (progressToken) => this.request(Generate, { ...params, progressToken }, signal));
  }

  run(params: RunParams, signal?: AbortSignal): Promise<RunResult> {
    return this.request(Run, params, signal);
  }

  unload(modelId: string): Promise<void> {
    return this.request(UnloadModel, { modelId });
  }

  /** A trajectory; onProgress sees (network calls done, calls in all). */
  trajectory(params: Omit<TrajectoryParams, 'progressToken'>, signal?: AbortSignal,
    onProgress?: (done: number, total: number) => void): Promise<TrajectoryReply> {
    return this.withProgress(onProgress, (progressToken) => this.request(VizTrajectory, { ...params, progressToken }, signal));
  }

  /** Measurements of a kept trajectory along t; onFrame sees each frame as the engine finishes it. */
  measure(trajectoryId: string, patchSize: number, signal?: AbortSignal,
    onFrame?: (p: MeasuredParams) => void): Promise<MeasureReply> {
    return this.withToken(this.measured, onFrame, (progressToken) => this.request(VizMeasure, { trajectoryId, patchSize, progressToken }, signal));
  }

  fieldsAt(params: FieldsAtParams, signal?: AbortSignal): Promise<FieldsAtReply> {
    return this.request(VizFieldsAt, params, signal);
  }

  consistency(trajectoryId: string, fineSteps: number, signal?: AbortSignal,
    onProgress?: (done: number, total: number) => void): Promise<{ relativeError: number[]; ms: number }> {
    return this.withProgress(onProgress, (progressToken) => this.request(VizConsistency, { trajectoryId, fineSteps, progressToken }, signal));
  }

  /** Runs `fn` with a progress token whose notifications reach onProgress (none without it). */
  private withProgress<R>(onProgress: ((done: number, total: number) => void) | undefined,
    fn: (token: string | undefined) => Promise<R>): Promise<R> {
    return this.withToken(this.progress, onProgress && ((p) => onProgress(p.done, p.total)), fn);
  }

  /** Runs `fn` with a fresh token whose notifications (routed through `routes`) reach `listener`; no token without one. */
  private async withToken<P, R>(routes: Map<string, (p: P) => void>, listener: ((p: P) => void) | undefined,
    fn: (token: string | undefined) => Promise<R>): Promise<R> {
    if (!listener) return fn(undefined);
    const token = randomUUID();
    routes.set(token, listener);
    try {
      return await fn(token);
    } finally {
      routes.delete(token);
    }
  }

  frameData(trajectoryId: string, frame: number): Promise<FrameDataReply> {
    return this.request(VizFrameData, { trajectoryId, frame });
  }

  /** Loads a feature network (docs/evaluation.md). */
  loadFeatureNet(path: string, provider: ProviderSetting, signal?: AbortSignal, threads?: number): Promise<LoadFeatureNetResult> {
    return this.request(LoadFeatureNet, { path, provider, threads }, signal);
  }

  /** Generates samples start .. start + count - 1 of an evaluation run and returns their features; onProgress sees samples done. */
  evalSamples(params: Omit<EvalSamplesParams, 'progressToken'>, signal?: AbortSignal,
    onProgress?: (done: number, total: number) => void): Promise<EvalSamplesResult> {
    return this.withProgress(onProgress, (progressToken) => this.request(EvalSamples, { ...params, progressToken }, signal));
  }

  /** A feature network's features (and logits) of 8-bit images. */
  netFeatures(params: NetFeaturesParams, signal?: AbortSignal): Promise<NetFeaturesResult> {
    return this.request(NetFeatures, params, signal);
  }

  /** Test hook: makes the engine abort (needs PMF_ENGINE_TEST=1 in its environment). */
  crashForTest(): Promise<void> {
    return this.request(Crash, undefined);
  }

  /** Stops the engine process; the client cannot be used afterwards. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const r = this.running;
    this.running = undefined;
    if (!r) return;
    r.connection.dispose();
    r.child.kill();
    await Promise.race([r.exited, new Promise((res) => setTimeout(res, 2000))]);
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  }
}
