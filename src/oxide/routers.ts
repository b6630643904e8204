// VPC router and router-route calls for the route provider, by UUID (a UUID plus a parent
// selector is a 400); route names are unique per router only.
import type { RouterRoute, RouterRouteCreate, VpcRouter } from '@oxide/api';
import type { OxideClient } from './client.ts';

export function listRouters(
  client: OxideClient,
  vpcId: string,
  signal?: AbortSignal,
): Promise<VpcRouter[]> {
  return client.listAll<VpcRouter>(
    'vpc_router_list',
    (api, pageToken, limit, params) =>
      api.methods.vpcRouterList({ query: { vpc: vpcId, limit, pageToken } }, params),
    signal,
  );
}

export function createRouter(
  client: OxideClient,
  vpcId: string,
  name: string,
  description: string,
  signal?: AbortSignal,
): Promise<VpcRouter> {
  return client.call(
    'vpc_router_create',
    (api, params) =>
      api.methods.vpcRouterCreate({ query: { vpc: vpcId }, body: { name, description } }, params),
    signal,
  );
}

export function listRouterRoutes(
  client: OxideClient,
  routerId: string,
  signal?: AbortSignal,
): Promise<RouterRoute[]> {
  return client.listAll<RouterRoute>(
    'vpc_router_route_list',
    (api, pageToken, limit, params) =>
      api.methods.vpcRouterRouteList({ query: { router: routerId, limit, pageToken } }, params),
    signal,
  );
}

export function createRouterRoute(
  client: OxideClient,
  routerId: string,
  route: RouterRouteCreate,
  signal?: AbortSignal,
): Promise<RouterRoute> {
  return client.call(
    'vpc_router_route_create',
    (api, params) =>
      api.methods.vpcRouterRouteCreate({ query: { router: routerId }, body: route }, params),
    signal,
  );
}

/** By route name within the router (route names are unique per router only). */
export async function deleteRouterRoute(
  client: OxideClient,
  routerId: string,
  routeName: string,
  signal?: AbortSignal,
): Promise<void> {
  await client.call(
    'vpc_router_route_delete',
    (api, params) =>
      api.methods.vpcRouterRouteDelete(
        { path: { route: routeName }, query: { router: routerId } },
        params,
      ),
    signal,
  );
}

export async function deleteRouter(
  client: OxideClient,
  routerId: string,
  signal?: AbortSignal,
): Promise<void> {
  await client.call(
    'vpc_router_delete',
    (api, params) => api.methods.vpcRouterDelete({ path: { router: routerId } }, params),
    signal,
  );
}

/** Rewrites a router's description (its ownership record), nothing else. */
export function updateRouterDescription(
  client: OxideClient,
  routerId: string,
  description: string,
  signal?: AbortSignal,
): Promise<VpcRouter> {
  return client.call(
    'vpc_router_update',
    (api, params) =>
      api.methods.vpcRouterUpdate({ path: { router: routerId }, body: { description } }, params),
    signal,
  );
}
