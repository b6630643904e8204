// Nexus' selector query parameters. A name resolves only within the parent chain the query
// names (`?project=`, `?vpc=&project=`, …); an id resolves alone. Each SimDb lookup takes the
// chain above its resource, read here from the query so handlers pass the same chain the same way.
import type { Instance, Project, Vpc, VpcRouter } from '@oxide/api';
import { type Ctx, optionalQuery, requiredQuery } from '../http.ts';

export interface ProjectScope {
  project: string | undefined;
}

export interface VpcScope extends ProjectScope {
  vpc: string | undefined;
}

export interface RouterScope extends VpcScope {
  router: string | undefined;
}

export interface InstanceScope extends ProjectScope {
  instance: string | undefined;
}

export function projectScope(ctx: Ctx): ProjectScope {
  return { project: optionalQuery(ctx, 'project') };
}

export function vpcScope(ctx: Ctx): VpcScope {
  return { vpc: optionalQuery(ctx, 'vpc'), ...projectScope(ctx) };
}

export function routerScope(ctx: Ctx): RouterScope {
  return { router: optionalQuery(ctx, 'router'), ...vpcScope(ctx) };
}

export function instanceScope(ctx: Ctx): InstanceScope {
  return { instance: optionalQuery(ctx, 'instance'), ...projectScope(ctx) };
}

// The parent a list or create names in its required query parameter, resolved by the same rules
// (a missing parameter is Dropshot's 400 before any lookup).

export function queriedProject(ctx: Ctx): Project {
  return ctx.db.project(requiredQuery(ctx, 'project'));
}

export function queriedInstance(ctx: Ctx): Instance {
  return ctx.db.instance(requiredQuery(ctx, 'instance'), projectScope(ctx));
}

export function queriedVpc(ctx: Ctx): Vpc {
  return ctx.db.vpc(requiredQuery(ctx, 'vpc'), projectScope(ctx));
}

export function queriedRouter(ctx: Ctx): VpcRouter {
  return ctx.db.router(requiredQuery(ctx, 'router'), vpcScope(ctx));
}
