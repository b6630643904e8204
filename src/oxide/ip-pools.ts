// IP pool calls, and the short cache in front of the pool lookup.
import type { SiloIpPool } from '@oxide/api';
import type { OxideClient } from './client.ts';
import { TtlCache } from '../util/ttl-cache.ts';
import { countCacheLookups } from './metrics.ts';

export function viewIpPool(
  client: OxideClient,
  pool: string,
  signal?: AbortSignal,
): Promise<SiloIpPool> {
  return client.call(
    'ip_pool_view',
    (api, params) => api.methods.ipPoolView({ path: { pool } }, params),
    signal,
  );
}

/**
 * Pools change rarely (an operator's act), and a pool annotation is checked on every ensure, so
 * lookups are cached briefly; concurrent lookups of one pool share a request.
 */
export class IpPoolCache {
  private readonly client: OxideClient;
  private readonly cache: TtlCache<string, SiloIpPool>;

  constructor(client: OxideClient, ttlMs = 60_000) {
    this.client = client;
    this.cache = new TtlCache({ onLookup: countCacheLookups('ip_pools'), ttlMs });
  }

  /** `signal` ends this caller's wait only: the lookup is shared with concurrent callers. */
  get(pool: string, signal?: AbortSignal): Promise<SiloIpPool> {
    return this.cache.get(pool, () => viewIpPool(this.client, pool), { signal });
  }
}
