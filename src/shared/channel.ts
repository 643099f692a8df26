// The one typed channel between the extension host and a webview, used by every panel on both
// sides (src/extension/panelChannel.ts makes the host's, webview/shared/host.ts the webview's).
//   events    post(body): validated against the sender's schema before it leaves;
//   requests  request(body): the other side's handler returns the answer, which comes back with
//             the request's seq (`re`), so nothing matches replies by hand;
//   handlers  on(type, fn): one per message type; every message that arrives is validated
//             (an invalid one is logged and dropped), and a handler that throws is caught once,
//             here (onError), so the panels neither switch nor catch themselves.
// Helpers for "latest wins": Jobs (host: starting a job aborts the previous one of its kind),
// LatestRequest and CoalescedRequest (webview: answers to superseded requests are dropped).
// No vscode, DOM or Node imports: the same file runs in the host and in the webview.
import type { z } from 'zod';
import { type Disposable, DisposableStore } from './dispose';
import { Envelope } from './protocol/common';

/** Where messages go and come from: a webview's postMessage and onDidReceiveMessage, or window's. */
export interface Port {
  post(message: unknown): PromiseLike<unknown> | void;
  listen(listener: (message: unknown) => void): Disposable;
}

export interface ChannelLog {
  warn(text: string): void;
  error(text: string): void;
}

type Typed = { type: string };
export type MessageOf<M extends Typed, K extends M['type']> = Extract<M, { type: K }>;

/** What a handler knows of the message it handles. */
export interface MessageContext {
  /** The message's seq (the id of a request; events of a job carry it back, e.g. a run's frames). */
  seq: number;
  /** When the message arrived (performance.now()), before it was validated. */
  receivedAt: number;
}

type Handler<M, Out> = (msg: M, ctx: MessageContext) => Out | void | Promise<Out | void>;

/** The other side answered a request with an error (or the request could not be answered). */
export class RequestError extends Error {}
/** No answer came within the request's timeout. */
export class RequestTimeout extends RequestError {}

export interface ChannelOptions<In> {
  log: ChannelLog;
  /** A handler threw: the panel shows it (the default logs it). Not called for aborted work. */
  onError?: (error: unknown, msg: In) => void;
}

export interface Sent {
  seq: number;
  /** Resolves when the other side has taken the message (the host's postMessage promise). */
  taken: PromiseLike<unknown>;
}

export class Channel<In extends Typed, Out extends Typed> implements Disposable {
  private seq = 0;
  private readonly handlers = new Map<string, Handler<In, Out>>();
  private readonly pending = new Map<number, { resolve(v: In | undefined): void; reject(e: Error): void; timer?: ReturnType<typeof setTimeout> }>();
  private readonly store = new DisposableStore();
  /** When the last message arrived (performance.now()), before it was validated: a request's caller reads it with the answer. */
  lastReceivedAt = 0;

  constructor(readonly name: string, private readonly port: Port,
    private readonly schemas: { incoming: z.ZodType<In>; outgoing: z.ZodType<Out> }, private readonly opts: ChannelOptions<In>) {
    this.store.add(port.listen((raw) => this.receive(raw)));
  }

  /** Validates and posts an event. After dispose nothing is posted (a job that ends late has no one to tell). */
  post(body: Out): Sent {
    return this.send({ body: this.schemas.outgoing.parse(body) });
  }

  /**
   * Posts a request; resolves with the answer (undefined when the other side had none), rejects
   * with RequestError (RequestTimeout after timeoutMs). Dispose rejects what is still open.
   */
  request<R extends In = In>(body: Out, opts: { timeoutMs?: number } = {}): { seq: number; reply: Promise<R | undefined> } {
    const parsed = this.schemas.outgoing.parse(body);
    let seq = -1;
    const reply = new Promise<R | undefined>((resolve, reject) => {
      seq = this.send({ body: parsed, request: true }).seq;
      const entry: { resolve(v: In | undefined): void; reject(e: Error): void; timer?: ReturnType<typeof setTimeout> } = {
        resolve: resolve as (v: In | undefined) => void, reject };
      if (opts.timeoutMs !== undefined) {
        entry.timer = setTimeout(() => {
          this.pending.delete(seq);
          reject(new RequestTimeout(`${this.name}: no answer to ${body.type} within ${opts.timeoutMs} ms`));
        }, opts.timeoutMs);
      }
      this.pending.set(seq, entry);
    });
    return { seq, reply };
  }

  /** Handles messages of one type (one handler each); what it returns answers a request. */
  on<K extends In['type']>(type: K, handler: Handler<MessageOf<In, K>, Out>): Disposable {
    if (this.handlers.has(type)) throw new Error(`${this.name}: a handler for ${type} is registered already`);
    this.handlers.set(type, handler as Handler<In, Out>);
    return { dispose: () => { if (this.handlers.get(type) === handler) this.handlers.delete(type); } };
  }

