// The Oxide client's families: API requests by OpenAPI operationId, and lookups in the shared
// caches in front of the API. Declared here beside the client; the composition root registers
// them (src/metrics-registry.ts).
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { secondsBuckets } from '../util/buckets.ts';

/**
 * Oxide API calls. The Go CCM exposes none, so no dashboard depends on a name; we keep
 * `oxide_api_*` (a `_total` counter and a latency histogram, by OpenAPI operationId) rather than
 * the in-tree providers' `cloudprovider_<name>_api_request_duration_seconds{request}`, which
 * predates Prometheus naming rules and has no request counter.
 */
export const oxideMetrics = {
  requests: new Counter({
    name: 'oxide_api_requests_total',
    help: 'Oxide API requests by operation and HTTP status (0 = no response)',
    labelNames: ['operation', 'status'],
    registers: [],
  }),
  duration: new Histogram({
    name: 'oxide_api_request_duration_seconds',
    help: 'Oxide API request latency by operation',
    labelNames: ['operation'],
    buckets: secondsBuckets,
    registers: [],
  }),
};

/**
 * Lookups in the shared caches (src/util/ttl-cache.ts) by cache name; `status` as upstream's
 * authentication_token_cache_request_total (which the TokenReview cache keeps instead).
 */
export const cacheMetrics = {
  requests: new Counter({
    name: 'oxide_ccm_cache_requests_total',
    help: 'Shared cache lookups by cache and status (hit: answered without a new Oxide request, joining one in flight included; miss)',
    labelNames: ['cache', 'status'],
    registers: [],
  }),
};

/**
 * The project-wide NIC walk of the instance inventory (src/oxide/inventory.ts): when Oxide
 * refuses it, NIC lookups fall back to one list per instance (docs/troubleshooting.md).
 */
export const inventoryMetrics = {
  nicWalkFallback: new Gauge({
    name: 'oxide_ccm_nic_walk_fallback',
    help: "1 while NIC lookups read each instance's own list because the walk of the project's VPC subnets (vpc_list, vpc_subnet_list, vpc_subnet_list_network_interfaces) failed; 0 while the walk answers",
    registers: [],
  }),
  nicWalkFailures: new Counter({
    name: 'oxide_ccm_nic_walk_failures_total',
    help: "Failed walks of the project's VPC subnets for NICs, by the failing operation and HTTP status (0 = no response)",
    labelNames: ['operation', 'status'],
    registers: [],
  }),
};

/** A TtlCache's onLookup that counts its lookups as `cache` (label children resolved once). */
export function countCacheLookups(cache: string): (result: 'hit' | 'miss') => void {
  const hit = cacheMetrics.requests.labels(cache, 'hit');
  const miss = cacheMetrics.requests.labels(cache, 'miss');
  return (result) => (result === 'hit' ? hit : miss).inc();
}

/** The families above, into the process's registry (called once, at the composition root). */
export function registerOxideMetrics(registry: Registry): void {
  for (const group of [oxideMetrics, cacheMetrics, inventoryMetrics])
    for (const metric of Object.values(group)) registry.registerMetric(metric);
}
