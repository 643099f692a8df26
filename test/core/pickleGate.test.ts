// The pickle machine and the gate on hand-written pickles: it reads on wherever CPython would (so
// nothing after an odd opcode escapes the check), it costs time linear in the file however the
// pickle shares its values, and what no state dict needs is flagged.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bufferSource, inspectCheckpoint, InspectError, type CheckpointSummary } from '../../src/core/checkpoint/inspect';
import { BigIntPlaceholder, pickleBudget, runPickle, type PickleHooks } from '../../src/core/checkpoint/inspect/pickleMachine';
import { GlobalLog, unpickle } from '../../src/core/checkpoint/inspect/safeUnpickler';

const enc = new TextEncoder();
const bytes = (...parts: Array<string | number[] | Uint8Array>): Uint8Array => cat(parts);
function cat(parts: Array<string | number[] | Uint8Array>): Uint8Array {
  const chunks = parts.map((p) => (typeof p === 'string' ? Uint8Array.from(p, (c) => c.charCodeAt(0)) : Uint8Array.from(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const binunicode = (s: string) => bytes('X', u32(enc.encode(s).length), enc.encode(s));
const global0 = (m: string, n: string) => `c${m}\n${n}\n`;

async function inspect(b: Uint8Array, name = 'x.pt', budgetMs?: number): Promise<CheckpointSummary> {
  return inspectCheckpoint(bufferSource(b), name, budgetMs === undefined ? {} : { budgetMs });
}

async function verdict(b: Uint8Array, name = 'x.pt'): Promise<{ danger: string[]; error?: InspectError }> {
  try {
    const s = await inspect(b, name);
    return { danger: s.findings.filter((f) => f.severity === 'danger').map((f) => f.message) };
  } catch (e) {
    if (!(e instanceof InspectError)) throw e;
    return { danger: e.findings.filter((f) => f.severity === 'danger').map((f) => f.message), error: e };
  }
}

function globalsOf(b: Uint8Array): string[] {
  const seen: string[] = [];
  const hooks: PickleHooks = {
    global: (m, n) => {
      seen.push(`${m}.${n}`);
      return () => undefined;
    },
    persistent: () => null,
    extension: () => null,
    hazard: (h) => seen.push(`hazard: ${h}`),
  };
  try {
    runPickle(b, 0, hooks, pickleBudget(b.length, 5000));
  } catch {
    // what was seen before the error is the point
  }
  return seen;
}

describe('the pickle machine reads on where CPython does', () => {
  test('integers as _pickle.c reads them: INT is strtol base 0 (a leading 0 is octal), LONG is int(s, 0)', () => {
    const value = (p: Uint8Array) => runPickle(p, 0, { global: () => null, persistent: () => null, extension: () => null, hazard: () => {} }, pickleBudget(p.length, 1000)).value;
    assert.equal(value(bytes('I01751\n.')), 1001);
    assert.equal(value(bytes('I0x3e9\n.')), 1001);
    assert.equal(value(bytes('I-12\n.')), -12);
    assert.equal(value(bytes('I00\n.')), false);
    assert.equal(value(bytes('L0x1950a86a20f9469cfc6cL\n.')), 0x1950a86a20f9469cfc6cn);
    assert.equal(value(bytes('L1_000\n.')), 1000);
    assert.equal(value(bytes([0x8a, 0x02, 0xff, 0x7f, 0x2e])), 0x7fff);
    assert.equal(value(bytes([0x8a, 0x01, 0xff, 0x2e])), -1);
  });

  test('an unparseable integer, a call on plain data and an odd string escape do not stop it before the global that follows', () => {
    for (const odd of ['Inot-a-number\n0', 'S"abc\\q"\n0', ']K\x01\x85R0', 'F1.2.3\n0']) {
      const seen = globalsOf(bytes(odd, global0('os', 'system'), '.'));
      assert.deepEqual(seen, ['os.system'], JSON.stringify(odd));
    }
  });

  test('a name computed at load time (STACK_GLOBAL on call results) is a hazard; on plain strings it is the global', () => {
    assert.deepEqual(globalsOf(bytes([0x80, 0x04], binunicode('os'), binunicode('system'), [0x93, 0x2e])), ['os.system']);
    const computed = globalsOf(bytes([0x80, 0x04], global0('builtins', 'str'), binunicode('os'), [0x85, 0x52], binunicode('system'), [0x93, 0x2e]));
    assert.equal(computed[0], 'builtins.str');
    assert.match(computed[1], /^hazard: a global whose module or name is computed/);
  });

  test('a GLOBAL cut off after its module line still counts: CPython imports the module first', () => {
    assert.deepEqual(globalsOf(bytes('cantigravity\nx')), ['antigravity.x']);
  });

  test('the five legacy pickles in their order, and the magic number in any encoding', async () => {
    // magic as a text LONG, then version as an octal INT, then code in the system info pickle
    const exec = bytes(global0('builtins', 'exec'), binunicode('pass'), [0x85, 0x52, 0x2e]);
    const file = bytes('L0x1950a86a20f9469cfc6cL\n.', 'I01751\n.', [0x80, 0x02], exec);
    const v = await verdict(file);
    assert.ok(v.danger.some((m) => /builtins\.exec/.test(m)), JSON.stringify(v));
    // a first pickle that is surely not the magic number ends the sequence, as in torch.load
    const plain = await inspect(bytes('I7\n.', [0x80, 0x02], exec));
    assert.ok(!plain.findings.some((f) => f.severity === 'danger'));
    assert.ok(plain.findings.some((f) => /plain Python pickle/.test(f.message)));
  });

  test('a float first pickle is surely no magic number; a version pickle that shares one list 40 deep is described, not expanded (found by bench/fuzz.ts)', async () => {
    const plain = await inspect(bytes('F1.5\n.'));
    assert.ok(plain.findings.some((f) => /plain Python pickle/.test(f.message)));
    // the version pickle: a list holding the previous list twice, 40 deep (2^40 elements when printed)
    const bomb = [']q\x00'];
    for (let i = 1; i <= 40; i++) bomb.push(`h${String.fromCharCode(i - 1)}h${String.fromCharCode(i - 1)}\x86q${String.fromCharCode(i)}`);
    const file = cat(['L0x1950a86a20f9469cfc6cL\n.', [0x80, 0x02], ...bomb, '.']);
    await assert.rejects(inspect(file, 'bomb.pt'), (e: unknown) =>
      e instanceof InspectError && e.code === 'corrupt' && /^bomb\.pt: its pickled data is not a readable pickle \(legacy torch\.save protocol version list \(2\)/.test(e.message));
  });

  test('BUILD on a global itself and a copyreg extension code are flagged', async () => {
    const build = await verdict(bytes([0x80, 0x02], global0('collections', 'OrderedDict'), '}', binunicode('__reduce__'), 'Ns', 'b0}.'));
    assert.ok(build.danger.some((m) => /BUILD on the global collections\.OrderedDict itself/.test(m)), JSON.stringify(build));
    const ext = await verdict(bytes([0x80, 0x02, 0x82, 0x07, 0x29, 0x52, 0x2e]));
    assert.ok(ext.danger.some((m) => /copyreg\.extension 7/.test(m)), JSON.stringify(ext));
  });

  test('numpy: its data constructors are a warning, any other numpy function is dangerous', async () => {
    const reconstruct = await inspect(bytes([0x80, 0x02], global0('numpy.core.multiarray', '_reconstruct'), global0('numpy', 'ndarray'), 'K\x00\x85C\x01b\x87R.'));
    assert.ok(!reconstruct.findings.some((f) => f.severity === 'danger'));
    assert.ok(reconstruct.findings.some((f) => f.severity === 'warning' && /numpy globals/.test(f.message)));
    for (const g of [['numpy.testing._private.utils', 'runstring'], ['numpy', 'load'], ['numpy.lib.npyio', 'load'], ['numpy.core.multiarray', '_reconstruct.__globals__']]) {
      const v = await verdict(bytes([0x80, 0x02], global0(g[0], g[1]), 'N.'));
      assert.ok(v.danger.some((m) => m.includes(`${g[0]}.${g[1]}`)), g.join('.'));
    }
  });

  test('a JavaScript property name is no torch global (torch.constructor, torch.__proto__)', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const v = await verdict(bytes([0x80, 0x02], global0('torch', name), 'N.'));
      assert.ok(v.danger.some((m) => m.includes(`torch.${name}`)), name);
    }
  });
});

describe('bounded work', () => {
  test('one list shared through the memo by 20,000 calls costs work linear in the file, or stops at the budget', async () => {
    const n = 20_000;
    const items = cat([']q\x00(', ...Array.from({ length: n }, () => 'K\x01'), 'e']);
    // set(shared) 20,000 times: each call reads the list in place, no copy
    const calls = Array.from({ length: n }, () => bytes(global0('builtins', 'set'), 'h\x00\x85R0'));
    const file = cat([[0x80, 0x02], items, ...calls, '.']);
    const budget = pickleBudget(file.length, 60_000);
    const before = budget.work;
    unpickle(file, { log: new GlobalLog(), budget });
    const used = before - budget.work;
    assert.ok(used < 8 * file.length, `${used} work units for ${file.length} bytes`);
    const s = await inspect(file);
    assert.equal(s.tensors.length, 0);
    // OrderedDict(shared pairs) 20,000 times would be 400M insertions: the budget stops it with a clear error
    const pairs = cat([']q\x00(', ...Array.from({ length: n }, () => 'K\x01K\x02\x86'), 'e']);
    const od = Array.from({ length: n }, () => bytes(global0('collections', 'OrderedDict'), 'h\x00\x85R0'));
    await assert.rejects(inspect(cat([[0x80, 0x02], pairs, ...od, '.']), 'shared.pt'), (e: unknown) =>
      e instanceof InspectError && e.code === 'budget' && /^shared\.pt: reading its pickle was stopped: the pickle needs more work than any checkpoint does/.test(e.message));
  });

  test('a LONG4 integer of a megabyte is not decoded', async () => {
    const big = new Uint8Array(1 << 20).fill(0x7f);
    const file = bytes([0x80, 0x02, 0x8b], u32(big.length), big, '.');
    const budget = pickleBudget(file.length, 60_000);
    const r = runPickle(file, 0, { global: () => null, persistent: () => null, extension: () => null, hazard: () => {} }, budget);
    assert.ok(r.value instanceof BigIntPlaceholder && r.value.byteLength === 1 << 20);
    const s = await inspect(file);
    assert.equal(s.format, 'pytorch');
    assert.equal(Object.keys(s.pickle.topLevel).length, 0);
  });

  test('one tensor under 400,000 names: listed under 16, the rest counted in a warning', async () => {
    const tensor = bytes(
      global0('torch._utils', '_rebuild_tensor_v2'), '(', '(', binunicode('storage'), global0('torch', 'FloatStorage'), binunicode('0'), binunicode('cpu'), 'K\x01tQ',
      'K\x00K\x01\x85K\x01\x85\x89', global0('collections', 'OrderedDict'), ')RtR', 'q\x01',
    );
    const n = 400_000;
    const parts: Uint8Array[] = [bytes([0x80, 0x02, 0x7d, 0x28]), bytes(binunicode('k0'), tensor)];
    for (let i = 1; i < n; i++) parts.push(bytes(binunicode(`k${i}`), 'h\x01'));
    parts.push(bytes('u.'));
    const s = await inspect(cat(parts), 'names.pt');
    assert.equal(s.tensors.length, 16);
    assert.ok(s.findings.some((f) => f.severity === 'warning' && new RegExp(`^${n - 16} more names of tensors`).test(f.message)));
  });

  test('a time budget: a pickle that takes longer than allowed stops with a message that names the file', async () => {
    const many = cat([[0x80, 0x02], ']', ...Array.from({ length: 300_000 }, () => 'K\x01a'), '.']);
    await assert.rejects(inspect(many, 'slow.pt', 0), (e: unknown) =>
      e instanceof InspectError && e.code === 'budget' && /^slow\.pt: .*takes longer to read than the time allowed/.test(e.message));
    const s = await inspect(many, 'slow.pt');
    assert.equal(s.format, 'pytorch');
    assert.equal(s.pickle.protocol, 2);
  });
});
