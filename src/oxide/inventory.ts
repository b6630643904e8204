// Shared, short-lived views of the project: one paginated instance_list serves every Node lookup
// within its TTL, and one walk of the project's VPC subnets (vpc_list, vpc_subnet_list,
// vpc_subnet_list_network_interfaces) serves every NIC lookup within its TTL. Concurrent refreshes
// share one walk (single-flight), so a burst of 1000 joining Nodes costs a few lists instead of
// 1000 per-instance calls. A view is dropped when its TTL ends, so memory at idle does not hold
// the project. Absence from a view is never proof: instances are confirmed with a view by id,
// NICs with the per-instance list.
import type { ExternalIp, Instance, InstanceNetworkInterface } from '@oxide/api';
import type { OxideClient } from './client.ts';
import { listInstanceExternalIps, listInstances } from './instances.ts';
import { listInstanceNics, listSubnetNics } from './network-interfaces.ts';
import { listSubnets } from './subnets.ts';
import { listVpcs } from './vpcs.ts';
import { Semaphore } from '../util/async.ts';
import { TtlCache } from '../util/ttl-cache.ts';
import { countCacheLookups } from './metrics.ts';

export interface InstanceInventoryOptions {
  /** How long an instance snapshot answers lookups; default 2 s. */
  ttlMs?: number;
  /**
   * How long a NIC view answers lookups; default 60 s. A NIC changes only while its instance is
   * stopped, and an instance missing from the view refreshes it, so this bounds only how late
   * a NIC added to or removed from a stopped instance shows in the Node's addresses.
   */
  nicTtlMs?: number;
  /** Concurrent per-instance requests (NICs, external IPs); default 16. */
  concurrency?: number;
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
   * all Nodes re-reads their addresses from one walk that started after the pass did).
   */
  advance?: boolean;
}

export class InstanceInventory {
  private readonly client: OxideClient;
  private readonly perInstance: Semaphore;
  private readonly ttlMs: number;
  private readonly nicTtlMs: number;
  // One key each: a view is the whole project's. Dropped when their TTL ends, so an idle process
  // does not hold the project.
  private readonly instances: TtlCache<'project', InstanceSnapshot>;
  private readonly nicView: TtlCache<'project', NicSnapshot>;

  constructor(client: OxideClient, options: InstanceInventoryOptions = {}) {
    this.client = client;
    this.perInstance = new Semaphore(options.concurrency ?? 16);
    this.ttlMs = options.ttlMs ?? 2_000;
    this.instances = new TtlCache({
      onLookup: countCacheLookups('instances'),
      ttlMs: this.ttlMs,
      dropAtExpiry: true,
    });
    this.nicTtlMs = options.nicTtlMs ?? 60_000;
    this.nicView = new TtlCache({
      onLookup: countCacheLookups('network_interfaces'),
      ttlMs: this.nicTtlMs,
      dropAtExpiry: true,
    });
  }

  /**
   * A snapshot no older than the TTL; joins a list already in flight unless that one started
   * longer than the TTL ago (a hung list does not hold every lookup until it times out).
   */
  snapshot(signal?: AbortSignal): Promise<InstanceSnapshot> {
    return this.fresh(performance.now() - this.ttlMs, signal);
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
   * in a subnet of the project's VPCs, or the walk failed), from the instance's own list.
   */
  async nics(
    instanceId: string,
    signal?: AbortSignal,
    options: NicLookupOptions = {},
  ): Promise<InstanceNetworkInterface[]> {
    const asked = performance.now();
    try {
      // As snapshot(): a walk in flight for longer than the TTL is not joined.
      const current = (): Promise<NicSnapshot> =>
        this.nicView.get('project', this.loadNics, { notBefore: asked - this.nicTtlMs, signal });
      let view = await current();
      // The value only, not a walk in flight: that one started after this view and is joined.
      for (let i = 0; options.advance && view.advanced.has(instanceId) && i < 3; i++) {
        if (this.nicView.peek('project') === view) this.nicView.delete('project');
        view = await current();
      }
      let found = view.of(instanceId);
      if (!found && view.startedAt < asked) {
        view = await this.nicView.get('project', this.loadNics, { notBefore: asked, signal });
        found = view.of(instanceId);
      }
      if (found) {
        if (options.advance) view.advanced.add(instanceId);
        return found;
      }
    } catch {
      // The per-instance list below decides; it reports its own errors (an abort included).
    }
    return this.perInstance.run(() => listInstanceNics(this.client, instanceId, signal));
  }

  /**
   * Starts the NIC walk (or joins the one in flight) without waiting: it does not depend on which
   * instance is asked for, so a caller starts it alongside the instance lookup.
   */
  prefetchNics(): void {
    this.nicView
      .get('project', this.loadNics, { notBefore: performance.now() - this.nicTtlMs })
      .catch(() => undefined);
  }

  externalIps(instanceId: string, signal?: AbortSignal): Promise<ExternalIp[]> {
    return this.perInstance.run(() => listInstanceExternalIps(this.client, instanceId, signal));
  }

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
