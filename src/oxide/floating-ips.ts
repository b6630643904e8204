// Floating IP calls, each through the shared client's `call` (timeouts, retries,
// metrics, typed errors). Only names the project's FIPs by UUID once known: a UUID together with
// the `project` selector is a 400.
import type { AddressAllocator, FloatingIp } from '@oxide/api';
import type { OxideClient } from './client.ts';
import { TtlCache } from '../util/ttl-cache.ts';
import { countCacheLookups } from './metrics.ts';

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

export function viewFloatingIp(
  client: OxideClient,
  nameOrId: string,
  signal?: AbortSignal,
): Promise<FloatingIp> {
  const isId = /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(nameOrId);
  return client.call(
    'floating_ip_view',
    (api, params) =>
      api.methods.floatingIpView(
        { path: { floatingIp: nameOrId }, query: isId ? {} : { project: client.project } },
        params,
      ),
    signal,
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
  signal?: AbortSignal,
): Promise<FloatingIp> {
  return client.call(
    'floating_ip_create',
    (api, params) =>
      api.methods.floatingIpCreate({ query: { project: client.project }, body: request }, params),
    signal,
  );
}

/** Rewrites the description (the owner record); name unchanged. Idempotent, so retries are safe. */
export function updateFloatingIpDescription(
  client: OxideClient,
  floatingIpId: string,
  description: string,
  signal?: AbortSignal,
): Promise<FloatingIp> {
  return client.call(
    'floating_ip_update',
    (api, params) =>
      api.methods.floatingIpUpdate(
        { path: { floatingIp: floatingIpId }, body: { description } },
        params,
      ),
    signal,
  );
}

/** Attaching to the instance it is already on is a no-op on the server, so retries are safe. */
export function attachFloatingIp(
  client: OxideClient,
  floatingIpId: string,
  instanceId: string,
  signal?: AbortSignal,
): Promise<FloatingIp> {
  return client.call(
    'floating_ip_attach',
    (api, params) =>
      api.methods.floatingIpAttach(
        { path: { floatingIp: floatingIpId }, body: { kind: 'instance', parent: instanceId } },
        params,
      ),
    signal,
  );
}

export function detachFloatingIp(
  client: OxideClient,
  floatingIpId: string,
  signal?: AbortSignal,
): Promise<FloatingIp> {
  return client.call(
    'floating_ip_detach',
    (api, params) => api.methods.floatingIpDetach({ path: { floatingIp: floatingIpId } }, params),
    signal,
  );
}

export async function deleteFloatingIp(
  client: OxideClient,
  floatingIpId: string,
  signal?: AbortSignal,
): Promise<void> {
  await client.call(
    'floating_ip_delete',
    (api, params) => api.methods.floatingIpDelete({ path: { floatingIp: floatingIpId } }, params),
    signal,
  );
}

/** Default of FloatingIpViewOptions.ttlMs. */
export const FLOATING_IP_VIEW_TTL_MS = 5000;

export interface FloatingIpViewOptions {
  /**
   * How long one list answers for everyone, in ms; 0 lists on every read. Changes this process
   * makes are written through at once; anyone else's (a user's edit, another CCM) show up within
   * this bound, or sooner when one of our writes trips over them.
   */
  ttlMs?: number;
}

type ById = Map<string, FloatingIp>;

interface Write {
  seq: number;
  id: string;
  fip: FloatingIp | undefined;
}

/**
 * The project's floating IPs as one process-wide view, so that reconciles of many Services share
 * one list (single-flight, kept for `ttlMs`) instead of each scanning every FIP. Write-through: each
 * create, attach, detach and delete made here is applied to the view from the API's answer,
 * including to a list that was already in flight (it may have read before the write), so no
 * reader sees a state older than the writes that have completed. A write that trips over
 * someone else's change should call `invalidate()` and re-read with `{ fresh: true }`.
 */
export class FloatingIpView {
  private readonly client: OxideClient;
  /** One key: the project's FIPs by id. */
  private readonly cache: TtlCache<'project', ById>;
  /** Orders lists and writes: a list replays the writes numbered after its own start. */
  private seq = 0;
  /** Writes that completed while a list was in flight, replayed over its answer. */
  private writes: Write[] = [];
  private listsInFlight = 0;
  /**
   * Lists that have answered but that the cache may not have taken in yet (it does so a
   * microtask later): writes in that gap are applied to them too. Each leaves at the next
   * macrotask.
   */
  private readonly landing = new Set<ById>();

  constructor(client: OxideClient, options: FloatingIpViewOptions = {}) {
    this.client = client;
    this.cache = new TtlCache({
      onLookup: countCacheLookups('floating_ips'),
      ttlMs: options.ttlMs ?? FLOATING_IP_VIEW_TTL_MS,
    });
  }

  /**
   * Every FIP of the project, a copy the caller may change. `fresh`: from a list that starts after
   * this call, not from the cache or a list already under way. `signal` ends this caller's wait
   * only: the list is shared with every reconcile reading the view meanwhile.
   */
  async list(options: { fresh?: boolean; signal?: AbortSignal } = {}): Promise<FloatingIp[]> {
    const byId = await this.cache.get('project', this.load, {
      fresh: options.fresh === true,
      signal: options.signal,
    });
    return [...byId.values()];
  }

  /** The view as of now without any request, or undefined when there is none (or it expired). */
  cached(): FloatingIp[] | undefined {
    const byId = this.cache.peek('project');
    return byId && [...byId.values()];
  }

  /** The FIP as the API returned it from a create, attach or detach. */
  put(fip: FloatingIp): void {
    this.write(fip.id, fip);
  }

  /** The FIP is gone (deleted here, or a 404 proved it). */
  remove(id: string): void {
    this.write(id, undefined);
  }

  /** Someone else changed the project's FIPs: the next read lists again, and lists begun before are not kept. */
  invalidate(): void {
    this.cache.invalidate('project');
  }

  private write(id: string, fip: FloatingIp | undefined): void {
    const seq = this.seq++;
    const current = this.cache.peek('project');
    if (current) apply(current, id, fip);
    for (const byId of this.landing) apply(byId, id, fip);
    if (this.listsInFlight > 0) this.writes.push({ seq, id, fip });
  }

  private readonly load = async (): Promise<ById> => {
    const seq = this.seq++;
    this.listsInFlight++;
    try {
      const fips = await listFloatingIps(this.client);
      const byId: ById = new Map(fips.map((f) => [f.id, f]));
      for (const w of this.writes) if (w.seq > seq) apply(byId, w.id, w.fip);
      this.landing.add(byId);
      // The cache takes the answer in (or declines it) in a microtask; by the next macrotask the
      // gap is over. Dropped here rather than by a reader, since every reader may have stopped
      // waiting (aborted) and the set would then keep a whole list for good.
      setImmediate(() => this.landing.delete(byId));
      return byId;
    } finally {
      if (--this.listsInFlight === 0) this.writes = [];
    }
  };
}

function apply(byId: Map<string, FloatingIp>, id: string, fip: FloatingIp | undefined): void {
  if (fip) byId.set(id, fip);
  else byId.delete(id);
}
