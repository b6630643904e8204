// VPC routers and routes. Custom routes live on custom routers only (the system router's
// default routes may be retargeted, its subnet routes not); destination/target rules follow
// Nexus: `vpc` is neither a destination nor a target, `subnet` is no target, v4/v6 do not mix.
import { randomUUID } from 'node:crypto';
import type {
  RouteDestination,
  RouterRoute,
  RouterRouteCreate,
  RouterRouteResultsPage,
  RouterRouteUpdate,
  RouteTarget,
  VpcRouter,
  VpcRouterCreate,
  VpcRouterResultsPage,
  VpcRouterUpdate,
} from '@oxide/api';
import { checkName } from '../db/select.ts';
import { alreadyExists, invalidRequest } from '../errors.ts';
import { body, type Ctx, endpoint, noContent, param, reply, type Route } from '../http.ts';
import { type Family, familyOf, parseCidr } from '../ip.ts';
import { paginate } from '../pagination.ts';
import { applyIdentity, checkRename } from './identity.ts';
import { queriedRouter, queriedVpc, routerScope, vpcScope } from './scope.ts';

function selectedRouter(ctx: Ctx): VpcRouter {
  return ctx.db.router(param(ctx, 'router'), vpcScope(ctx));
}

function selectedRoute(ctx: Ctx): RouterRoute {
  return ctx.db.route(param(ctx, 'route'), routerScope(ctx));
}

function destinationFamily(d: RouteDestination): Family | undefined {
  if (d.type === 'ip') return familyOf(d.value);
  if (d.type === 'ip_net') return parseCidr(d.value)?.family;
  return undefined;
}

function checkRoute(destination: RouteDestination, target: RouteTarget): void {
  if (destination.type === 'vpc')
    throw invalidRequest('VPCs cannot be used as a destination in custom routes');
  if (target.type === 'vpc')
    throw invalidRequest('VPCs cannot be used as a target in custom routes');
  if (target.type === 'subnet')
    throw invalidRequest('subnets cannot be used as a target in custom routes');
  if (destination.type === 'ip' && !familyOf(destination.value)) {
    throw invalidRequest(`invalid IP address "${destination.value}"`);
  }
  if (destination.type === 'ip_net' && !parseCidr(destination.value)) {
    throw invalidRequest(`invalid IP network "${destination.value}"`);
  }
  const dest = destinationFamily(destination);
  if (target.type === 'ip') {
    const t = familyOf(target.value);
    if (!t) throw invalidRequest(`invalid IP address "${target.value}"`);
    if (dest && dest !== t) {
      throw invalidRequest(
        'cannot mix explicit IPv4 and IPv6 addresses between destination and target',
      );
    }
  }
}

function createRouter(ctx: Ctx): VpcRouter {
  const vpc = queriedVpc(ctx);
  const b = body<VpcRouterCreate>(ctx, ['name', 'description']);
  checkName(b.name);
  if (ctx.db.routers.some((r) => r.vpcId === vpc.id && r.name === b.name))
    throw alreadyExists('vpc-router', b.name);
  const now = new Date();
  const router: VpcRouter = {
    id: randomUUID(),
    name: b.name,
    description: b.description,
    kind: 'custom',
    vpcId: vpc.id,
    timeCreated: now,
    timeModified: now,
  };
  ctx.db.routers.push(router);
  return router;
}

function updateRouter(ctx: Ctx): VpcRouter {
  const router = selectedRouter(ctx);
  const b = body<VpcRouterUpdate>(ctx);
  const siblings = ctx.db.routers.filter((r) => r.vpcId === router.vpcId);
  checkRename('vpc-router', router, b.name, siblings);
  applyIdentity(router, b);
  return router;
}

function deleteRouter(ctx: Ctx): void {
  const router = selectedRouter(ctx);
  if (router.kind === 'system') throw invalidRequest('cannot delete system router');
  const { db } = ctx;
  for (const s of db.subnets) if (s.customRouterId === router.id) s.customRouterId = null;
  db.routes.splice(0, db.routes.length, ...db.routes.filter((r) => r.vpcRouterId !== router.id));
  db.routers.splice(db.routers.indexOf(router), 1);
}

