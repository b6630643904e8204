// A shared, short-lived view of the project's instances: one paginated instance_list serves every
// Node lookup within the TTL, and concurrent refreshes share one request (single-flight), so a
// burst of 1000 joining Nodes costs about one list instead of 1000 views. Absence from a snapshot
// is never proof that an instance is gone: callers confirm with a view by id.
import type { ExternalIp, Instance, InstanceNetworkInterface } from '@oxide/api';
import type { OxideClient } from './client.ts';
import { Semaphore } from './semaphore.ts';

export interface InstanceInventoryOptions {
  /** How long a snapshot answers lookups; default 2 s. */
  ttlMs?: number;
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

export class InstanceInventory {
  private readonly client: OxideClient;
  private readonly ttlMs: number;
  private readonly perInstance: Semaphore;
  private current: InstanceSnapshot | undefined;
  private inflight: { startedAt: number; promise: Promise<InstanceSnapshot> } | undefined;

  constructor(client: OxideClient, options: InstanceInventoryOptions = {}) {
    this.client = client;
    this.ttlMs = options.ttlMs ?? 2_000;
    this.perInstance = new Semaphore(options.concurrency ?? 16);
  }

  /** A snapshot no older than the TTL; joins a list already in flight. */
  snapshot(): Promise<InstanceSnapshot> {
    const now = performance.now();
    if (this.current && now - this.current.startedAt < this.ttlMs) {
      return Promise.resolve(this.current);
    }
    return this.fresh(now - this.ttlMs);
  }

  /**
   * A snapshot whose list started at or after `notBefore` (default: now), for decisions that
   * must not rest on what was true before the caller asked.
   */
  fresh(notBefore = performance.now()): Promise<InstanceSnapshot> {
    if (this.current && this.current.startedAt >= notBefore) return Promise.resolve(this.current);
    if (this.inflight && this.inflight.startedAt >= notBefore) return this.inflight.promise;
    const startedAt = performance.now();
    const promise = this.client.listInstances().then((instances) => {
      const snap = new InstanceSnapshot(instances, startedAt);
      if (!this.current || this.current.startedAt < startedAt) this.current = snap;
      return snap;
    });
    const entry = { startedAt, promise };
    this.inflight = entry;
    const clear = () => {
      if (this.inflight === entry) this.inflight = undefined;
    };
    promise.then(clear, clear);
    return promise;
  }

  /** Drops the snapshot, e.g. after the provider learned that it is wrong. */
  invalidate(): void {
    this.current = undefined;
  }

  /** Every NIC of the instance (every page), bounded by the per-instance semaphore. */
  nics(instanceId: string): Promise<InstanceNetworkInterface[]> {
    return this.perInstance.run(() => this.client.listInstanceNics(instanceId));
  }

  externalIps(instanceId: string): Promise<ExternalIp[]> {
    return this.perInstance.run(() => this.client.listInstanceExternalIps(instanceId));
  }
}
