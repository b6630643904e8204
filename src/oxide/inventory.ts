// Shared, short-lived views of the project: one paginated instance_list serves every Node lookup
// within its TTL, one walk of the project's VPC subnets (vpc_list, vpc_subnet_list,
// vpc_subnet_list_network_interfaces) serves every NIC lookup within its TTL, and one
// floating_ip_list serves every instance's floating IPs. Concurrent refreshes
// share one walk (single-flight), so a burst of 1000 joining Nodes costs a few lists instead of
// 1000 per-instance calls. A view is dropped when its TTL ends, so memory at idle does not hold
// the project. Absence from a view is never proof: instances are confirmed with a view by id,
// NICs with the per-instance list.
//
// An instance's ephemeral (and SNAT) IPs have no project-wide list: they are read with the
// instance's own external-IP list when its Node is first looked up, and again about every two
// hours (each instance at its own time, so an address refresh re-reads about a 24th of them); its
// floating IPs, which the load balancer moves, come from the project's list at every refresh. So
// a refresh costs list pages, not a call per Node (docs/architecture.md, "Provider").
//
// When the walk fails (an Oxide that refuses vpc_list or a subnet's NIC list, e.g. 403 for a
// token without VPC read access), NIC lookups fall back to each instance's own list, cached like
// the walk. The failed walk is tried again once per `walkRetryMs` (the address refresh period),
// not on every lookup, and each change of state is logged once and shown in
// oxide_ccm_nic_walk_fallback.
import type { ExternalIp, Instance, InstanceNetworkInterface } from '@oxide/api';
import type { OxideClient } from './client.ts';
import { listFloatingIps } from './floating-ips.ts';
import { listInstanceExternalIps, listInstances } from './instances.ts';
import { listInstanceNics, listSubnetNics } from './network-interfaces.ts';
import { listSubnets } from './subnets.ts';
import { listVpcs } from './vpcs.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { Semaphore } from '../util/async.ts';
import { TtlCache } from '../util/ttl-cache.ts';
import { isOxideError } from './errors.ts';
import { countCacheLookups, inventoryMetrics } from './metrics.ts';

export interface InstanceInventoryOptions {
  /** How long an instance snapshot answers lookups of state (run state); default 2 s. */
  ttlMs?: number;
  /**
   * How long a snapshot answers lookups of identity only (which instance a Node name or id is,
   * its hostname and size): default 30 s, or ttlMs when that is given. During a burst of Nodes
   * joining at QPS 20 (100 s for 1000 Nodes) a 2 s TTL listed the whole project ~50 times.
   */
  identityTtlMs?: number;
  /**
   * How long a NIC view answers lookups; default 60 s. A NIC changes only while its instance is
   * stopped, and an instance missing from the view refreshes it, so this bounds only how late
   * a NIC added to or removed from a stopped instance shows in the Node's addresses.
   */
  nicTtlMs?: number;
  /**
   * How long an instance's own external-IP list (its ephemeral and SNAT IPs) answers, on
   * average; each entry lives a random 75–125 % of it so re-reads spread over refreshes.
   * Default 2 hours. Its floating IPs are read from the project's list at every refresh instead.
   */
  instanceIpTtlMs?: number;
  /** Concurrent per-instance requests (NICs, external IPs); default 16. */
  concurrency?: number;
  /**
   * After a failed NIC walk, how long per-instance NIC lists answer before the walk is tried
   * again; default 5 min (--node-status-update-frequency's default, which the program passes).
   */
  walkRetryMs?: number;
  /** Where the walk's fallback is reported (once per change of state). */
  log?: Logger;
}

/** The project's floating IPs by the instance they are attached to. */
class FloatingSnapshot {
  readonly byInstance = new Map<string, ExternalIp[]>();
  /** Instances this view answered an `advance` lookup for, as NicSnapshot.advanced. */
  readonly advanced = new Set<string>();
}

/** Why the project-wide NIC walk is not used, for the log line and the metric. */
interface WalkFailure {
  operation: string;
  /** HTTP status; 0 when no response came. */
  status: number;
  message: string;
  /** The error itself: every caller that shared one failed walk sees it, counted once. */
  error: unknown;
  /** performance.now() of the failure: the walk is not tried again before walkRetryMs from it. */
  at: number;
}

export class InstanceSnapshot {
  /** performance.now() when the list request started: the snapshot is at least this fresh. */
  readonly startedAt: number;
  readonly instances: readonly Instance[];
  private readonly ids = new Map<string, Instance>();
  private readonly names = new Map<string, Instance>();
  private readonly hostnames = new Map<string, Instance[]>();

