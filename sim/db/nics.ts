// Instance network interfaces (handlers/nics.ts): private addresses allocated from the subnet
// past the addresses Nexus reserves, MAC addresses from Oxide's range, and address changes.
import { randomUUID } from 'node:crypto';
import type {
  InstanceNetworkInterface,
  PrivateIpStack,
  PrivateIpv4Stack,
  PrivateIpv6Stack,
  VpcSubnet,
} from '@oxide/api';
import type { Silo } from './types.ts';
import { alreadyExists, insufficientCapacity, invalidRequest, notFound } from '../errors.ts';
import { canonicalIp, cidrContains, cidrSize, type Family, firstFree, parseCidr } from '../ip.ts';
import { checkName, now } from './select.ts';
import { DEFAULT_SUBNET, DEFAULT_VPC } from './vpcs.ts';

/** An address, or 'auto' to allocate one (from the subnet for NICs, the default pool otherwise). */
export type AddressSeed = string;

export interface NicSeed {
  name?: string;
  primary?: boolean;
  /** VPC of the NIC (default 'default'; others come from SimDb.addVpc). */
  vpc?: string;
  /** VPC subnet name in that VPC (default 'default'). */
  subnet?: string;
  /** v4 and/or v6 private address ('auto' allocates); neither means one auto v4 address. */
  v4?: AddressSeed;
  v6?: AddressSeed;
  transitIps?: string[];
}

export interface NicIps {
  /** NIC name; the primary NIC when omitted. */
  nic?: string;
  /** New address ('auto' allocates); null removes that family; undefined keeps it. */
  v4?: string | null;
  v6?: string | null;
  transitIps?: string[];
}

const MAX_NICS = 8;
// Nexus reserves the first addresses of every VPC subnet (network, gateway, DNS, ...) and the last.
const RESERVED_LOW = 5n;

export function addNic(
  db: Silo,
  instanceNameOrId: string,
  spec: NicSeed = {},
): InstanceNetworkInterface {
  const instance = db.findInstance(instanceNameOrId);
  const mine = db.nics.filter((n) => n.instanceId === instance.id);
  if (mine.length >= MAX_NICS) {
    throw invalidRequest(`Instances may not have more than ${MAX_NICS} network interfaces`);
  }
  const name = spec.name ?? `net${mine.length}`;
  checkName(name);
  if (mine.some((n) => n.name === name)) throw alreadyExists('instance-network-interface', name);
  const project = db.projectById(instance.projectId);
  const vpc = db.vpc(spec.vpc ?? DEFAULT_VPC, { project: project.name });
  const subnet = db.subnet(spec.subnet ?? DEFAULT_SUBNET, { vpc: vpc.id });
  const t = now();
  const nic: InstanceNetworkInterface = {
    id: randomUUID(),
    name,
    description: '',
    instanceId: instance.id,
    subnetId: subnet.id,
    vpcId: vpc.id,
    mac: nextMac(db),
    primary: spec.primary ?? mine.length === 0,
    ipStack: { type: 'v4', value: { ip: '0.0.0.0', transitIps: [] } },
    timeCreated: t,
    timeModified: t,
  };
  const wantV4 = spec.v4 ?? (spec.v6 === undefined ? 'auto' : undefined);
  nic.ipStack = buildStack(db, subnet, nic, wantV4 ?? null, spec.v6 ?? null, spec.transitIps ?? []);
  if (nic.primary) for (const n of mine) n.primary = false;
  db.nics.push(nic);
  return nic;
}

