import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { timeoutSignal } from './abort.ts';

test('timeoutSignal aborts with a TimeoutError after its time, and never once the work is done', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const late = timeoutSignal(1000);
    mock.timers.tick(999);
    assert.equal(late.signal.aborted, false);
    mock.timers.tick(1);
    assert.equal(late.signal.aborted, true);
    assert.equal((late.signal.reason as DOMException).name, 'TimeoutError');

    const finished = timeoutSignal(1000);
    finished.done();
    mock.timers.tick(5000);
    assert.equal(finished.signal.aborted, false, 'the timer ended with the work');
  } finally {
    mock.timers.reset();
  }
});
