// The route table: every endpoint the simulator serves, with the OpenAPI operationId that the
// fault injector and request log key on. routes.test.ts checks each against the spec.
import { floatingIpRoutes } from './handlers/floating-ips.ts';
import { instanceRoutes } from './handlers/instances.ts';
import { nicRoutes } from './handlers/nics.ts';
import { poolRoutes } from './handlers/pools.ts';
import { routerRoutes } from './handlers/routers.ts';
import { sessionRoutes } from './handlers/session.ts';
import { vpcRoutes } from './handlers/vpcs.ts';
import type { Route } from './http.ts';

export const ROUTES: readonly Route[] = [
  ...sessionRoutes,
  ...instanceRoutes,
  ...nicRoutes,
  ...floatingIpRoutes,
  ...poolRoutes,
  ...vpcRoutes,
  ...routerRoutes,
];

export type Match =
  | { kind: 'route'; route: Route; params: Record<string, string> }
  | { kind: 'method-not-allowed' }
  | { kind: 'not-found' };

function matchPath(template: string, segments: string[]): Record<string, string> | undefined {
  const parts = template.split('/').filter(Boolean);
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of parts.entries()) {
    const seg = segments[i] as string;
    if (part.startsWith('{')) params[part.slice(1, -1)] = seg;
    else if (part !== seg) return undefined;
  }
  return params;
}

/** Dropshot's routing: literal segments beat variables; a known path with another method is 405. */
export function matchRoute(method: string, pathname: string): Match {
  let segments: string[];
  try {
    segments = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return { kind: 'not-found' };
  }
  let pathKnown = false;
  let best: { route: Route; params: Record<string, string>; vars: number } | undefined;
  for (const route of ROUTES) {
    const params = matchPath(route.path, segments);
    if (!params) continue;
    pathKnown = true;
    if (route.method !== method) continue;
    const vars = Object.keys(params).length;
    if (!best || vars < best.vars) best = { route, params, vars };
  }
  if (best) return { kind: 'route', route: best.route, params: best.params };
  return pathKnown ? { kind: 'method-not-allowed' } : { kind: 'not-found' };
}