  constructor(instances: readonly Instance[], startedAt: number) {
    this.instances = instances;
    this.startedAt = startedAt;
    for (const instance of instances) {
      this.ids.set(instance.id, instance);
      this.names.set(instance.name, instance);
      const same = this.hostnames.get(instance.hostname);
      if (same) same.push(instance);
      else this.hostnames.set(instance.hostname, [instance]);
    }
  }

  byId(id: string): Instance | undefined {
    return this.ids.get(id);
  }

  byName(name: string): Instance | undefined {
    return this.names.get(name);
  }

  /** Hostnames are not unique in a project, so this may return several. */
  byHostname(hostname: string): readonly Instance[] {
    return this.hostnames.get(hostname) ?? [];
  }

  /** Distinct instances whose name or hostname equals `nodeName`. */
  matching(nodeName: string): Instance[] {
    const found = new Map<string, Instance>();
    const named = this.byName(nodeName);
    if (named) found.set(named.id, named);
    for (const instance of this.byHostname(nodeName)) found.set(instance.id, instance);
    return [...found.values()];
  }
}

/** Every NIC of the project by instance id, each instance's NICs in the API's (name) order. */
export class NicSnapshot {
  readonly startedAt: number;
  /** Instances this view answered an `advance` lookup for: it has nothing newer for them. */
  readonly advanced = new Set<string>();
  private readonly byInstance = new Map<string, InstanceNetworkInterface[]>();

  constructor(nics: readonly InstanceNetworkInterface[], startedAt: number) {
    this.startedAt = startedAt;
    for (const nic of nics) {
      const list = this.byInstance.get(nic.instanceId);
      if (list) list.push(nic);
      else this.byInstance.set(nic.instanceId, [nic]);
    }
    // instance_network_interface_list's default order, which the Node's address order follows.
    for (const list of this.byInstance.values()) {
      list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
  }

  of(instanceId: string): InstanceNetworkInterface[] | undefined {
    return this.byInstance.get(instanceId);
  }
}

export interface NicLookupOptions {
  /**
   * Never answer this instance twice from one view: a lookup for an instance the cached view
   * already answered this way waits for a newer walk, which every such lookup joins (a pass over
   * all Nodes re-reads their addresses from one walk that started after the pass did). The same
   * holds for its floating IPs (externalIps) and, while the walk fails, its own NIC list.
   */
  advance?: boolean;
}

export class InstanceInventory {
  private readonly client: OxideClient;
  private readonly perInstance: Semaphore;
  private readonly ttlMs: number;
  private readonly identityTtlMs: number;
  private readonly nicTtlMs: number;
  // One key each: a view is the whole project's. Dropped when their TTL ends, so an idle process
  // does not hold the project.
  private readonly instances: TtlCache<'project', InstanceSnapshot>;
  private readonly nicView: TtlCache<'project', NicSnapshot>;
  /** Per instance: its non-floating external IPs, each entry with its own (jittered) TTL. */
  private readonly instanceIps: TtlCache<string, { ips: ExternalIp[]; ttlMs: number }>;
  private readonly instanceIpTtlMs: number;
  /** The project's floating IPs by instance id, one list per refresh (or per NIC TTL). */
  private readonly floatingView: TtlCache<'project', FloatingSnapshot>;
  /** Per-instance NIC lists: what answers while the walk fails, and for instances it misses. */
  private readonly instanceNics: TtlCache<string, InstanceNetworkInterface[]>;
  private readonly walkRetryMs: number;
  private readonly log: Logger;
  /** Set while NIC lookups fall back to per-instance lists. */
  private walkFailure: WalkFailure | undefined;

  constructor(client: OxideClient, options: InstanceInventoryOptions = {}) {
    this.client = client;
    this.perInstance = new Semaphore(options.concurrency ?? 16);
    this.walkRetryMs = options.walkRetryMs ?? 300_000;
    this.log = options.log ?? silentLogger;
    this.ttlMs = options.ttlMs ?? 2_000;
    this.identityTtlMs = options.identityTtlMs ?? options.ttlMs ?? 30_000;
    // Kept for the longer of the two; state lookups ask for a younger one (notBefore).
    this.instances = new TtlCache({
      onLookup: countCacheLookups('instances'),
      ttlMs: Math.max(this.ttlMs, this.identityTtlMs),
      dropAtExpiry: true,
    });
    this.nicTtlMs = options.nicTtlMs ?? 60_000;
    this.nicView = new TtlCache({
      onLookup: countCacheLookups('network_interfaces'),
      ttlMs: this.nicTtlMs,
      dropAtExpiry: true,
    });
    this.instanceNics = new TtlCache({
      onLookup: countCacheLookups('instance_network_interfaces'),
      ttlMs: this.nicTtlMs,
      dropAtExpiry: true,
    });
    this.instanceIpTtlMs = options.instanceIpTtlMs ?? 7_200_000;
    this.instanceIps = new TtlCache({
      onLookup: countCacheLookups('instance_external_ips'),
      ttlMs: (v) => v.ttlMs,
      dropAtExpiry: true,
    });
    this.floatingView = new TtlCache({
      onLookup: countCacheLookups('floating_ips_by_instance'),
      ttlMs: this.nicTtlMs,
      dropAtExpiry: true,
    });
    inventoryMetrics.nicWalkFallback.set(0);
  }

