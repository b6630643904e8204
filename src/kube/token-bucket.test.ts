// The client-side limiter on shutdown: an aborted caller neither waits nor leaves a listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { TokenBucket } from './token-bucket.ts';

test('an aborted caller gives its turn up at once; the ones behind it are not held up', async () => {
  // One token, refilled once a minute: every wait below would last a minute.
  const bucket = new TokenBucket(1 / 60, 1);
  await bucket.take();
  const stop = new AbortController();
  const waiting = Array.from({ length: 5 }, () => bucket.take(stop.signal));
  stop.abort(new Error('leader election stopped'));
  const started = performance.now();
  for (const w of waiting) await assert.rejects(w, /leader election stopped/);
  await assert.rejects(bucket.take(stop.signal), /leader election stopped/);
  assert.ok(performance.now() - started < 1000, `${performance.now() - started} ms`);
});

test('a wait that ends leaves no listener on a long-lived signal', async () => {
  const bucket = new TokenBucket(100, 1);
  const lifetime = new AbortController();
  for (let i = 0; i < 5; i++) await bucket.take(lifetime.signal);
  assert.equal(getEventListeners(lifetime.signal, 'abort').length, 0);
});
