// Floating IPs: create 201 (explicit address, explicit pool, or a default pool by version),
// attach/detach 202, delete 204. The one-instance-at-a-time rules live in SimDb.
import type {
  FloatingIp,
  FloatingIpAttach,
  FloatingIpCreate,
  FloatingIpResultsPage,
  FloatingIpUpdate,
} from '@oxide/api';
import type { FloatingIpSpec } from '../db/floating-ips.ts';
import { badInput } from '../errors.ts';
import { body, type Ctx, endpoint, noContent, param, reply, type Route } from '../http.ts';
import { paginate } from '../pagination.ts';
import { applyIdentity, checkRename } from './identity.ts';
import { projectScope, queriedProject } from './scope.ts';

function selected(ctx: Ctx): FloatingIp {
  return ctx.db.floatingIp(param(ctx, 'floating_ip'), projectScope(ctx));
}

function create(ctx: Ctx): FloatingIp {
  const project = queriedProject(ctx);
  const b = body<FloatingIpCreate>(ctx, ['name', 'description']);
  const spec: FloatingIpSpec = { name: b.name, description: b.description, project: project.id };
  const alloc = b.addressAllocator ?? { type: 'auto' };
  if (alloc.type === 'explicit') {
    spec.ip = alloc.ip;
  } else if (alloc.type === 'auto') {
    const sel = alloc.poolSelector ?? { type: 'auto' };
    if (sel.type === 'explicit') spec.pool = sel.pool;
    else if (sel.type === 'auto') spec.ipVersion = sel.ipVersion ?? null;
    else
      throw badInput('unable to parse JSON body: address_allocator.pool_selector: unknown variant');
  } else {
    throw badInput('unable to parse JSON body: address_allocator: unknown variant');
  }
  return ctx.db.createFloatingIp(spec);
}

function update(ctx: Ctx): FloatingIp {
  const fip = selected(ctx);
  const b = body<FloatingIpUpdate>(ctx);
  const siblings = ctx.db.floatingIps.filter((f) => f.projectId === fip.projectId);
  checkRename('floating-ip', fip, b.name, siblings);
  applyIdentity(fip, b);
  return fip;
}

function attach(ctx: Ctx): FloatingIp {
  const fip = selected(ctx);
  const b = body<FloatingIpAttach>(ctx, ['kind', 'parent']);
  if (b.kind !== 'instance') {
    throw badInput(`unable to parse JSON body: kind: unknown variant \`${String(b.kind)}\``);
  }
  return ctx.db.attachFloatingIp(fip.id, b.parent);
}

export const floatingIpRoutes: Route[] = [
  endpoint('GET', '/v1/floating-ips', 'floating_ip_list', (ctx) => {
    const project = queriedProject(ctx);
    const all = ctx.db.floatingIps.filter((f) => f.projectId === project.id);
    return reply<FloatingIpResultsPage>(200, paginate(all, ctx.query));
  }),
  endpoint('POST', '/v1/floating-ips', 'floating_ip_create', (ctx) =>
    reply<FloatingIp>(201, create(ctx)),
  ),
  endpoint('GET', '/v1/floating-ips/{floating_ip}', 'floating_ip_view', (ctx) =>
    reply<FloatingIp>(200, selected(ctx)),
  ),
  endpoint('PUT', '/v1/floating-ips/{floating_ip}', 'floating_ip_update', (ctx) =>
    reply<FloatingIp>(200, update(ctx)),
  ),
  endpoint('DELETE', '/v1/floating-ips/{floating_ip}', 'floating_ip_delete', (ctx) => {
    ctx.db.deleteFloatingIp(selected(ctx).id);
    return noContent();
  }),
  endpoint('POST', '/v1/floating-ips/{floating_ip}/attach', 'floating_ip_attach', (ctx) =>
    reply<FloatingIp>(202, attach(ctx)),
  ),
  endpoint('POST', '/v1/floating-ips/{floating_ip}/detach', 'floating_ip_detach', (ctx) =>
    reply<FloatingIp>(202, ctx.db.detachFloatingIp(selected(ctx).id)),
  ),
];