  /**
   * A snapshot no older than the TTL; joins a list already in flight unless that one started
   * longer than the TTL ago (a hung list does not hold every lookup until it times out).
   */
  snapshot(signal?: AbortSignal): Promise<InstanceSnapshot> {
    return this.fresh(performance.now() - this.ttlMs, signal);
  }

  /**
   * A snapshot for identity only (no older than identityTtlMs): which instance a name or id is,
   * never its run state. An instance missing from it is looked up again (fresh), so a new
   * instance is found at once; one deleted since answers 404 to the per-instance calls that
   * follow.
   */
  identities(signal?: AbortSignal): Promise<InstanceSnapshot> {
    return this.fresh(performance.now() - this.identityTtlMs, signal);
  }

  /**
   * A snapshot whose list started at or after `notBefore` (default: now), for decisions that
   * must not rest on what was true before the caller asked. The list is shared: `signal` ends
   * only this caller's wait, never the list others wait on too.
   */
  fresh(notBefore = performance.now(), signal?: AbortSignal): Promise<InstanceSnapshot> {
    return this.instances.get('project', this.loadInstances, { notBefore, signal });
  }

  /** Drops the snapshot, e.g. after the provider learned that it is wrong. */
  invalidate(): void {
    this.instances.delete('project');
  }

  /**
   * Every NIC of the instance, in the API's order: from the project's NIC view; when the
   * instance is not in it, from a view started after this call; when not there either (no NIC
   * in a subnet of the project's VPCs), or while the walk fails, from the instance's own list.
   */
  async nics(
    instanceId: string,
    signal?: AbortSignal,
    options: NicLookupOptions = {},
  ): Promise<InstanceNetworkInterface[]> {
    const asked = performance.now();
    if (this.walkAllowed(asked)) {
      try {
        // As snapshot(): a walk in flight for longer than the TTL is not joined.
        const current = (): Promise<NicSnapshot> =>
          this.walk({ notBefore: asked - this.nicTtlMs, signal });
        let view = await current();
        // The value only, not a walk in flight: that one started after this view and is joined.
        for (let i = 0; options.advance && view.advanced.has(instanceId) && i < 3; i++) {
          if (this.nicView.peek('project') === view) this.nicView.delete('project');
          view = await current();
        }
        let found = view.of(instanceId);
        if (!found && view.startedAt < asked) {
          view = await this.walk({ notBefore: asked, signal });
          found = view.of(instanceId);
        }
        if (found) {
          if (options.advance) view.advanced.add(instanceId);
          return found;
        }
      } catch {
        // The per-instance list below decides; it reports its own errors (an abort included).
        // The walk's own failure was recorded by walk().
      }
    }
    // Cached as the walk would be; an `advance` lookup (a Node's addresses) reads it afresh.
    return this.instanceNics.get(
      instanceId,
      () => this.perInstance.run(() => listInstanceNics(this.client, instanceId, signal)),
      { notBefore: asked - this.nicTtlMs, fresh: options.advance === true, signal },
    );
  }

  /**
   * Starts the NIC walk (or joins the one in flight) without waiting: it does not depend on which
   * instance is asked for, so a caller starts it alongside the instance lookup.
   */
  prefetchNics(): void {
    const now = performance.now();
    if (!this.walkAllowed(now)) return;
    this.walk({ notBefore: now - this.nicTtlMs }).catch(() => undefined);
  }

  /** Whether NIC lookups at `now` may use (or start) the walk: not while a recent one failed. */
  private walkAllowed(now: number): boolean {
    const failure = this.walkFailure;
    return failure === undefined || now - failure.at >= this.walkRetryMs;
  }

  /** The shared walk; a failure starts (or extends) the fallback, a success ends it. */
  private async walk(options: {
    notBefore: number;
    signal?: AbortSignal | undefined;
  }): Promise<NicSnapshot> {
    let view: NicSnapshot;
    try {
      view = await this.nicView.get('project', this.loadNics, options);
    } catch (err) {
      if (!options.signal?.aborted) this.walkFailed(err);
      throw err;
    }
    this.walkSucceeded(view);
    return view;
  }

