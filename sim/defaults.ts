// What Nexus creates with every project: the "default" VPC with its "default" subnet, a system
// router holding the default internet-gateway routes plus one route per subnet, and the default
// firewall rules (inbound SSH, ICMP and intra-VPC traffic only).
import { randomBytes, randomUUID } from 'node:crypto';
import type { RouterRoute, Vpc, VpcFirewallRule, VpcRouter, VpcSubnet } from '@oxide/api';

export const DEFAULT_VPC = 'default';
export const DEFAULT_SUBNET = 'default';
export const DEFAULT_SUBNET_V4 = '172.30.0.0/22';

export interface VpcBundle {
  vpc: Vpc;
  subnet: VpcSubnet;
  router: VpcRouter;
  routes: RouterRoute[];
  rules: VpcFirewallRule[];
}

/** A random unique-local /48, as Nexus picks for each VPC. */
function ulaPrefix(): string {
  const b = randomBytes(5);
  const hex = (i: number): string => (b.readUInt16BE(i) & 0xffff).toString(16);
  return `fd${b[0]?.toString(16).padStart(2, '0')}:${hex(1)}:${hex(3)}::/48`;
}

export function defaultVpc(
  projectId: string,
  now: Date,
  name = DEFAULT_VPC,
  ipv4Block = DEFAULT_SUBNET_V4,
): VpcBundle {
  const prefix = ulaPrefix();
  const vpc: Vpc = {
    id: randomUUID(),
    name,
    description: name === DEFAULT_VPC ? 'Default VPC' : `VPC ${name}`,
    dnsName: name,
    ipv6Prefix: prefix,
    projectId,
    systemRouterId: randomUUID(),
    timeCreated: now,
    timeModified: now,
  };
  const subnet: VpcSubnet = {
    id: randomUUID(),
    name: DEFAULT_SUBNET,
    description: `The default subnet for ${name}`,
    vpcId: vpc.id,
    ipv4Block,
    ipv6Block: prefix.replace('::/48', '::/64'),
    customRouterId: null,
    timeCreated: now,
    timeModified: now,
  };
  const router: VpcRouter = {
    id: vpc.systemRouterId,
    name: 'system',
    description: 'Routes are automatically added to this router as vpc subnets are created',
    kind: 'system',
    vpcId: vpc.id,
    timeCreated: now,
    timeModified: now,
  };
  const route = (r: Omit<RouterRoute, 'id' | 'vpcRouterId' | 'timeCreated' | 'timeModified'>) => ({
    ...r,
    id: randomUUID(),
    vpcRouterId: router.id,
    timeCreated: now,
    timeModified: now,
  });
  const routes: RouterRoute[] = [
    route({
      name: 'default-v4',
      description: 'The default route of a vpc',
      kind: 'default',
      destination: { type: 'ip_net', value: '0.0.0.0/0' },
      target: { type: 'internet_gateway', value: 'default' },
    }),
    route({
      name: 'default-v6',
      description: 'The default route of a vpc',
      kind: 'default',
      destination: { type: 'ip_net', value: '::/0' },
      target: { type: 'internet_gateway', value: 'default' },
    }),
    subnetRoute(subnet, router.id, now),
  ];
  return { vpc, subnet, router, routes, rules: defaultFirewallRules(vpc, now) };
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

function defaultFirewallRules(vpc: Vpc, now: Date): VpcFirewallRule[] {
  const base = {
    vpcId: vpc.id,
    status: 'enabled',
    direction: 'inbound',
    action: 'allow',
    priority: 65534,
    targets: [{ type: 'vpc', value: vpc.name }],
    timeCreated: now,
    timeModified: now,
  } as const;
  return [
    {
      ...base,
      id: randomUUID(),
      name: 'allow-internal-inbound',
      description:
        'allow inbound traffic to all instances within the VPC if originated within the VPC',
      targets: [...base.targets],
      filters: { hosts: [{ type: 'vpc', value: vpc.name }], ports: null, protocols: null },
    },
    {
      ...base,
      id: randomUUID(),
      name: 'allow-ssh',
      description: 'allow inbound TCP connections on port 22 from anywhere',
      targets: [...base.targets],
      filters: { hosts: null, ports: ['22'], protocols: [{ type: 'tcp' }] },
    },
    {
      ...base,
      id: randomUUID(),
      name: 'allow-icmp',
      description: 'allow inbound ICMP traffic from anywhere',
      targets: [...base.targets],
      filters: { hosts: null, ports: null, protocols: [{ type: 'icmp', value: null }] },
    },
  ];
}
