import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReviewCache } from './review-cache.ts';

function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test('answers live for their own TTL; 0 is not cached', async () => {
  const c = clock();
  const cache = new ReviewCache<string>({ maxEntries: 10, now: c.now });
  let loads = 0;
  const load = (value: string, ttlMs: number) => () => {
    loads++;
    return Promise.resolve({ value, ttlMs });
  };
  assert.equal(await cache.get('a', load('allowed', 10_000)).value, 'allowed');
  assert.equal(await cache.get('b', load('denied', 2_000)).value, 'denied');
  assert.equal(loads, 2);
  c.advance(1_999);
  assert.equal(cache.get('a', load('x', 1)).hit, true);
  assert.equal(cache.get('b', load('x', 1)).hit, true);
  c.advance(1);
  const b = cache.get('b', load('denied again', 2_000));
  assert.equal(b.hit, false);
  assert.equal(await b.value, 'denied again');
  c.advance(8_000);
  assert.equal(cache.get('a', load('allowed again', 10_000)).hit, false);
  assert.equal(loads, 4);
  await cache.get('z', load('uncached', 0)).value;
  assert.equal(cache.get('z', load('uncached', 0)).hit, false);
});

test('concurrent asks share one load; a failed load is not cached', async () => {
  const cache = new ReviewCache<number>({ maxEntries: 10 });
  let loads = 0;
  let release: (v: { value: number; ttlMs: number }) => void = () => undefined;
  const slow = () => {
    loads++;
    return new Promise<{ value: number; ttlMs: number }>((resolve) => (release = resolve));
  };
  const first = cache.get('k', slow);
  const second = cache.get('k', slow);
  assert.equal(first.hit, false);
  assert.equal(second.hit, true);
  release({ value: 7, ttlMs: 1_000 });
  assert.deepEqual(await Promise.all([first.value, second.value]), [7, 7]);
  assert.equal(loads, 1);

  const failing = cache.get('e', () => Promise.reject(new Error('apiserver down')));
  await assert.rejects(failing.value, /apiserver down/);
  const retried = cache.get('e', () => Promise.resolve({ value: 1, ttlMs: 1_000 }));
  assert.equal(retried.hit, false);
  assert.equal(await retried.value, 1);
});

test('bounded: past maxEntries the oldest answers go first', async () => {
  const cache = new ReviewCache<number>({ maxEntries: 3 });
  for (let i = 0; i < 1_000; i++)
    await cache.get(`junk-${i}`, () => Promise.resolve({ value: i, ttlMs: 60_000 })).value;
  assert.equal(cache.size, 3);
  assert.equal(cache.get('junk-999', () => Promise.resolve({ value: -1, ttlMs: 1 })).hit, true);
  assert.equal(cache.get('junk-0', () => Promise.resolve({ value: -1, ttlMs: 1 })).hit, false);
});
