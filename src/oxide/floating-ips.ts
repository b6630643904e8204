// Floating IP and IP pool calls, each through the shared client's `call` (timeouts, retries,
// metrics, typed errors). Only names the project's FIPs by UUID once known: a UUID together with
// the `project` selector is a 400.
import type { AddressAllocator, FloatingIp, SiloIpPool } from '@oxide/api';
import type { OxideClient } from './client.ts';

/** Every FIP of the project; each carries `instanceId`, so one list answers "where is it?". */
export function listFloatingIps(client: OxideClient, signal?: AbortSignal): Promise<FloatingIp[]> {
  return client.listAll<FloatingIp>(
    'floating_ip_list',
    (api, pageToken, limit, params) =>
      api.methods.floatingIpList(
        { query: { project: client.project, limit, pageToken, sortBy: 'id_ascending' } },
        params,
      ),
    signal,
  );
}

export function viewFloatingIp(client: OxideClient, nameOrId: string): Promise<FloatingIp> {
  const isId = /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(nameOrId);
  return client.call('floating_ip_view', (api, params) =>
    api.methods.floatingIpView(
      { path: { floatingIp: nameOrId }, query: isId ? {} : { project: client.project } },
      params,
    ),
  );
}

export interface FloatingIpCreateRequest {
  name: string;
  description: string;
  addressAllocator: AddressAllocator;
}

export function createFloatingIp(
  client: OxideClient,
  request: FloatingIpCreateRequest,
): Promise<FloatingIp> {
  return client.call('floating_ip_create', (api, params) =>
    api.methods.floatingIpCreate({ query: { project: client.project }, body: request }, params),
  );
}

/** Attaching to the instance it is already on is a no-op on the server, so retries are safe. */
export function attachFloatingIp(
  client: OxideClient,
  floatingIpId: string,
  instanceId: string,
): Promise<FloatingIp> {
  return client.call('floating_ip_attach', (api, params) =>
    api.methods.floatingIpAttach(
      { path: { floatingIp: floatingIpId }, body: { kind: 'instance', parent: instanceId } },
      params,
    ),
  );
}

export function detachFloatingIp(client: OxideClient, floatingIpId: string): Promise<FloatingIp> {
  return client.call('floating_ip_detach', (api, params) =>
    api.methods.floatingIpDetach({ path: { floatingIp: floatingIpId } }, params),
  );
}

export async function deleteFloatingIp(client: OxideClient, floatingIpId: string): Promise<void> {
  await client.call('floating_ip_delete', (api, params) =>
    api.methods.floatingIpDelete({ path: { floatingIp: floatingIpId } }, params),
  );
}

export function viewIpPool(client: OxideClient, pool: string): Promise<SiloIpPool> {
  return client.call('ip_pool_view', (api, params) =>
    api.methods.ipPoolView({ path: { pool } }, params),
  );
}

/**
 * Pools change rarely (an operator's act), and a pool annotation is checked on every ensure, so
 * lookups are cached briefly; concurrent lookups of one pool share a request.
 */
export class IpPoolCache {
  private readonly client: OxideClient;
  private readonly ttlMs: number;
  private readonly entries = new Map<string, { at: number; pool: Promise<SiloIpPool> }>();

  constructor(client: OxideClient, ttlMs = 60_000) {
    this.client = client;
    this.ttlMs = ttlMs;
  }

  get(pool: string): Promise<SiloIpPool> {
    const now = performance.now();
    const hit = this.entries.get(pool);
    if (hit && now - hit.at < this.ttlMs) return hit.pool;
    const entry = { at: now, pool: viewIpPool(this.client, pool) };
    this.entries.set(pool, entry);
    // A failed lookup must not be served from the cache.
    entry.pool.catch(() => {
      if (this.entries.get(pool) === entry) this.entries.delete(pool);
    });
    return entry.pool;
  }
}
