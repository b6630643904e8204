// Step 6, what a created route cannot fix: the target's primary NIC must carry the pod CIDR in
// transit_ips or Oxide drops the Node's pod traffic. Kept until the route controller takes them
// (after its creations) and turns them into Warning events on the Nodes.
import type { InstanceNetworkInterface } from '@oxide/api';
import { cidrContains } from '../../../net/cidr.ts';
import type { Route, RouteWarning } from '../../provider.ts';
import type { RouteTarget } from './targets.ts';

export class RouteWarnings {
  private pending: RouteWarning[] = [];

  checkTransitIps(route: Route, { instance, nic }: RouteTarget): void {
    const cidr = route.destinationCIDR;
    if (transitIps(nic).some((t) => cidrContains(t, cidr))) return;
    this.pending.push({
      nodeName: route.targetNode,
      reason: 'TransitIPsMissing',
      message:
        `route for pod CIDR ${cidr} created, but the primary NIC of instance ${instance.name} ` +
        `lacks ${cidr} in transit_ips, so Oxide drops the Node's pod traffic; transit_ips can ` +
        `only change while the instance is stopped (set them when creating the instance)`,
    });
  }

  take(): RouteWarning[] {
    const taken = this.pending;
    this.pending = [];
    return taken;
  }
}

function transitIps(nic: InstanceNetworkInterface): string[] {
  const stack = nic.ipStack;
  if (stack.type === 'dual_stack') {
    return [...stack.value.v4.transitIps, ...stack.value.v6.transitIps];
  }
  return [...stack.value.transitIps];
}
