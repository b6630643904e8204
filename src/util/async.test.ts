import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Semaphore, mapConcurrent, sleep } from './async.ts';

/** Tasks the test finishes by hand, to see how many run at once. */
function gate(): { wait(): Promise<void>; open(): void; waiting(): number } {
  let waiters: (() => void)[] = [];
  return {
    wait: () => new Promise<void>((resolve) => waiters.push(resolve)),
    open: () => {
      const w = waiters;
      waiters = [];
      for (const resolve of w) resolve();
    },
    waiting: () => waiters.length,
  };
}

/** Lets every settled promise run its continuations. */
const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('sleep', () => {
  it('resolves at once when the signal aborts, and when it is already aborted', async () => {
    const controller = new AbortController();
    const long = sleep(3_600_000, controller.signal);
    controller.abort();
    await long;
    await sleep(3_600_000, controller.signal);
  });
});

describe('Semaphore', () => {
  it('never runs more than its permits at once and runs everything', async () => {
    const sem = new Semaphore(3);
    const g = gate();
    const all = Promise.all(
      Array.from({ length: 7 }, (_, i) => sem.run(async () => (await g.wait(), i))),
    );
    for (const expected of [3, 3, 1]) {
      await drain();
      assert.equal(g.waiting(), expected);
      g.open();
    }
    assert.deepEqual(await all, [0, 1, 2, 3, 4, 5, 6]);
  });

  it('releases the permit when the task throws', async () => {
    const sem = new Semaphore(1);
    await assert.rejects(
      sem.run(() => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await sem.run(async () => 'next'), 'next');
  });
});

describe('mapConcurrent', () => {
  it('runs at most `limit` at once, results in order', async () => {
    const g = gate();
    const result = mapConcurrent([1, 2, 3, 4, 5], 2, async (n) => (await g.wait(), n * 10));
    for (const expected of [2, 2, 1]) {
      await drain();
      assert.equal(g.waiting(), expected);
      g.open();
    }
    assert.deepEqual(await result, [10, 20, 30, 40, 50]);
    assert.deepEqual(await mapConcurrent([], 4, () => Promise.resolve(1)), []);
  });

  it('stops taking items after a failure and throws it once the running ones settle', async () => {
    const started: number[] = [];
    await assert.rejects(
      mapConcurrent([1, 2, 3, 4, 5, 6], 2, async (n) => {
        started.push(n);
        if (n === 2) throw new Error('two');
        await drain();
        return n;
      }),
      /two/,
    );
    assert.deepEqual(started, [1, 2], 'item 2 failed before item 1 finished: 3 never starts');
  });
});
