// The typed channel between the extension host and a webview (src/shared/channel.ts), over an
// in-memory pair of ports that clones messages as postMessage does.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import {
  Channel, CoalescedRequest, Jobs, LatestRequest, RequestError, RequestTimeout, type MessageOf, type Port,
} from '../../src/shared/channel';
import type { Assert, Equals, Extends } from '../../src/shared/protocol/common';

const ToPage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), text: z.string() }),
  z.object({ type: z.literal('answer'), value: z.number() }),
]);
type ToPage = z.infer<typeof ToPage>;
const ToHost = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ask'), x: z.number().int() }),
  z.object({ type: z.literal('poke') }),
]);
type ToHost = z.infer<typeof ToHost>;

/** Two ports wired to each other; messages arrive a macrotask later, structured-cloned. */
function portPair(): [Port, Port, unknown[]] {
  const listeners: Array<((m: unknown) => void) | undefined> = [undefined, undefined];
  const wire: unknown[] = [];
  const port = (me: number): Port => ({
    post: (m) => {
      wire.push(m);
      const copy = structuredClone(m);
      return new Promise((resolve) => setImmediate(() => { listeners[1 - me]?.(copy); resolve(true); }));
    },
    listen: (fn) => {
      listeners[me] = fn;
      return { dispose: () => { listeners[me] = undefined; } };
    },
  });
  return [port(0), port(1), wire];
}

function pair(onError?: (e: unknown) => void) {
  const [a, b, wire] = portPair();
  const logs: string[] = [];
  const log = { warn: (t: string) => logs.push(`warn ${t}`), error: (t: string) => logs.push(`error ${t}`) };
  const host = new Channel<ToHost, ToPage>('host', a, { incoming: ToHost, outgoing: ToPage }, { log, onError });
  const page = new Channel<ToPage, ToHost>('page', b, { incoming: ToPage, outgoing: ToHost }, { log });
  return { host, page, logs, wire, rawToHost: (m: unknown) => b.post(m) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Channel', () => {
  test('events are validated on the way out and on the way in; each type has one handler', async () => {
    const { host, page, logs, rawToHost } = pair();
    const got: string[] = [];
    page.on('hello', (m) => { got.push(m.text); });
    await host.post({ type: 'hello', text: 'hi' }).taken;
    await tick();
    assert.deepEqual(got, ['hi']);
    assert.throws(() => host.post({ type: 'hello', text: 3 } as unknown as ToPage));
    assert.throws(() => page.on('hello', () => {}), /registered already/);
    // what the webview sends is checked as well: a bad body is logged and dropped
    let pokes = 0;
    host.on('poke', () => { pokes++; });
    await rawToHost({ seq: 0, body: { type: 'poke', extra: 1 } });
    await rawToHost({ seq: 1, body: { type: 'nope' } });
    await rawToHost({ type: 'poke' });
    await tick();
    assert.equal(pokes, 1);
    assert.equal(logs.filter((l) => l.startsWith('warn')).length, 2, logs.join('\n'));
  });

  test('a request gets its handler\'s answer, nothing, or the error; a timeout rejects', async () => {
    const { host, page, logs } = pair();
    host.on('ask', (m) => (m.x < 0 ? undefined : m.x === 13 ? Promise.reject(new Error('unlucky')) : { type: 'answer', value: m.x * 2 }));
    const a = page.request<MessageOf<ToPage, 'answer'>>({ type: 'ask', x: 21 });
    const b = page.request({ type: 'ask', x: -1 });
    assert.notEqual(a.seq, b.seq);
    assert.deepEqual(await a.reply, { type: 'answer', value: 42 });
    assert.equal(await b.reply, undefined);
    await assert.rejects(page.request({ type: 'ask', x: 13 }).reply, (e) => e instanceof RequestError && /unlucky/.test(e.message));
    assert.ok(logs.some((l) => l === 'error host: unlucky'), logs.join('\n'));
    // a request nobody answers in time
    host.on('poke', () => new Promise<void>(() => {}));
    await assert.rejects(page.request({ type: 'poke' }, { timeoutMs: 20 }).reply, (e) => e instanceof RequestTimeout);
  });

  test('a throwing handler goes to onError once, with the message', async () => {
    const seen: unknown[] = [];
    const { host, page } = pair((e) => seen.push(e));
    host.on('poke', () => { throw new Error('boom'); });
    await page.post({ type: 'poke' }).taken;
    await tick();
    assert.equal(seen.length, 1);
    assert.match((seen[0] as Error).message, /boom/);
  });

  test('after dispose nothing is posted or handled, and open requests reject', async () => {
    const { host, page, wire } = pair();
    let hellos = 0;
    page.on('hello', () => { hellos++; });
    const open = page.request({ type: 'ask', x: 1 });
    page.dispose();
    await assert.rejects(open.reply, RequestError);
    const before = wire.length;
    page.post({ type: 'poke' });
    assert.equal(wire.length, before);
    await host.post({ type: 'hello', text: 'late' }).taken;
    await tick();
    assert.equal(hellos, 0);
    host.dispose();
  });
});

