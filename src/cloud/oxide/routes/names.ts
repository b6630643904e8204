// Deterministic Oxide names for the cluster's pod router and its routes, and the description
// that marks a route as ours and says which Node and pod CIDR it serves (Oxide routes have no
// labels, and the controller maps routes back to Nodes from listRoutes alone). The cluster
// identity (cluster.ts) is in the router's record, after v0.8's text (v0.8 finds the router by
// name and never reads it); a route is the cluster's because it sits on that router, and its
// record keeps v0.8's exact format, which v0.8 parses whole, so a rollback still finds it.
import { createHash } from 'node:crypto';
import { identityToken } from '../cluster.ts';
import type { ClusterIdentity } from '../cluster.ts';

const MAX_NAME = 63;
const MARKER = 'managed by oxide-cloud-controller-manager';

/** An Oxide Name from a cluster name: lowercase, [a-z0-9-], starts with a letter, ends alnum. */
export function nameStem(clusterName: string, maxLength: number): string {
  let stem = clusterName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '');
  stem = stem.slice(0, maxLength).replace(/-+$/, '');
  return stem || 'k8s';
}

/** `<cluster>-pods`: one custom router per cluster and VPC. */
export function routerName(clusterName: string): string {
  return `${nameStem(clusterName, MAX_NAME - '-pods'.length)}-pods`;
}

/** `<cluster>-<16 hex of sha256(node, cidr)>`: stable across restarts, ≤ 63 characters. */
export function routeName(clusterName: string, nodeName: string, cidr: string): string {
  const hash = createHash('sha256').update(`${nodeName}\u0000${cidr}`).digest('hex').slice(0, 16);
  return `${nameStem(clusterName, MAX_NAME - 17)}-${hash}`;
}

/** The router's record; without a known identity (cluster.ts), v0.8's text. */
export function routerDescription(cluster: ClusterIdentity): string {
  return `Pod CIDR routes of Kubernetes cluster ${cluster.name}, ${MARKER}${identityToken(cluster)}`;
}

export function routeDescription(clusterName: string, nodeName: string, cidr: string): string {
  return `${MARKER}; cluster=${clusterName} node=${nodeName} cidr=${cidr}`;
}

export interface RouteOwner {
  clusterName: string;
  nodeName: string;
  cidr: string;
}

/** The Node and CIDR a route serves, or undefined when the route is not one of ours. */
export function parseRouteDescription(description: string): RouteOwner | undefined {
  const m = /^managed by oxide-cloud-controller-manager; cluster=(\S+) node=(\S+) cidr=(\S+)$/.exec(
    description,
  );
  if (!m) return undefined;
  return { clusterName: m[1] ?? '', nodeName: m[2] ?? '', cidr: m[3] ?? '' };
}
