// Instance network interfaces, including the subnet-wide listing that saves per-instance calls.
import type {
  InstanceNetworkInterface,
  InstanceNetworkInterfaceResultsPage,
  InstanceNetworkInterfaceUpdate,
} from '@oxide/api';
import { stackParts } from '../db/nics.ts';
import { invalidRequest } from '../errors.ts';
import { body, type Ctx, endpoint, param, reply, type Route } from '../http.ts';
import { paginate } from '../pagination.ts';
import { applyIdentity, checkRename } from './identity.ts';
import { instanceScope, queriedInstance, vpcScope } from './scope.ts';

function selected(ctx: Ctx): InstanceNetworkInterface {
  return ctx.db.nic(param(ctx, 'interface'), instanceScope(ctx));
}

function update(ctx: Ctx): InstanceNetworkInterface {
  const { db } = ctx;
  const nic = selected(ctx);
  const patch = body<InstanceNetworkInterfaceUpdate>(ctx);
  const instance = db.instance(nic.instanceId, {});
  if (instance.runState !== 'stopped') {
    throw invalidRequest('Instance must be stopped to update its network interfaces');
  }
  const siblings = db.nics.filter((n) => n.instanceId === nic.instanceId && n.id !== nic.id);
  checkRename('instance-network-interface', nic, patch.name, siblings);
  if (patch.primary === false && nic.primary) {
    throw invalidRequest('cannot make the primary interface a secondary one; make another primary');
  }
  // transit_ips defaults to [] in the API: an update without it clears the list, as in Nexus.
  const transitIps = patch.transitIps ?? [];
  const parts = stackParts(nic.ipStack);
  db.setNicIps(instance.id, {
    nic: nic.name,
    v4: parts.v4?.ip ?? null,
    v6: parts.v6?.ip ?? null,
    transitIps,
  });
  applyIdentity(nic, patch);
  if (patch.primary === true && !nic.primary) {
    for (const n of siblings) n.primary = false;
    nic.primary = true;
  }
  return nic;
}

export const nicRoutes: Route[] = [
  endpoint('GET', '/v1/network-interfaces', 'instance_network_interface_list', (ctx) => {
    const instance = queriedInstance(ctx);
    const all = ctx.db.nics.filter((n) => n.instanceId === instance.id);
    return reply<InstanceNetworkInterfaceResultsPage>(200, paginate(all, ctx.query));
  }),
  endpoint('GET', '/v1/network-interfaces/{interface}', 'instance_network_interface_view', (ctx) =>
    reply<InstanceNetworkInterface>(200, selected(ctx)),
  ),
  endpoint(
    'PUT',
    '/v1/network-interfaces/{interface}',
    'instance_network_interface_update',
    (ctx) => reply<InstanceNetworkInterface>(200, update(ctx)),
  ),
  endpoint(
    'GET',
    '/v1/vpc-subnets/{subnet}/network-interfaces',
    'vpc_subnet_list_network_interfaces',
    (ctx) => {
      const subnet = ctx.db.subnet(param(ctx, 'subnet'), vpcScope(ctx));
      const all = ctx.db.nics.filter((n) => n.subnetId === subnet.id);
      return reply<InstanceNetworkInterfaceResultsPage>(200, paginate(all, ctx.query));
    },
  ),
];
