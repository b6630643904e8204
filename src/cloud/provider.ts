// The whole contract between the generic controllers and a cloud. Controllers import only this
// module from cloud/; the Oxide implementation lives in cloud/oxide/. Each capability is optional,
// as upstream: a provider without routes returns undefined and the route controller stays off.
// Every call takes the caller's signal last (upstream's ctx): when it aborts (shutdown, lost
// Lease) the call stops waiting and its Oxide requests in flight are aborted; a load shared with
// other callers goes on for them.
import type { V1Node, V1Service } from '@kubernetes/client-node';

export type NodeAddressType =
  'Hostname' | 'InternalIP' | 'ExternalIP' | 'InternalDNS' | 'ExternalDNS';

export interface NodeAddress {
  type: NodeAddressType;
  address: string;
}

export interface InstanceMetadata {
  /** Ends up in Node `spec.providerID` when that is empty. */
  providerID: string;
  /** Ends up in labels `node.kubernetes.io/instance-type` and `beta.kubernetes.io/instance-type`. */
  instanceType: string;
  /** Ends up in `status.addresses`, in this order (kubelet and users pick the first of a type). */
  nodeAddresses: NodeAddress[];
  /** Labels `topology.kubernetes.io/zone` (+ beta) when non-empty. */
  zone: string;
  /** Labels `topology.kubernetes.io/region` (+ beta) when non-empty. */
  region: string;
  /** Extra labels; never in the kubernetes.io / k8s.io domains, never overwrite a different value. */
  additionalLabels: Record<string, string>;
}

/** Thrown by Instances methods when the cloud says definitively that the instance does not exist. */
export class InstanceNotFoundError extends Error {
  override readonly name = 'InstanceNotFoundError';
}

export interface Instances {
  /**
   * False only when the cloud definitively says the Node's instance is gone (the node-lifecycle
   * controller then deletes the Node). Any doubt (timeouts, 5xx, auth) must throw instead.
   */
  instanceExists(node: V1Node, signal?: AbortSignal): Promise<boolean>;
  /** True when the instance is shut down: the Node gets the shutdown taint. */
  instanceShutdown(node: V1Node, signal?: AbortSignal): Promise<boolean>;
  /** Everything the node controller writes to an uninitialized Node. */
  instanceMetadata(node: V1Node, signal?: AbortSignal): Promise<InstanceMetadata>;
}

/**
 * Thrown by LoadBalancer methods when the Service itself is wrong (an invalid annotation value or
 * combination): nothing was created or deleted, retrying unchanged cannot help, and the message
 * (naming the annotation or field) belongs in a Warning event on the Service.
 */
export class InvalidServiceConfigError extends Error {
  override readonly name = 'InvalidServiceConfigError';
}

export interface LoadBalancerIngress {
  ip: string;
  ipMode?: 'VIP' | 'Proxy';
}

/**
 * Something the Service's author should know that did not stop the load balancer (an annotation
 * nobody reads, a floating IP left alone): a Warning event on the Service.
 */
export interface LoadBalancerWarning {
  reason: string;
  message: string;
}

export interface LoadBalancerStatus {
  ingress: LoadBalancerIngress[];
  /**
   * Everything worth a warning as of this call, all of it each time: the controller records
   * each warning once, and again only after a call without it (quiet at rest).
   */
  warnings?: LoadBalancerWarning[];
  /**
   * Names of the Nodes the load balancer sends traffic to now (optional; not written anywhere).
   * The service controller watches these Nodes' health and moves the load balancer when one
   * fails, and names them in its failover events.
   */
  targetNodes?: string[];
}

/** A Node the cloud says cannot carry traffic now, and why ("instance stopped"). */
export interface NodeOutage {
  node: string;
  reason: string;
}

export interface LoadBalancer {
  /**
   * A `spec.loadBalancerClass` this provider handles besides "unset" (optional), so a cluster
   * whose default load balancer is someone else's (MetalLB, Cilium) can still opt single Services
   * into this one. The service controller leaves every other class to its own controller.
   */
  readonly loadBalancerClass?: string;
  /**
   * Every Node of the cluster, candidates or not (optional): the service controller hands over a
   * reader of its Node cache before its first call. The Oxide provider never detaches a floating
   * IP whose owner record was copied from an instance that is not one of them; without a reader
   * it cannot tell and does not check.
   */
  setNodeLister?(list: () => readonly V1Node[]): void;
  /**
   * Creates or updates the load balancer; the result goes to Service `status.loadBalancer`.
   * `nodes` are the healthy candidates (Ready, schedulable, initialized, not shut down, not
   * excluded, not being deleted; for externalTrafficPolicy Local only those with a ready
   * endpoint). It may be empty (no eligible Node): create what the Service needs and keep any
   * current attachment rather than detaching to nowhere.
   */
  ensureLoadBalancer(
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
    signal?: AbortSignal,
  ): Promise<LoadBalancerStatus>;
  /**
   * Node-set changes only (Nodes added/removed/NotReady, endpoints moved for
   * externalTrafficPolicy Local, periodic resync): re-target without touching anything else.
   * `nodes` is never empty (the controller keeps the current target when no Node is eligible).
   * Return the new status when re-targeting changed it (e.g. the target Node's addresses are in
   * status); the controller patches it when it differs. Void means "status unchanged".
   */
  updateLoadBalancer(
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
    signal?: AbortSignal,
  ): Promise<LoadBalancerStatus | void>;
  /**
   * Of `nodes`, those whose machine the cloud knows is not running now (optional). Answered from
   * a view shared by every caller (on Oxide: at most one project-wide instance list per call,
   * whatever the number of Nodes), never from a guess: a Node the cloud cannot place is not
   * reported. The service controller asks about the Nodes its load balancers target every
   * failover period and takes those reported out of the candidates at once.
   */
  nodesDown?(nodes: readonly V1Node[], signal?: AbortSignal): Promise<NodeOutage[]>;
  /**
   * Deletes everything the Service owns; succeeds when it is already gone. May return warnings
   * about what it left alone.
   */
  ensureLoadBalancerDeleted(
    clusterName: string,
    service: V1Service,
    signal?: AbortSignal,
  ): Promise<LoadBalancerWarning[] | void>;
}

export interface Route {
  name: string;
  /** Node name the route sends traffic to. */
  targetNode: string;
  /** The target Node's spec.providerID when known (set by the route controller on create). */
  targetProviderID?: string;
  destinationCIDR: string;
  /** The target no longer exists: the route controller deletes it. */
  blackhole: boolean;
}

/** A route was created but traffic may not flow through it: a Warning event on the Node. */
export interface RouteWarning {
  nodeName: string;
  reason: string;
  message: string;
}

export interface Routes {
  listRoutes(clusterName: string, signal?: AbortSignal): Promise<Route[]>;
  createRoute(
    clusterName: string,
    nameHint: string,
    route: Route,
    signal?: AbortSignal,
  ): Promise<void>;
  deleteRoute(clusterName: string, route: Route, signal?: AbortSignal): Promise<void>;
  /**
   * Warnings from createRoute since the last call (optional; on Oxide: a NIC without the pod CIDR
   * in transit_ips). The route controller logs each and records it on the Node.
   */
  takeRouteWarnings?(): RouteWarning[];
}

export interface CloudProvider {
  providerName(): string;
  instances(): Instances | undefined;
  loadBalancer(): LoadBalancer | undefined;
  routes(): Routes | undefined;
}