function createRoute(ctx: Ctx): RouterRoute {
  const router = queriedRouter(ctx);
  const b = body<RouterRouteCreate>(ctx, ['name', 'description', 'destination', 'target']);
  if (router.kind === 'system')
    throw invalidRequest('user-provided routes cannot be added to a system router');
  checkName(b.name);
  checkRoute(b.destination, b.target);
  if (ctx.db.routes.some((r) => r.vpcRouterId === router.id && r.name === b.name))
    throw alreadyExists('router-route', b.name);
  const now = new Date();
  const route: RouterRoute = {
    id: randomUUID(),
    name: b.name,
    description: b.description,
    kind: 'custom',
    destination: b.destination,
    target: b.target,
    vpcRouterId: router.id,
    timeCreated: now,
    timeModified: now,
  };
  ctx.db.routes.push(route);
  return route;
}

function updateRoute(ctx: Ctx): RouterRoute {
  const route = selectedRoute(ctx);
  const b = body<RouterRouteUpdate>(ctx, ['destination', 'target']);
  if (route.kind === 'vpc_subnet' || route.kind === 'vpc_peering') {
    throw invalidRequest(
      `routes of type ${route.kind} within the system router are not modifiable`,
    );
  }
  checkRoute(b.destination, b.target);
  const siblings = ctx.db.routes.filter((r) => r.vpcRouterId === route.vpcRouterId);
  checkRename('router-route', route, b.name, siblings);
  applyIdentity(route, b);
  route.destination = b.destination;
  route.target = b.target;
  return route;
}

function deleteRoute(ctx: Ctx): void {
  const route = selectedRoute(ctx);
  if (route.kind !== 'custom') throw invalidRequest('DELETE not allowed on system routes');
  ctx.db.routes.splice(ctx.db.routes.indexOf(route), 1);
}

export const routerRoutes: Route[] = [
  endpoint('GET', '/v1/vpc-routers', 'vpc_router_list', (ctx) => {
    const vpc = queriedVpc(ctx);
    const all = ctx.db.routers.filter((r) => r.vpcId === vpc.id);
    return reply<VpcRouterResultsPage>(200, paginate(all, ctx.query));
  }),
  endpoint('POST', '/v1/vpc-routers', 'vpc_router_create', (ctx) =>
    reply<VpcRouter>(201, createRouter(ctx)),
  ),
  endpoint('GET', '/v1/vpc-routers/{router}', 'vpc_router_view', (ctx) =>
    reply<VpcRouter>(200, selectedRouter(ctx)),
  ),
  endpoint('PUT', '/v1/vpc-routers/{router}', 'vpc_router_update', (ctx) =>
    reply<VpcRouter>(200, updateRouter(ctx)),
  ),
  endpoint('DELETE', '/v1/vpc-routers/{router}', 'vpc_router_delete', (ctx) => {
    deleteRouter(ctx);
    return noContent();
  }),
  endpoint('GET', '/v1/vpc-router-routes', 'vpc_router_route_list', (ctx) => {
    const router = queriedRouter(ctx);
    const all = ctx.db.routes.filter((r) => r.vpcRouterId === router.id);
    return reply<RouterRouteResultsPage>(200, paginate(all, ctx.query));
  }),
  endpoint('POST', '/v1/vpc-router-routes', 'vpc_router_route_create', (ctx) =>
    reply<RouterRoute>(201, createRoute(ctx)),
  ),
  endpoint('GET', '/v1/vpc-router-routes/{route}', 'vpc_router_route_view', (ctx) =>
    reply<RouterRoute>(200, selectedRoute(ctx)),
  ),
  endpoint('PUT', '/v1/vpc-router-routes/{route}', 'vpc_router_route_update', (ctx) =>
    reply<RouterRoute>(200, updateRoute(ctx)),
  ),
  endpoint('DELETE', '/v1/vpc-router-routes/{route}', 'vpc_router_route_delete', (ctx) => {
    deleteRoute(ctx);
    return noContent();
  }),
];
