import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { registerKubeMetrics } from './metrics.ts';
import {
  BucketBackoff,
  CONTROLLER_RETRY_MAX_MS,
  controllerRateLimiter,
  ExponentialBackoff,
  WorkQueue,
} from './workqueue.ts';

// This layer's families, read as a scrape of the process's registry would show them.
const registry = new Registry();
registerKubeMetrics(registry);

test('a key added many times while waiting is handed out once', async () => {
  const q = new WorkQueue({ name: 'test-dedupe' });
  q.add('a');
  q.add('a');
  q.add('b');
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  q.shutDown();
});

test('a key is never processed twice at once; an add during processing replays after done', async () => {
  const q = new WorkQueue({ name: 'test-processing' });
  q.add('a');
  const key = await q.get();
  q.add('a');
  assert.equal(q.len(), 0, 'held back while a is processed');
  q.done(key ?? '');
  assert.equal(q.len(), 1);
  assert.equal(await q.get(), 'a');
  q.shutDown();
});

test('addAfter delivers later, and the earlier schedule of a key wins', async () => {
  const q = new WorkQueue({ name: 'test-after' });
  q.addAfter('a', 30);
  q.addAfter('a', 5000);
  const started = Date.now();
  assert.equal(await q.get(), 'a');
  assert.ok(Date.now() - started < 2000);
  q.shutDown();
});

test('exponential backoff doubles per key up to the cap and forget resets it', () => {
  const b = new ExponentialBackoff(5, 40);
  assert.deepEqual(
    [b.when('k'), b.when('k'), b.when('k'), b.when('k'), b.when('k')],
    [5, 10, 20, 40, 40],
  );
  assert.equal(b.when('other'), 5);
  assert.equal(b.retries('k'), 5);
  b.forget('k');
  assert.equal(b.when('k'), 5);
});

test('shutDown releases waiting workers with undefined', async () => {
  const q = new WorkQueue({ name: 'test-shutdown' });
  const waiting = q.get();
  q.shutDown();
  assert.equal(await waiting, undefined);
});

test('the bucket lets a burst of retries through, then spaces them at its rate', () => {
  let now = 0;
  const b = new BucketBackoff(10, 3, () => now);
  assert.deepEqual(
    [b.when(), b.when(), b.when(), b.when(), b.when()],
    [0, 0, 0, 100, 200],
    'reservations queue up behind each other',
  );
  now += 1000; // 10 tokens earned, 2 owed
  assert.equal(b.when(), 0);
});

test('the controller rate limiter: per-key exponential from 5 ms, capped, and an overall bucket', () => {
  const r = controllerRateLimiter();
  const delays = Array.from({ length: 30 }, () => r.when('node-a'));
  assert.equal(delays[0], 5);
  assert.equal(delays[1], 10);
  assert.equal(Math.max(...delays), CONTROLLER_RETRY_MAX_MS);
  assert.equal(r.retries('node-a'), 30);
  r.forget('node-a');
  assert.equal(r.when('node-a'), 5);
  // 100 keys failing at once use up the burst: the next ones wait for the 10/s bucket.
  const mass = controllerRateLimiter();
  const first = Array.from({ length: 100 }, (_, i) => mass.when(`k${i}`));
  assert.ok(first.every((d) => d === 5));
  const later = mass.when('k-late');
  assert.ok(later >= 90 && later <= 110, `bucket delay ${later}`);
});

test('metrics: work in progress shows in unfinished/longest-running gauges, work_duration on done', async () => {
  const q = new WorkQueue({ name: 'metrics-test' });
  const value = async (name: string): Promise<number | undefined> =>
    (await registry.getMetricsAsJSON())
      .find((m) => m.name === name)
      ?.values.find((v) => v.labels['name'] === 'metrics-test' && !('le' in v.labels))?.value;
  q.add('a');
  q.add('b');
  assert.equal(await value('workqueue_depth'), 2);
  assert.equal(await value('workqueue_adds_total'), 2);
  const a = await q.get();
  const b = await q.get();
  const started = performance.now();
  while (performance.now() - started < 20) await new Promise((r) => setTimeout(r, 5));
  const longest = (await value('workqueue_longest_running_processor_seconds')) ?? 0;
  const unfinished = (await value('workqueue_unfinished_work_seconds')) ?? 0;
  assert.ok(longest >= 0.02, `longest ${longest}`);
  assert.ok(unfinished >= 2 * 0.02 && unfinished >= longest, `unfinished ${unfinished}`);
  q.done(a ?? '');
  q.done(b ?? '');
  assert.equal(await value('workqueue_longest_running_processor_seconds'), 0);
  const work = await registry.getSingleMetricAsString('workqueue_work_duration_seconds');
  assert.ok(work.includes('workqueue_work_duration_seconds_count{name="metrics-test"} 2'), work);
  q.shutDown();
  assert.equal(await value('workqueue_unfinished_work_seconds'), undefined);
});
