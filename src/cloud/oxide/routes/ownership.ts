// Which routers, routes and subnet attachments are this cluster's: the only place that decides
// what the route steps may use, change or delete (the record formats are in names.ts). A router
// is ours by its name `<cluster-name>-pods` and the cluster identity in its record (cluster.ts:
// one naming another identity is another cluster's of the same --cluster-name, never used; one
// naming none was written by v0.8 and gets the identity once); a route by sitting on our router
// with the marker naming the cluster; a subnet attachment by its custom router being ours.
// Oxide has no tags, so descriptions are the ownership records.
import type { RouterRoute, VpcRouter, VpcSubnet } from '@oxide/api';
import { clusterIdIn, membershipOf } from '../cluster.ts';
import type { ClusterIdentity } from '../cluster.ts';
import { parseRouteDescription, routerName } from './names.ts';
import type { RouteOwner } from './names.ts';

/**
 * A router named as this cluster's: `ours` (its record names this cluster), `legacy` (names no
 * identity: v0.8's, ours to upgrade), `another` (names another cluster's identity: never used,
 * changed or deleted). Undefined for a router of another name.
 */
export function routerOwnership(
  router: Pick<VpcRouter, 'name' | 'description'>,
  cluster: ClusterIdentity,
): 'ours' | 'legacy' | 'another' | undefined {
  if (router.name !== routerName(cluster.name)) return undefined;
  switch (membershipOf(router.description, cluster)) {
    case 'this':
      return 'ours';
    case 'legacy':
      return 'legacy';
    case 'other':
      return 'another';
  }
}

/** The identity another cluster's router of this cluster's name names. */
export const routerIdentity = (router: Pick<VpcRouter, 'description'>): string | undefined =>
  clusterIdIn(router.description);

/** The cluster's router in a VPC (one per cluster and VPC), as it is or to be upgraded. */
export function isOurRouter(router: VpcRouter, cluster: ClusterIdentity): boolean {
  const ownership = routerOwnership(router, cluster);
  return ownership === 'ours' || ownership === 'legacy';
}

/**
 * The Node and pod CIDR a route serves when its record says this cluster made it; undefined for
 * anything else (never listed, so never changed or deleted). Only routes of our router are asked.
 */
export function ourRoute(route: RouterRoute, clusterName: string): RouteOwner | undefined {
  const owner = parseRouteDescription(route.description);
  return owner?.clusterName === clusterName ? owner : undefined;
}

/**
 * A subnet's custom router as seen by the cluster whose router is `router`: ours, none (we may
 * attach ours), or another one (a subnet takes one custom router and we never replace it).
 */
export function subnetAttachment(
  subnet: VpcSubnet,
  router: VpcRouter,
): 'ours' | 'free' | 'another' {
  const current = subnet.customRouterId ?? null;
  if (current === null) return 'free';
  return current === router.id ? 'ours' : 'another';
}
