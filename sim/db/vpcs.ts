// VPCs, their subnets and firewall rules (handlers/vpcs.ts). What Nexus creates with every
// project, and with every VPC: the "default" subnet, a system router (routers.ts) and the default
// firewall rules (inbound SSH, ICMP and intra-VPC traffic only).
import { randomBytes, randomUUID } from 'node:crypto';
import type { Vpc, VpcFirewallRule, VpcSubnet } from '@oxide/api';
import type { Silo } from './types.ts';
import { alreadyExists } from '../errors.ts';
import { systemRouter, subnetRoute } from './routers.ts';
import { checkName, isUuid, now } from './select.ts';

export const DEFAULT_VPC = 'default';
export const DEFAULT_SUBNET = 'default';
export const DEFAULT_SUBNET_V4 = '172.30.0.0/22';

export interface SubnetSpec {
  name: string;
  ipv4Block: string;
  ipv6Block?: string;
  project?: string;
}

/** A random unique-local /48, as Nexus picks for each VPC. */
function ulaPrefix(): string {
  const b = randomBytes(5);
  const hex = (i: number): string => (b.readUInt16BE(i) & 0xffff).toString(16);
  return `fd${b[0]?.toString(16).padStart(2, '0')}:${hex(1)}:${hex(3)}::/48`;
}

/** A VPC with its default subnet, system router and firewall rules, stored in `db`. */
export function createVpc(
  db: Silo,
  projectId: string,
  t: Date,
  name = DEFAULT_VPC,
  ipv4Block = DEFAULT_SUBNET_V4,
): Vpc {
  const prefix = ulaPrefix();
  const vpc: Vpc = {
    id: randomUUID(),
    name,
    description: name === DEFAULT_VPC ? 'Default VPC' : `VPC ${name}`,
    dnsName: name,
    ipv6Prefix: prefix,
    projectId,
    systemRouterId: randomUUID(),
    timeCreated: t,
    timeModified: t,
  };
  const subnet: VpcSubnet = {
    id: randomUUID(),
    name: DEFAULT_SUBNET,
    description: `The default subnet for ${name}`,
    vpcId: vpc.id,
    ipv4Block,
    ipv6Block: prefix.replace('::/48', '::/64'),
    customRouterId: null,
    timeCreated: t,
    timeModified: t,
  };
  const { router, routes } = systemRouter(vpc, subnet, t);
  db.vpcs.push(vpc);
  db.subnets.push(subnet);
  db.routers.push(router);
  db.routes.push(...routes);
  db.rules.set(vpc.id, defaultFirewallRules(vpc, t));
  return vpc;
}

/** Another VPC (like the default one: a subnet `default` with `ipv4Block`, a system router). */
export function addVpc(db: Silo, name: string, ipv4Block: string, project: string): Vpc {
  checkName(name);
  const p = db.project(project);
  if (db.vpcs.some((v) => v.projectId === p.id && v.name === name)) {
    throw alreadyExists('vpc', name);
  }
  return createVpc(db, p.id, now(), name, ipv4Block);
}

/** A subnet in a project's default VPC (its system router gets the subnet route, as in Nexus). */
export function addSubnet(db: Silo, spec: SubnetSpec): VpcSubnet {
  const vpc = db.vpc(DEFAULT_VPC, { project: spec.project ?? db.defaultProject });
  checkName(spec.name);
  if (db.subnets.some((s) => s.vpcId === vpc.id && s.name === spec.name)) {
    throw alreadyExists('vpc-subnet', spec.name);
  }
  const index = db.subnets.filter((s) => s.vpcId === vpc.id).length;
  const t = now();
  const subnet: VpcSubnet = {
    id: randomUUID(),
    name: spec.name,
    description: '',
    vpcId: vpc.id,
    ipv4Block: spec.ipv4Block,
    ipv6Block: spec.ipv6Block ?? vpc.ipv6Prefix.replace('::/48', `:${index.toString(16)}::/64`),
    customRouterId: null,
    timeCreated: t,
    timeModified: t,
  };
  db.subnets.push(subnet);
  db.routes.push(subnetRoute(subnet, vpc.systemRouterId, t));
  return subnet;
}

/** The VPC's firewall rules (name in the default project, or id). */
export function firewallRules(db: Silo, vpcNameOrId: string): VpcFirewallRule[] {
  const vpc = isUuid(vpcNameOrId)
    ? db.vpc(vpcNameOrId, {})
    : db.vpc(vpcNameOrId, { project: db.defaultProject });
  return db.rules.get(vpc.id) ?? [];
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
