// Removes what the route controller made in Oxide for one cluster (docs/routes.md, "Turning
// routes off, tearing a cluster down"): its routes on the `<cluster>-pods` router, the router's
// subnet attachments, then the router. Only objects carrying our marker are touched: a route
// someone else put on the router keeps the router (and its attachments) in place, and is reported.
import type { OxideClient } from '../../src/oxide/client.ts';
import {
  deleteRouter,
  deleteRouterRoute,
  listRouterRoutes,
  listRouters,
} from '../../src/oxide/routers.ts';
import { detachSubnetRouter, listSubnets } from '../../src/oxide/subnets.ts';
import { viewVpcByName } from '../../src/oxide/vpcs.ts';
import { routerDescription, routerName } from '../../src/cloud/oxide/routes/names.ts';
import {
  ourRoute,
  routerIdentity,
  routerOwnership,
  subnetAttachment,
} from '../../src/cloud/oxide/routes/ownership.ts';
import { UNKNOWN_CLUSTER_ID } from '../../src/cloud/oxide/cluster.ts';

export interface TeardownOptions {
  clusterName: string;
  /** The cluster identity its router's record names; empty: only a router without one (v0.8). */
  clusterId?: string;
  /** VPC names to clean; the CCM's --oxide-routes-vpc, or every VPC the Nodes were in. */
  vpcs: string[];
  /** Only say what would be removed. */
  dryRun?: boolean;
  log?: (line: string) => void;
}

export interface TeardownResult {
  routesDeleted: string[];
  subnetsDetached: string[];
  routersDeleted: string[];
  /** Routers kept because they hold routes that are not ours. */
  routersKept: string[];
}

export async function teardownRoutes(
  client: OxideClient,
  options: TeardownOptions,
): Promise<TeardownResult> {
  const log = options.log ?? (() => undefined);
  const act = !options.dryRun;
  const result: TeardownResult = {
    routesDeleted: [],
    subnetsDetached: [],
    routersDeleted: [],
    routersKept: [],
  };
  const name = routerName(options.clusterName);
  const cluster = { name: options.clusterName, id: options.clusterId ?? UNKNOWN_CLUSTER_ID };
  for (const vpcName of options.vpcs) {
    const vpc = await viewVpcByName(client, vpcName);
    const named = (await listRouters(client, vpc.id)).find(
      (r) => routerOwnership(r, cluster) !== undefined,
    );
    // Exactly our record (with this identity, or v0.8's without one): never another cluster's.
    const router = [routerDescription(cluster), routerDescription({ ...cluster, id: '' })].includes(
      named?.description ?? '',
    )
      ? named
      : undefined;
    if (named && !router) {
      log(
        `vpc ${vpcName}: router ${name} is not this cluster's (its record: ${JSON.stringify(named.description)}` +
          `${routerIdentity(named) ? `; pass --cluster-id=${routerIdentity(named)} if it is` : ''})`,
      );
    }
    if (!router) {
      log(`vpc ${vpcName}: no router ${name} of cluster ${options.clusterName}`);
      continue;
    }
    let foreign = 0;
    for (const route of await listRouterRoutes(client, router.id)) {
      if (!ourRoute(route, options.clusterName)) {
        foreign += 1;
        log(`vpc ${vpcName}: keeping route ${route.name} (not made by this cluster's CCM)`);
        continue;
      }
      log(`vpc ${vpcName}: delete route ${route.name} (${route.description})`);
      if (act) await deleteRouterRoute(client, router.id, route.name);
      result.routesDeleted.push(route.name);
    }
    if (foreign > 0) {
      log(
        `vpc ${vpcName}: keeping router ${name} and its attachments: ${foreign} route(s) not ours`,
      );
      result.routersKept.push(name);
      continue;
    }
    for (const subnet of await listSubnets(client, vpc.id)) {
      if (subnetAttachment(subnet, router) !== 'ours') continue;
      log(`vpc ${vpcName}: detach router ${name} from subnet ${subnet.name}`);
      if (act) await detachSubnetRouter(client, subnet.id);
      result.subnetsDetached.push(subnet.name);
    }
    log(`vpc ${vpcName}: delete router ${name}`);
    if (act) await deleteRouter(client, router.id);
    result.routersDeleted.push(name);
  }
  return result;
}
