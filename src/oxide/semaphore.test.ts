import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Semaphore } from './semaphore.ts';

describe('Semaphore', () => {
  it('never runs more than its permits at once and runs everything', async () => {
    const sem = new Semaphore(3);
    let running = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sem.run(async () => {
          running += 1;
          peak = Math.max(peak, running);
          await sleep(2);
          running -= 1;
          return i;
        }),
      ),
    );
    assert.equal(peak, 3);
    assert.deepEqual(
      results,
      Array.from({ length: 20 }, (_, i) => i),
    );
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
