import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TtlCache } from '../util/ttl-cache.ts';
import { cacheMetrics, countCacheLookups } from './metrics.ts';

test('a cache counted by countCacheLookups shows its lookups in oxide_ccm_cache_requests_total', async () => {
  const count = async (status: string): Promise<number> =>
    (await cacheMetrics.requests.get()).values.find(
      (v) => v.labels.cache === 'metrics_test' && v.labels.status === status,
    )?.value ?? 0;
  const cache = new TtlCache<string, number>({
    onLookup: countCacheLookups('metrics_test'),
    ttlMs: 60_000,
  });
  await cache.get('k', () => Promise.resolve(1));
  await cache.get('k', () => Promise.resolve(2));
  await cache.get('k', () => Promise.resolve(3));
  assert.equal(await count('miss'), 1);
  assert.equal(await count('hit'), 2);
});
