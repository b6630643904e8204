// The routers and routes Nexus makes by itself: each VPC's system router with the default
// internet-gateway routes, and one route per subnet. Custom routers and routes are created over
// HTTP (handlers/routers.ts).
import { randomUUID } from 'node:crypto';
import type { RouterRoute, Vpc, VpcRouter, VpcSubnet } from '@oxide/api';

/** A VPC's system router with its default v4/v6 routes and the route of its first subnet. */
export function systemRouter(
  vpc: Vpc,
  subnet: VpcSubnet,
  now: Date,
): { router: VpcRouter; routes: RouterRoute[] } {
  const router: VpcRouter = {
    id: vpc.systemRouterId,
    name: 'system',
    description: 'Routes are automatically added to this router as vpc subnets are created',
    kind: 'system',
    vpcId: vpc.id,
    timeCreated: now,
    timeModified: now,
  };
  // The internet-gateway default route of each family.
  const defaultRoute = (family: 'v4' | 'v6', destination: string): RouterRoute => ({
    name: `default-${family}`,
    description: 'The default route of a vpc',
    kind: 'default',
    destination: { type: 'ip_net', value: destination },
    target: { type: 'internet_gateway', value: 'default' },
    id: randomUUID(),
    vpcRouterId: router.id,
    timeCreated: now,
    timeModified: now,
  });
  const routes: RouterRoute[] = [
    defaultRoute('v4', '0.0.0.0/0'),
    defaultRoute('v6', '::/0'),
    subnetRoute(subnet, router.id, now),
  ];
  return { router, routes };
}

export function subnetRoute(subnet: VpcSubnet, routerId: string, now: Date): RouterRoute {
  return {
    id: randomUUID(),
    name: subnet.name,
    description: `VPC Subnet route for '${subnet.name}'`,
    kind: 'vpc_subnet',
    destination: { type: 'subnet', value: subnet.name },
    target: { type: 'subnet', value: subnet.name },
    vpcRouterId: routerId,
    timeCreated: now,
    timeModified: now,
  };
}
