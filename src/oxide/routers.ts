// VPC router, router-route and subnet calls for the route provider. Everything is addressed by
// UUID (a UUID plus a parent selector is a 400), except the VPC lookup by name, which needs the
// project.
import type { RouterRoute, RouterRouteCreate, Vpc, VpcRouter, VpcSubnet } from '@oxide/api';
import type { OxideClient } from './client.ts';

export function viewVpcByName(client: OxideClient, name: string): Promise<Vpc> {
  return client.call('vpc_view', (api, params) =>
    api.methods.vpcView({ path: { vpc: name }, query: { project: client.project } }, params),
  );
}

/** Every VPC of the project (one page in practice: a project holds few VPCs). */
export function listVpcs(client: OxideClient): Promise<Vpc[]> {
  return client.listAll<Vpc>('vpc_list', (api, pageToken, limit, params) =>
    api.methods.vpcList({ query: { project: client.project, limit, pageToken } }, params),
  );
}

export function listRouters(client: OxideClient, vpcId: string): Promise<VpcRouter[]> {
  return client.listAll<VpcRouter>('vpc_router_list', (api, pageToken, limit, params) =>
    api.methods.vpcRouterList({ query: { vpc: vpcId, limit, pageToken } }, params),
  );
}

export function createRouter(
  client: OxideClient,
  vpcId: string,
  name: string,
  description: string,
): Promise<VpcRouter> {
  return client.call('vpc_router_create', (api, params) =>
    api.methods.vpcRouterCreate({ query: { vpc: vpcId }, body: { name, description } }, params),
  );
}

export function listRouterRoutes(client: OxideClient, routerId: string): Promise<RouterRoute[]> {
  return client.listAll<RouterRoute>('vpc_router_route_list', (api, pageToken, limit, params) =>
    api.methods.vpcRouterRouteList({ query: { router: routerId, limit, pageToken } }, params),
  );
}

export function createRouterRoute(
  client: OxideClient,
  routerId: string,
  route: RouterRouteCreate,
): Promise<RouterRoute> {
  return client.call('vpc_router_route_create', (api, params) =>
    api.methods.vpcRouterRouteCreate({ query: { router: routerId }, body: route }, params),
  );
}

/** By route name within the router (route names are unique per router only). */
export async function deleteRouterRoute(
  client: OxideClient,
  routerId: string,
  routeName: string,
): Promise<void> {
  await client.call('vpc_router_route_delete', (api, params) =>
    api.methods.vpcRouterRouteDelete(
      { path: { route: routeName }, query: { router: routerId } },
      params,
    ),
  );
}

export function viewSubnet(client: OxideClient, subnetId: string): Promise<VpcSubnet> {
  return client.call('vpc_subnet_view', (api, params) =>
    api.methods.vpcSubnetView({ path: { subnet: subnetId } }, params),
  );
}

/**
 * Attaches a custom router to a subnet. The update replaces `custom_router` (leaving it out
 * detaches), so it is always sent, and only that field is sent.
 */
export function attachSubnetRouter(
  client: OxideClient,
  subnetId: string,
  routerId: string,
): Promise<VpcSubnet> {
  return client.call('vpc_subnet_update', (api, params) =>
    api.methods.vpcSubnetUpdate(
      { path: { subnet: subnetId }, body: { customRouter: routerId } },
      params,
    ),
  );
}

export function listSubnets(client: OxideClient, vpcId: string): Promise<VpcSubnet[]> {
  return client.listAll<VpcSubnet>('vpc_subnet_list', (api, pageToken, limit, params) =>
    api.methods.vpcSubnetList({ query: { vpc: vpcId, limit, pageToken } }, params),
  );
}

/** Detaches the subnet's custom router: an update without `custom_router` clears it. */
export function detachSubnetRouter(client: OxideClient, subnetId: string): Promise<VpcSubnet> {
  return client.call('vpc_subnet_update', (api, params) =>
    api.methods.vpcSubnetUpdate({ path: { subnet: subnetId }, body: {} }, params),
  );
}

export async function deleteRouter(client: OxideClient, routerId: string): Promise<void> {
  await client.call('vpc_router_delete', (api, params) =>
    api.methods.vpcRouterDelete({ path: { router: routerId } }, params),
  );
}