/** Changes a NIC's private addresses (and optionally transit IPs), as an address-change event. */
export function setNicIps(
  db: Silo,
  instanceNameOrId: string,
  change: NicIps,
): InstanceNetworkInterface {
  const instance = db.findInstance(instanceNameOrId);
  const nic = db.nics.find(
    (n) =>
      n.instanceId === instance.id &&
      (change.nic === undefined ? n.primary : n.name === change.nic),
  );
  if (!nic) throw notFound('instance-network-interface', 'name', change.nic ?? 'primary');
  const cur = stackParts(nic.ipStack);
  const subnet = db.subnets.find((s) => s.id === nic.subnetId);
  if (!subnet) throw new Error(`subnet of ${nic.name} vanished`);
  const v4 = change.v4 === undefined ? (cur.v4?.ip ?? null) : change.v4;
  const v6 = change.v6 === undefined ? (cur.v6?.ip ?? null) : change.v6;
  const transit = change.transitIps ?? [
    ...(cur.v4?.transitIps ?? []),
    ...(cur.v6?.transitIps ?? []),
  ];
  nic.ipStack = buildStack(db, subnet, nic, v4, v6, transit);
  nic.timeModified = now();
  return nic;
}

/** The v4 and v6 halves of a NIC's stack, whichever exist. */
export function stackParts(s: PrivateIpStack): { v4?: PrivateIpv4Stack; v6?: PrivateIpv6Stack } {
  if (s.type === 'v4') return { v4: s.value };
  if (s.type === 'v6') return { v6: s.value };
  return { v4: s.value.v4, v6: s.value.v6 };
}

function nextMac(db: Silo): string {
  const n = db.macSerial++;
  const hex = (v: number): string => v.toString(16).toUpperCase().padStart(2, '0');
  return `A8:40:25:F${(n >> 16) & 0x7}:${hex((n >> 8) & 0xff)}:${hex(n & 0xff)}`;
}

function buildStack(
  db: Silo,
  subnet: VpcSubnet,
  nic: InstanceNetworkInterface,
  v4: string | null,
  v6: string | null,
  transitIps: string[],
): PrivateIpStack {
  const transit4 = transitIps.filter((c) => parseCidr(c)?.family === 'v4');
  const transit6 = transitIps.filter((c) => parseCidr(c)?.family === 'v6');
  if (transit4.length + transit6.length !== transitIps.length) {
    throw invalidRequest(`invalid transit IP network in ${JSON.stringify(transitIps)}`);
  }
  const s4: PrivateIpv4Stack | undefined =
    v4 === null ? undefined : { ip: privateIp(db, subnet, nic, 'v4', v4), transitIps: transit4 };
  const s6: PrivateIpv6Stack | undefined =
    v6 === null ? undefined : { ip: privateIp(db, subnet, nic, 'v6', v6), transitIps: transit6 };
  if ((!s4 && transit4.length > 0) || (!s6 && transit6.length > 0)) {
    throw invalidRequest('transit IPs must match the IP version of the interface');
  }
  if (s4 && s6) return { type: 'dual_stack', value: { v4: s4, v6: s6 } };
  if (s4) return { type: 'v4', value: s4 };
  if (s6) return { type: 'v6', value: s6 };
  throw invalidRequest('a network interface needs an IPv4 or an IPv6 address');
}

function privateIp(
  db: Silo,
  subnet: VpcSubnet,
  nic: InstanceNetworkInterface,
  family: Family,
  want: string,
): string {
  const block = parseCidr(family === 'v4' ? subnet.ipv4Block : subnet.ipv6Block);
  if (!block) throw new Error(`subnet ${subnet.name} has no ${family} block`);
  const used = new Set<string>();
  for (const n of db.nics) {
    if (n.subnetId !== subnet.id || n.id === nic.id) continue;
    const ip = stackParts(n.ipStack)[family]?.ip;
    if (ip) used.add(ip);
  }
  if (want !== 'auto') {
    const ip = canonicalIp(want);
    if (!cidrContains(block, ip)) {
      throw invalidRequest(
        `address ${want} is not in subnet ${subnet.name} (${family === 'v4' ? subnet.ipv4Block : subnet.ipv6Block})`,
      );
    }
    if (used.has(ip)) throw invalidRequest(`The IP address ${want} is not available`);
    return ip;
  }
  const last = block.base + cidrSize(block) - 2n;
  const ip = firstFree(block.base + RESERVED_LOW, last, family, used);
  if (!ip)
    throw insufficientCapacity(`No available IP addresses for interface in subnet ${subnet.name}`);
  return ip;
}
