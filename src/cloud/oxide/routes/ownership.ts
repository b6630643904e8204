// Which routers, routes and subnet attachments are this cluster's: the only place that decides
// what the route steps may use, change or delete (the record formats are in names.ts). Today a
// router is ours by its name `<cluster>-pods`, a route by the marker in its description naming
// the cluster, and a subnet attachment by its custom router being ours. Oxide has no tags, so
// descriptions are the ownership records; a stronger record (a cluster identity beside the name)
// changes these functions and the formats in names.ts, and no step.
import type { RouterRoute, VpcRouter, VpcSubnet } from '@oxide/api';
import { parseRouteDescription, routerName } from './names.ts';
import type { RouteOwner } from './names.ts';

/** The cluster's router in a VPC (one per cluster and VPC). */
export function isOurRouter(router: VpcRouter, clusterName: string): boolean {
  return router.name === routerName(clusterName);
}

/**
 * The Node and pod CIDR a route serves when its record says this cluster made it; undefined for
 * anything else (never listed, so never changed or deleted).
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
