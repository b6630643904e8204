// Which Services the controller handles and which Nodes a load balancer may send traffic to.
// Upstream's service controller only drops excluded and autoscaler-doomed Nodes and leaves health
// to the load balancer's own probes; an Oxide floating IP is 1:1 NAT to one instance with no
// probe, so a bad target is an outage and the controller must only offer healthy Nodes.
import type { V1Node, V1Service } from '@kubernetes/client-node';
import type { LoadBalancerIngress } from '../../cloud/provider.ts';
import {
  hasTaint,
  LABEL_EXCLUDE_FROM_LB,
  readyStatus,
  TAINT_SHUTDOWN,
  TAINT_TO_BE_DELETED,
  TAINT_UNINITIALIZED,
} from '../../kube/well-known.ts';

/** Upstream's finalizer: the load balancer is deleted before the Service object goes away. */
export const LOAD_BALANCER_CLEANUP_FINALIZER = 'service.kubernetes.io/load-balancer-cleanup';

/**
 * A `type: LoadBalancer` Service whose class is unset or `ownClass` (the provider's, if it has
 * one). Any other class belongs to another controller and is left alone.
 */
export function wantsLoadBalancer(svc: V1Service, ownClass: string | undefined): boolean {
  if (svc.spec?.type !== 'LoadBalancer') return false;
  const cls = svc.spec.loadBalancerClass;
  return cls === undefined || cls === '' || cls === ownClass;
}

export const hasFinalizer = (svc: V1Service): boolean =>
  (svc.metadata?.finalizers ?? []).includes(LOAD_BALANCER_CLEANUP_FINALIZER);

export const isLocalTrafficPolicy = (svc: V1Service): boolean =>
  svc.spec?.externalTrafficPolicy === 'Local';

/**
 * The Node may carry load-balancer traffic. All of:
 * - not being deleted (no `metadata.deletionTimestamp`);
 * - no label `node.kubernetes.io/exclude-from-external-load-balancers` (any value, as upstream);
 * - no taint `ToBeDeletedByClusterAutoscaler` (upstream), `node.cloudprovider.kubernetes.io/
 *   uninitialized` (the cloud has not vouched for it yet) or `node.cloudprovider.kubernetes.io/
 *   shutdown` (its instance is stopped);
 * - schedulable (`spec.unschedulable` not true: a cordoned Node is about to be drained);
 * - condition `Ready` is `True` (False and Unknown both mean kubelet cannot be trusted);
 * - a non-empty `spec.providerID` (the provider must be able to find its instance).
 * The `node.kubernetes.io/not-ready` taints are not consulted: they mirror the Ready condition.
 */
export function isEligibleNode(node: V1Node): boolean {
  if (node.metadata?.deletionTimestamp) return false;
  if (node.metadata?.labels?.[LABEL_EXCLUDE_FROM_LB] !== undefined) return false;
  for (const taint of [TAINT_TO_BE_DELETED, TAINT_UNINITIALIZED, TAINT_SHUTDOWN]) {
    if (hasTaint(node, taint)) return false;
  }
  if (node.spec?.unschedulable === true) return false;
  if (!node.spec?.providerID) return false;
  return readyStatus(node) === 'True';
}

/**
 * What a load balancer depends on in a Node: a change here means load balancers must be
 * re-synced. As upstream's shouldSyncUpdatedNode: eligibility (labels, taints, Ready, deletion)
 * and providerID; beyond upstream, the InternalIPs, because the provider publishes the target's
 * InternalIPs in the Service's status. Not the other addresses: the address refresh writes a
 * floating IP as its Node's ExternalIP after we attach it, and re-syncing every Service for that
 * (or for a Hostname, a label no predicate reads, a heartbeat) changes nothing.
 */
export function nodeFingerprint(node: V1Node): string {
  if (!isEligibleNode(node)) return '';
  const internal: string[] = [];
  for (const a of node.status?.addresses ?? [])
    if (a.type === 'InternalIP') internal.push(a.address);
  return JSON.stringify([node.spec?.providerID, internal]);
}

/**
 * What the provider's ensureLoadBalancer reads from a Service: when it changes the load
 * balancer must be re-ensured; otherwise only the node set can have moved. Status, finalizers,
 * resourceVersion and managedFields are not part of it, so our own writes do not re-trigger us.
 */
export function serviceFingerprint(svc: V1Service): string {
  return JSON.stringify([svc.metadata?.uid, svc.metadata?.annotations ?? {}, svc.spec ?? {}]);
}

/** The apiserver defaults `ipMode` to VIP whenever `ip` is set. */
const ipModeOf = (i: { ip?: string; ipMode?: string }): string | undefined =>
  i.ipMode ?? (i.ip ? 'VIP' : undefined);

/** Same ingress points in the same order (ip, ipMode, no hostname): no status write needed. */
export function sameIngress(
  current: readonly { ip?: string; ipMode?: string; hostname?: string }[],
  desired: readonly LoadBalancerIngress[],
): boolean {
  return (
    current.length === desired.length &&
    current.every((c, i) => {
      const d = desired[i];
      return d !== undefined && c.ip === d.ip && ipModeOf(c) === ipModeOf(d) && !c.hostname;
    })
  );
}
