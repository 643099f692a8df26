// One cancellation error, recognised by type or code, never by its message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CancelledError, isCancelled } from '../../src/core/cancel';
import { CancelledError as FromSampler } from '../../src/core/sampler';

test('a cancellation is told by its type, name or code; an error that only says "Cancelled" is not one', () => {
  assert.equal(FromSampler, CancelledError, 'the sampler re-exports the one class');
  assert.ok(isCancelled(new CancelledError()));
  const dom = new CancelledError('Tensor statistics were cancelled.', 'AbortError');
  assert.ok(dom instanceof CancelledError && dom.name === 'AbortError' && isCancelled(dom));
  assert.ok(isCancelled(Object.assign(new Error('the engine stopped the job'), { code: 'cancelled' })));
  assert.ok(isCancelled(new DOMException('This operation was aborted', 'AbortError')));
  assert.ok(!isCancelled(new Error('Cancelled')), 'message text decides nothing');
  assert.ok(!isCancelled(Object.assign(new Error('x'), { code: 'crashed' })));
  assert.ok(!isCancelled(undefined) && !isCancelled(null) && !isCancelled('Cancelled'));
});