describe('latest wins', () => {
  test('Jobs: starting a job aborts the previous one of its kind only; dispose aborts all', () => {
    const jobs = new Jobs<'run' | 'measure'>();
    const run1 = jobs.start('run');
    const measure = jobs.start('measure');
    const run2 = jobs.start('run');
    assert.equal(run1.aborted, true);
    assert.equal(measure.aborted, false);
    assert.equal(jobs.isCurrent('run', run2), true);
    assert.equal(jobs.isCurrent('run', run1), false);
    jobs.end('run', run1); // not the current one: no effect
    assert.equal(jobs.isCurrent('run', run2), true);
    jobs.abort('measure');
    assert.equal(measure.aborted, true);
    assert.equal(run2.aborted, false);
    jobs.dispose();
    assert.equal(run2.aborted, true);
  });

  test('LatestRequest: the answer to a superseded request is dropped', async () => {
    const answers = new Map<number, (v: number) => void>();
    const latest = new LatestRequest<number, number>((x) => new Promise((r) => answers.set(x, r)));
    const first = latest.request(1);
    const second = latest.request(2);
    answers.get(2)!(20);
    answers.get(1)!(10);
    assert.equal(await first, undefined);
    assert.equal(await second, 20);
    const third = latest.request(3);
    latest.reset();
    answers.get(3)!(30);
    assert.equal(await third, undefined);
  });

  test('CoalescedRequest: one in flight, only the newest waits; an error drops the one waiting', async () => {
    const sent: number[] = [];
    const answers: Array<{ resolve(v: number): void; reject(e: Error): void }> = [];
    const c = new CoalescedRequest<number, number>((x) => {
      sent.push(x);
      return new Promise((resolve, reject) => answers.push({ resolve, reject }));
    });
    const p1 = c.request(1);
    const p2 = c.request(2);
    const p3 = c.request(3);
    assert.deepEqual(sent, [1]);
    assert.equal(await p2, undefined); // superseded before it went out
    answers[0].resolve(10);
    assert.equal((await p1)?.reply, 10);
    await tick();
    assert.deepEqual(sent, [1, 3]);
    const p4 = c.request(4);
    answers[1].reject(new RequestError('failed'));
    await assert.rejects(p3, RequestError);
    assert.equal(await p4, undefined);
    assert.deepEqual(sent, [1, 3]);
    // a timeout lets the next one go
    const p5 = c.request(5);
    const p6 = c.request(6);
    answers[2].reject(new RequestTimeout('slow'));
    assert.equal(await p5, undefined);
    assert.deepEqual(sent, [1, 3, 5, 6]);
    answers[3].resolve(60);
    assert.equal((await p6)?.reply, 60);
  });
});

// Compile-time checks (protocol/common.ts): these lines compile only while the helpers tell types apart.
export type HelperChecks = [
  Assert<Equals<{ a: number }, { a: number }>>,
  // @ts-expect-error a different type is not Equals
  Assert<Equals<{ a: number }, { a: string }>>,
  // @ts-expect-error a wider type is not Equals either
  Assert<Equals<{ a: number }, { a: number; b?: string }>>,
  Assert<Extends<{ a: number; b: string }, { a: number }>>,
];
