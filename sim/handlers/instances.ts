// Instances: list/view with Nexus' selector rules, start/stop, and their external IPs.
import type {
  ExternalIpResultsPage,
  Instance,
  InstanceResultsPage,
  InstanceState,
} from '@oxide/api';
import type { SimDb } from '../db.ts';
import { paginate } from '../pagination.ts';
import { projectScope } from './scope.ts';
import { type Ctx, param, reply, requiredQuery, type Route } from '../http.ts';

function selected(ctx: Ctx): Instance {
  return ctx.db.instance(param(ctx, 'instance'), projectScope(ctx));
}

// The real start/stop saga passes through starting/stopping; the simulator lands on the end
// state at once (tests move instances through other states with db.setRunState).
function transition(db: SimDb, instance: Instance, to: InstanceState): Instance {
  return instance.runState === to ? instance : db.setRunState(instance.id, to);
}

export const instanceRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/instances',
    operationId: 'instance_list',
    auth: true,
    handle: (ctx) => {
      const project = ctx.db.project(requiredQuery(ctx, 'project'));
      const all = ctx.db.instances.filter((i) => i.projectId === project.id);
      return reply<InstanceResultsPage>(200, paginate(all, ctx.query));
    },
  },
  {
    method: 'GET',
    path: '/v1/instances/{instance}',
    operationId: 'instance_view',
    auth: true,
    handle: (ctx) => reply<Instance>(200, selected(ctx)),
  },
  {
    method: 'POST',
    path: '/v1/instances/{instance}/start',
    operationId: 'instance_start',
    auth: true,
    handle: (ctx) => reply<Instance>(202, transition(ctx.db, selected(ctx), 'running')),
  },
  {
    method: 'POST',
    path: '/v1/instances/{instance}/stop',
    operationId: 'instance_stop',
    auth: true,
    handle: (ctx) => reply<Instance>(202, transition(ctx.db, selected(ctx), 'stopped')),
  },
  {
    method: 'GET',
    path: '/v1/instances/{instance}/external-ips',
    operationId: 'instance_external_ip_list',
    auth: true,
    // Not paginated: one page with every address and a null next_page.
    handle: (ctx) =>
      reply<ExternalIpResultsPage>(200, {
        items: ctx.db.instanceExternalIps(selected(ctx).id),
        nextPage: null,
      }),
  },
];
