import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TtlCache } from './ttl-cache.ts';

function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** A load the test finishes by hand. */
function deferred<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: Error): void } {
  let resolve: (v: T) => void = () => undefined;
  let reject: (e: Error) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('a value answers for the TTL counted from its load start; then one load refreshes it', async () => {
  const c = clock();
  const cache = new TtlCache<string, number>({ ttlMs: 100, now: c.now });
  let loads = 0;
  const load = () => Promise.resolve(++loads);
  assert.equal(await cache.get('k', load), 1);
  c.advance(99);
  assert.equal(await cache.get('k', load), 1);
  assert.equal(cache.peek('k'), 1);
  c.advance(1);
  assert.equal(cache.peek('k'), undefined);
  assert.equal(await cache.get('k', load), 2);
  assert.deepEqual(cache.stats, { hits: 1, misses: 2 });
});

test('per-value TTLs; 0 is not kept', async () => {
  const c = clock();
  const cache = new TtlCache<string, string>({
    ttlMs: (v) => (v.startsWith('allowed') ? 10_000 : v.startsWith('denied') ? 2_000 : 0),
    now: c.now,
  });
  const seen: string[] = [];
  const load = (v: string) => () => {
    seen.push(v);
    return Promise.resolve(v);
  };
  await cache.get('a', load('allowed'));
  await cache.get('b', load('denied'));
  c.advance(1_999);
  assert.equal(await cache.get('a', load('x')), 'allowed');
  assert.equal(await cache.get('b', load('x')), 'denied');
  c.advance(1);
  assert.equal(await cache.get('b', load('denied again')), 'denied again');
  await cache.get('z', load('uncached'));
  await cache.get('z', load('uncached'));
  assert.deepEqual(seen, ['allowed', 'denied', 'denied again', 'uncached', 'uncached']);
});

test('concurrent gets share one load (a join is a hit); a failed load is not kept', async () => {
  const results: string[] = [];
  const cache = new TtlCache<string, number>({
    ttlMs: 1_000,
    onLookup: (r) => results.push(r),
  });
  const slow = deferred<number>();
  let loads = 0;
  const first = cache.get('k', () => (loads++, slow.promise));
  const second = cache.get('k', () => (loads++, slow.promise));
  slow.resolve(7);
  assert.deepEqual(await Promise.all([first, second]), [7, 7]);
  assert.equal(loads, 1);
  assert.deepEqual(results, ['miss', 'hit']);

  await assert.rejects(
    cache.get('e', () => Promise.reject(new Error('down'))),
    /down/,
  );
  assert.equal(await cache.get('e', () => Promise.resolve(1)), 1);
  assert.deepEqual(cache.stats, { hits: 1, misses: 3 });
});

test('bounded: past maxEntries the oldest go first', async () => {
  const cache = new TtlCache<string, number>({ ttlMs: 60_000, maxEntries: 3 });
  for (let i = 0; i < 1_000; i++) await cache.get(`junk-${i}`, () => Promise.resolve(i));
  assert.equal(cache.size, 3);
  assert.deepEqual(
    ['junk-0', 'junk-996', 'junk-997', 'junk-998', 'junk-999'].map((k) => cache.peek(k)),
    [undefined, undefined, 997, 998, 999],
  );
});

test('notBefore skips older values and loads in flight; fresh always loads', async () => {
  const c = clock();
  const cache = new TtlCache<string, string>({ ttlMs: 60_000, now: c.now });
  await cache.get('k', () => Promise.resolve('at 1000'));
  c.advance(10);
  assert.equal(await cache.get('k', () => Promise.resolve('x'), { notBefore: 1_000 }), 'at 1000');
  const slow = deferred<string>();
  const late = cache.get('k', () => slow.promise, { notBefore: 1_005 });
  let loads = 0;
  const other = () => (loads++, Promise.resolve('other'));
  // The load started at 1010: joined by a caller asking for 1010 or earlier, not for 1015.
  const joined = cache.get('k', other, { notBefore: 1_010 });
  c.advance(10);
  assert.equal(await cache.get('k', other, { notBefore: 1_015 }), 'other');
  assert.equal(loads, 1);
  slow.resolve('at 1010');
  assert.deepEqual(await Promise.all([late, joined]), ['at 1010', 'at 1010']);
  assert.equal(cache.peek('k'), 'other', 'the older load does not replace the newer value');
  assert.equal(await cache.get('k', () => Promise.resolve('at 1020'), { fresh: true }), 'at 1020');
  assert.equal(cache.peek('k'), 'at 1020');
});

test('a load finishing late never replaces a newer value', async () => {
  const cache = new TtlCache<string, string>({ ttlMs: 60_000 });
  const old = deferred<string>();
  const older = cache.get('k', () => old.promise);
  await cache.get('k', () => Promise.resolve('newer'), { fresh: true });
  old.resolve('older');
  assert.equal(await older, 'older');
  assert.equal(cache.peek('k'), 'newer');
});

test('delete drops the value but keeps the load in flight; invalidate drops both', async () => {
  const cache = new TtlCache<string, string>({ ttlMs: 60_000 });
  await cache.get('k', () => Promise.resolve('v1'));
  cache.delete('k');
  assert.equal(cache.peek('k'), undefined);

  const a = deferred<string>();
  const first = cache.get('k', () => a.promise);
  cache.delete('k');
  const joined = cache.get('k', () => Promise.resolve('not called'));
  a.resolve('v2');
  assert.deepEqual(await Promise.all([first, joined]), ['v2', 'v2']);
  assert.equal(cache.peek('k'), 'v2');

  const b = deferred<string>();
  const overtaken = cache.get('k', () => b.promise, { fresh: true });
  cache.invalidate('k');
  assert.equal(cache.peek('k'), undefined);
  const after = cache.get('k', () => Promise.resolve('v4'));
  b.resolve('v3');
  assert.equal(await overtaken, 'v3', 'whoever waited gets the answer');
  assert.equal(await after, 'v4', 'a get after invalidate() does not join the earlier load');
  assert.equal(cache.peek('k'), 'v4');
  cache.invalidate('k');
  assert.equal(cache.size, 0);
});

test('dropAtExpiry: the value is dropped when its TTL ends, not on the next access', async () => {
  const c = clock();
  const timers: { fn: () => void; ms: number }[] = [];
  const cache = new TtlCache<string, string>({
    ttlMs: 100,
    now: c.now,
    dropAtExpiry: (fn, ms) => timers.push({ fn, ms }),
  });
  await cache.get('k', () => Promise.resolve('v'));
  assert.deepEqual(
    timers.map((t) => t.ms),
    [100],
  );
  assert.equal(cache.size, 1);
  c.advance(100);
  timers[0]?.fn();
  assert.equal(cache.size, 0);
});

test("a caller's abort ends only its wait: the shared load goes on, answers the others and is kept", async () => {
  const cache = new TtlCache<string, number>({ ttlMs: 1_000 });
  const slow = deferred<number>();
  let loads = 0;
  const load = () => (loads++, slow.promise);
  const quitter = new AbortController();
  const first = cache.get('k', load, { signal: quitter.signal });
  const second = cache.get('k', load);
  const reason = new Error('shutting down');
  quitter.abort(reason);
  await assert.rejects(first, (err) => err === reason);
  slow.resolve(7);
  assert.equal(await second, 7);
  assert.equal(cache.peek('k'), 7);
  assert.equal(loads, 1);
  // Already aborted: no wait at all, and no load started for it.
  await assert.rejects(
    cache.get('other', load, { signal: quitter.signal }),
    (err) => err === reason,
  );
  assert.equal(loads, 1);
  assert.equal(await cache.get('k', load, { signal: new AbortController().signal }), 7);
});
