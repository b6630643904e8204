// Step 5 and the listing, the routes on our router: which are this cluster's (ownership.ts)
// with what each serves, for the route controller to diff against the Nodes' pod CIDRs, and the
// writes it then asks for. A route's name is deterministic (names.ts), so a create retried after
// a lost answer, or after a restart, finds it there and is done; a delete of a route already
// gone is done too.
import type { RouterRoute, VpcRouter } from '@oxide/api';
import type { OxideClient } from '../../../oxide/client.ts';
import { isOxideError } from '../../../oxide/errors.ts';
import { createRouterRoute, deleteRouterRoute, listRouterRoutes } from '../../../oxide/routers.ts';
import { routeDescription, routeName } from './names.ts';
import type { RouteOwner } from './names.ts';
import { ourRoute } from './ownership.ts';

/** One of our routes: what it serves (from its record) and the instance it goes to. */
export interface OurRoute {
  route: RouterRoute;
  owner: RouteOwner;
  targetInstance: string;
}

/**
 * This cluster's instance routes on the router, or undefined when the router is gone (deleted
 * behind our back: no routes, and the next creation makes it again).
 */
export async function listOurRoutes(
  client: OxideClient,
  router: VpcRouter,
  clusterName: string,
  signal?: AbortSignal,
): Promise<OurRoute[] | undefined> {
  let listed;
  try {
    listed = await listRouterRoutes(client, router.id, signal);
  } catch (err) {
    if (isOxideError(err, 'not_found')) return undefined;
    throw err;
  }
  const ours: OurRoute[] = [];
  for (const route of listed) {
    const owner = ourRoute(route, clusterName);
    if (owner && route.target.type === 'instance') {
      ours.push({ route, owner, targetInstance: route.target.value });
    }
  }
  return ours;
}

/** The route to `instanceName` for the Node's pod CIDR; one that already exists is done. */
export async function writeRoute(
  client: OxideClient,
  routerId: string,
  clusterName: string,
  nodeName: string,
  cidr: string,
  instanceName: string,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await createRouterRoute(
      client,
      routerId,
      {
        name: routeName(clusterName, nodeName, cidr),
        description: routeDescription(clusterName, nodeName, cidr),
        destination: { type: 'ip_net', value: cidr },
        target: { type: 'instance', value: instanceName },
      },
      signal,
    );
  } catch (err) {
    if (!isOxideError(err, 'already_exists')) throw err;
  }
}

export async function removeRoute(
  client: OxideClient,
  routerId: string,
  name: string,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await deleteRouterRoute(client, routerId, name, signal);
  } catch (err) {
    if (!isOxideError(err, 'not_found')) throw err;
  }
}