  private walkFailed(err: unknown): void {
    const previous = this.walkFailure;
    if (previous?.error === err) return;
    const failure: WalkFailure = {
      operation: isOxideError(err) ? err.operation : 'network_interface_walk',
      status: isOxideError(err) ? err.status : 0,
      message: err instanceof Error ? err.message : String(err),
      error: err,
      at: performance.now(),
    };
    this.walkFailure = failure;
    inventoryMetrics.nicWalkFailures.inc({
      operation: failure.operation,
      status: String(failure.status),
    });
    if (previous?.operation === failure.operation && previous.status === failure.status) return;
    inventoryMetrics.nicWalkFallback.set(1);
    this.log.warn(
      {
        project: this.client.project,
        operation: failure.operation,
        status: failure.status,
        err: failure.message,
        retryInSeconds: Math.round(this.walkRetryMs / 1000),
      },
      "cannot list the project's NICs (vpc_list, vpc_subnet_list, vpc_subnet_list_network_interfaces); reading each instance's NICs instead (one more Oxide call per Node), see docs/troubleshooting.md",
    );
  }

  private walkSucceeded(view: NicSnapshot): void {
    const previous = this.walkFailure;
    // A view from before the failure (joined from the cache) says nothing about the walk now.
    if (previous === undefined || view.startedAt < previous.at) return;
    this.walkFailure = undefined;
    inventoryMetrics.nicWalkFallback.set(0);
    this.log.info(
      {
        project: this.client.project,
        previousOperation: previous.operation,
        previousStatus: previous.status,
      },
      "listing the project's NICs again; per-instance NIC lists no longer needed",
    );
  }

  /**
   * Every external IP of the instance the Node's addresses show (ephemeral, floating; SNAT too,
   * for the caller to skip). The first lookup of an instance reads its own list, in the API's
   * order; later ones combine its cached ephemeral and SNAT IPs with its floating IPs from the
   * project's list.
   */
  async externalIps(instanceId: string, signal?: AbortSignal): Promise<ExternalIp[]> {
    let full: ExternalIp[] | undefined;
    const own = await this.instanceIps.get(
      instanceId,
      async () => {
        full = await this.perInstance.run(() =>
          listInstanceExternalIps(this.client, instanceId, signal),
        );
        const jitter = 0.75 + Math.random() * 0.5;
        return {
          ips: full.filter((ip) => ip.kind !== 'floating'),
          ttlMs: this.instanceIpTtlMs * jitter,
        };
      },
      { signal },
    );
    if (full) return full;
    // As nics({ advance: true }): each read of an instance's addresses comes from a newer list
    // than the last one did, shared by the whole pass over the Nodes.
    const current = (): Promise<FloatingSnapshot> =>
      this.floatingView.get('project', this.loadFloating, { signal });
    let view = await current();
    for (let i = 0; view.advanced.has(instanceId) && i < 3; i++) {
      if (this.floatingView.peek('project') === view) this.floatingView.delete('project');
      view = await current();
    }
    view.advanced.add(instanceId);
    const floating = view.byInstance.get(instanceId);
    return floating ? [...own.ips, ...floating] : own.ips;
  }

  private readonly loadFloating = async (): Promise<FloatingSnapshot> => {
    const view = new FloatingSnapshot();
    for (const fip of await listFloatingIps(this.client)) {
      if (!fip.instanceId) continue;
      const ip: ExternalIp = { ...fip, kind: 'floating' };
      const list = view.byInstance.get(fip.instanceId);
      if (list) list.push(ip);
      else view.byInstance.set(fip.instanceId, [ip]);
    }
    return view;
  };

  private readonly loadInstances = async (): Promise<InstanceSnapshot> => {
    const startedAt = performance.now();
    return new InstanceSnapshot(await listInstances(this.client), startedAt);
  };

  private readonly loadNics = async (): Promise<NicSnapshot> => {
    const startedAt = performance.now();
    return new NicSnapshot(await this.listProjectNics(), startedAt);
  };

  /** vpc_list, then vpc_subnet_list per VPC, then vpc_subnet_list_network_interfaces per subnet. */
  private async listProjectNics(): Promise<InstanceNetworkInterface[]> {
    const client = this.client;
    // A project has a handful of VPCs and each a handful of subnets: a short page is the last.
    const small = { boundedCollection: true };
    const vpcs = await listVpcs(client, small);
    const subnets = (
      await Promise.all(vpcs.map((vpc) => listSubnets(client, vpc.id, small)))
    ).flat();
    const nics = await Promise.all(
      subnets.map((subnet) => this.perInstance.run(() => listSubnetNics(client, subnet.id))),
    );
    return nics.flat();
  }
}
