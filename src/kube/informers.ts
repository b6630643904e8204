// One informer per resource for the whole process, shared by every controller that needs it
// (the node, node-lifecycle and service controllers all read Nodes from the same cache).
import type { V1Node, V1Service, V1EndpointSlice } from '@kubernetes/client-node';
import type { KubeClient } from './client.ts';
import { Informer } from './informer.ts';
import type { KubeObject } from './informer.ts';
import type { Logger } from '../log.ts';

const PROBE_INTERVAL_MS = 3_000;

export interface SharedInformersOptions {
  /**
   * client-go's informers.WithNamespace: namespaced resources (Services, EndpointSlices) are
   * listed and watched in this namespace only; Nodes stay cluster-wide. Default: every namespace.
   * Tests that share one apiserver scope their controllers this way.
   */
  namespace?: string;
}

export class SharedInformers {
  private readonly client: KubeClient;
  private readonly log: Logger;
  /** `/namespaces/<ns>` inserted before a namespaced resource, or nothing. */
  private readonly scope: string;
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly running: Promise<void>[] = [];
  private signal?: AbortSignal;
  private probedAt = 0;

  constructor(client: KubeClient, log: Logger, options: SharedInformersOptions = {}) {
    this.client = client;
    this.log = log;
    this.scope =
      options.namespace === undefined ? '' : `/namespaces/${encodeURIComponent(options.namespace)}`;
  }

  nodes(): Informer<V1Node> {
    return this.get<V1Node>('/api/v1/nodes', slimNode);
  }

  services(): Informer<V1Service> {
    return this.get<V1Service>(`/api/v1${this.scope}/services`, slimMetadata);
  }

  /** Optional: without RBAC for them, externalTrafficPolicy: Local targets any eligible Node. */
  endpointSlices(): Informer<V1EndpointSlice> {
    return this.get<V1EndpointSlice>(
      `/apis/discovery.k8s.io/v1${this.scope}/endpointslices`,
      slimSlice,
      'externalTrafficPolicy: Local',
    );
  }

  /**
   * Kubelet heartbeats (Leases in kube-node-lease), for load-balancer failover. Optional: without
   * RBAC for them the Lease signal is simply absent. Stored slimmed to name and renewTime: with
   * 1000 Nodes renewing every 10 s this is 100 events a second, so each must cost little.
   */
  nodeLeases(): Informer<NodeLease> {
    return this.get<NodeLease>(
      NODE_LEASES_PATH,
      slimLease,
      'load-balancer failover on kubelet Leases',
    );
  }

  /** Starts every informer requested so far (and any requested later). */
  start(signal: AbortSignal): void {
    this.signal = signal;
    for (const informer of this.informers.values()) this.running.push(informer.run(signal));
  }

  async waitForSync(signal: AbortSignal): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
  }

  /**
   * For /readyz: a reason when a cache is not synced, or when the apiserver stopped answering
   * (a watch or list failed and nothing has succeeded for a while). While failing, it probes
   * GET /version at most every few seconds, since a watch that resumed is not a request.
   */
  health(): string | undefined {
    const unsynced = [...this.informers]
      .filter(([, informer]) => !informer.hasSynced())
      .map(([path]) => path);
    if (unsynced.length > 0) return `caches not synced: ${unsynced.join(', ')}`;
    const reason = this.client.unreachable();
    if (reason && performance.now() - this.probedAt > PROBE_INTERVAL_MS) {
      this.probedAt = performance.now();
      this.client.get('/version', { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
    }
    return reason;
  }

  /** Resolves when every informer loop has ended (after the start signal aborted). */
  async stopped(): Promise<void> {
    await Promise.all(this.running);
  }

  private get<T extends KubeObject>(
    path: string,
    transform: (obj: T) => T,
    /** Optional cache: what needs it, for the warning when listing is forbidden. */
    neededFor?: string,
  ): Informer<T> {
    let informer = this.informers.get(path);
    if (!informer) {
      informer = new Informer<T>(this.client, {
        path,
        transform,
        onError: (err) => {
          this.client.noteFailure(err);
          this.log.warn({ path, err: String(err) }, 'list or watch failed; retrying');
        },
        optionalWhenForbidden: neededFor !== undefined,
        onForbidden: (err) =>
          this.log.warn(
            { path, err: String(err) },
            `not allowed to list; going on without this cache (grant the RBAC of our manifest: ${neededFor ?? 'a controller'} needs it) and retrying`,
          ),
      }) as unknown as Informer<KubeObject>;
      this.informers.set(path, informer);
      if (this.signal) this.running.push(informer.run(this.signal));
    }
    return informer as unknown as Informer<T>;
  }
}

// What the informers keep of each object. managedFields is often the largest part of an object
// and no controller reads it. Nodes are written back with PUT from the cached copy, so their
// metadata and spec stay whole; a PUT of a Node ignores status, so of status only what the
// controllers read is kept (kubelet's image list alone can be tens of KiB per Node).

/** The object without metadata.managedFields (a shallow copy; nothing else changes). */
export function slimMetadata<T extends { metadata?: { managedFields?: unknown } }>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/**
 * The Node conditions controllers read, and of each only type and status: Ready (node-lifecycle)
 * and NetworkUnavailable (route). Kubelet's others, and every reason, message and timestamp,
 * would be a few hundred bytes per Node kept for nothing.
 */
const KEPT_CONDITIONS = new Set(['Ready', 'NetworkUnavailable']);

/** Node: metadata without managedFields, spec, and of status only addresses and conditions. */
export function slimNode(node: V1Node): V1Node {
  const status = node.status;
  if (!status) return slimMetadata(node);
  const conditions = status.conditions
    ?.filter((c) => KEPT_CONDITIONS.has(c.type))
    .map((c) => ({ type: c.type, status: c.status }));
  return {
    apiVersion: node.apiVersion,
    kind: node.kind,
    metadata: slimMetadata(node).metadata,
    spec: node.spec,
    status: {
      ...(status.addresses ? { addresses: status.addresses } : {}),
      ...(conditions ? { conditions } : {}),
    },
  };
}

/** A kubelet's Lease as stored: whose it is and when it was renewed (kubelet's clock). */
export interface NodeLease {
  metadata?: { name?: string; resourceVersion?: string };
  spec?: { renewTime?: string };
}

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
const NODE_LEASES_PATH = `/apis/coordination.k8s.io/v1/namespaces/${NODE_LEASE_NAMESPACE}/leases`;

/** Lease: its name (the Node's) and renewTime; the namespace is implied by the path. */
export function slimLease(lease: NodeLease): NodeLease {
  const renewTime = lease.spec?.renewTime;
  return {
    metadata: { name: lease.metadata?.name, resourceVersion: lease.metadata?.resourceVersion },
    spec: renewTime === undefined ? {} : { renewTime: String(renewTime) },
  };
}

/** EndpointSlice: the Service label and, per endpoint, its Node and conditions. */
export function slimSlice(slice: V1EndpointSlice): V1EndpointSlice {
  const meta = slice.metadata ?? {};
  return {
    addressType: slice.addressType,
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      uid: meta.uid,
      resourceVersion: meta.resourceVersion,
      labels: meta.labels,
    },
    endpoints: (slice.endpoints ?? []).map((ep) => ({
      addresses: [],
      nodeName: ep.nodeName,
      conditions: ep.conditions,
    })),
  };
}
