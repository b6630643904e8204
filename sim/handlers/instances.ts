// Instances: list/view with Nexus' selector rules, start/stop, and their external IPs.
import type {
  ExternalIpResultsPage,
  Instance,
  InstanceResultsPage,
  InstanceState,
} from '@oxide/api';
import type { SimDb } from '../db.ts';
import { paginate } from '../pagination.ts';
import { projectScope, queriedProject } from './scope.ts';
import { type Ctx, endpoint, param, reply, type Route } from '../http.ts';

function selected(ctx: Ctx): Instance {
  return ctx.db.instance(param(ctx, 'instance'), projectScope(ctx));
}

// The real start/stop saga passes through starting/stopping; the simulator lands on the end
// state at once (tests move instances through other states with db.setRunState).
function transition(db: SimDb, instance: Instance, to: InstanceState): Instance {
  return instance.runState === to ? instance : db.setRunState(instance.id, to);
}

export const instanceRoutes: Route[] = [
  endpoint('GET', '/v1/instances', 'instance_list', (ctx) => {
    const project = queriedProject(ctx);
    const all = ctx.db.instances.filter((i) => i.projectId === project.id);
    return reply<InstanceResultsPage>(200, paginate(all, ctx.query));
  }),
  endpoint('GET', '/v1/instances/{instance}', 'instance_view', (ctx) =>
    reply<Instance>(200, selected(ctx)),
  ),
  endpoint('POST', '/v1/instances/{instance}/start', 'instance_start', (ctx) =>
    reply<Instance>(202, transition(ctx.db, selected(ctx), 'running')),
  ),
  endpoint('POST', '/v1/instances/{instance}/stop', 'instance_stop', (ctx) =>
    reply<Instance>(202, transition(ctx.db, selected(ctx), 'stopped')),
  ),
  // Not paginated: one page with every address and a null next_page.
  endpoint('GET', '/v1/instances/{instance}/external-ips', 'instance_external_ip_list', (ctx) =>
    reply<ExternalIpResultsPage>(200, {
      items: ctx.db.instanceExternalIps(selected(ctx).id),
      nextPage: null,
    }),
  ),
];