  dispose(): void {
    this.store.dispose();
    this.handlers.clear();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new RequestError(`${this.name}: closed`));
    }
    this.pending.clear();
  }

  private send(envelope: Omit<Envelope, 'seq'>): Sent {
    const seq = this.seq++;
    if (this.store.isDisposed) return { seq, taken: Promise.resolve(false) };
    const taken = this.port.post({ seq, ...envelope }) ?? Promise.resolve(true);
    return { seq, taken };
  }

  private receive(raw: unknown): void {
    const receivedAt = performance.now();
    this.lastReceivedAt = receivedAt;
    if (this.store.isDisposed) return;
    const env = Envelope.safeParse(raw);
    if (!env.success) {
      this.opts.log.warn(`${this.name}: ignored a message outside the channel's envelope: ${env.error.message}`);
      return;
    }
    const { seq, request, re, body, error } = env.data;
    if (re !== undefined) return this.settle(re, body, error);
    const parsed = this.schemas.incoming.safeParse(body);
    if (!parsed.success) {
      this.opts.log.warn(`${this.name}: ignored an invalid message: ${parsed.error.message}`);
      if (request) this.send({ re: seq, error: `invalid message: ${parsed.error.message}` });
      return;
    }
    const msg = parsed.data;
    const handler = this.handlers.get(msg.type);
    let result: Promise<Out | void>;
    try {
      result = Promise.resolve(handler?.(msg, { seq, receivedAt }));
    } catch (e) {
      result = Promise.reject(e);
    }
    result.then((answer) => {
      if (request) this.send(answer ? { re: seq, body: this.schemas.outgoing.parse(answer) } : { re: seq });
    }, (e: unknown) => {
      if (this.opts.onError) this.opts.onError(e, msg);
      else this.opts.log.error(`${this.name}: ${messageOf(e)}`);
      if (request) this.send({ re: seq, error: messageOf(e) });
    });
  }

  private settle(re: number, body: unknown, error: string | undefined): void {
    const p = this.pending.get(re);
    if (!p) return; // timed out, or the channel was reset
    this.pending.delete(re);
    clearTimeout(p.timer);
    if (error !== undefined) return p.reject(new RequestError(error));
    if (body === undefined) return p.resolve(undefined);
    const parsed = this.schemas.incoming.safeParse(body);
    if (!parsed.success) {
      this.opts.log.warn(`${this.name}: ignored an invalid answer: ${parsed.error.message}`);
      return p.reject(new RequestError(`invalid answer: ${parsed.error.message}`));
    }
    p.resolve(parsed.data);
  }
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Host side, "latest job wins": start(kind) aborts the job of that kind in progress and returns
 * the new one's signal; dispose aborts them all (the panel closed).
 */
export class Jobs<K extends string> implements Disposable {
  private readonly running = new Map<K, AbortController>();

  start(kind: K): AbortSignal {
    this.running.get(kind)?.abort();
    const ac = new AbortController();
    this.running.set(kind, ac);
    return ac.signal;
  }

  /** Aborts the jobs of these kinds (all jobs when none is named). */
  abort(...kinds: K[]): void {
    for (const k of kinds.length ? kinds : [...this.running.keys()]) this.running.get(k)?.abort();
  }

  /** Whether `signal` is still the job of its kind (no newer one started). */
  isCurrent(kind: K, signal: AbortSignal): boolean {
    return this.running.get(kind)?.signal === signal;
  }

  /** The job of `signal` is over: forgets it if it is still the current one. */
  end(kind: K, signal: AbortSignal): void {
    if (this.isCurrent(kind, signal)) this.running.delete(kind);
  }

  dispose(): void {
    this.abort();
    this.running.clear();
  }
}

/**
 * Webview side, "latest wins" for one kind of request: request() resolves with the answer only
 * while no newer request (or reset) came after it, else with undefined; so does a timeout.
 */
export class LatestRequest<Body, Reply> {
  private generation = 0;

  constructor(private readonly send: (body: Body) => Promise<Reply | undefined>) {}

  async request(body: Body): Promise<Reply | undefined> {
    const mine = ++this.generation;
    const reply = await this.send(body).catch((e: unknown) => {
      if (e instanceof RequestTimeout) return undefined;
      throw e;
    });
    return mine === this.generation ? reply : undefined;
  }

  /** Answers to the requests made so far are dropped. */
  reset(): void {
    this.generation++;
  }
}

interface Waiting<Body, Reply> {
  body: Body;
  resolve(v: { reply: Reply | undefined; sentAt: number } | undefined): void;
  reject(e: unknown): void;
}

/**
 * Webview side, for a control that fires faster than its answers come (the r slider): one request
 * in flight; while it is, only the newest request waits, and goes out when the answer arrives
 * (or the one in flight times out). An error answer drops the one waiting too.
 * request() resolves with the answer and when the request was sent, or with undefined when the
 * request was superseded before it was sent, or reset.
 */
export class CoalescedRequest<Body, Reply> {
  private inFlight = false;
  private waiting?: Waiting<Body, Reply>;
  private generation = 0;

  constructor(private readonly send: (body: Body) => Promise<Reply | undefined>) {}

  request(body: Body): Promise<{ reply: Reply | undefined; sentAt: number } | undefined> {
    return new Promise((resolve, reject) => {
      if (this.inFlight) {
        this.waiting?.resolve(undefined);
        this.waiting = { body, resolve, reject };
      } else {
        this.go({ body, resolve, reject });
      }
    });
  }

  /** Drops the request waiting (not the one in flight). */
  dropWaiting(): void {
    this.waiting?.resolve(undefined);
    this.waiting = undefined;
  }

  /** Drops the request waiting, and the answer of the one in flight. */
  reset(): void {
    this.dropWaiting();
    this.generation++;
    this.inFlight = false;
  }

  private go(w: Waiting<Body, Reply>): void {
    const mine = this.generation;
    this.inFlight = true;
    const sentAt = performance.now();
    this.send(w.body).then((reply) => {
      if (mine !== this.generation) return w.resolve(undefined);
      this.inFlight = false;
      w.resolve({ reply, sentAt });
      // after the caller has taken this answer (drawn it), as the slider did before the channel
      void Promise.resolve().then(() => this.next());
    }, (e: unknown) => {
      if (mine !== this.generation) return w.resolve(undefined);
      this.inFlight = false;
      if (e instanceof RequestTimeout) {
        w.resolve(undefined);
        this.next();
      } else {
        this.dropWaiting();
        w.reject(e);
      }
    });
  }

  private next(): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (w) this.go(w);
  }
}
