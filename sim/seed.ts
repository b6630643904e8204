// The world the simulator starts with, from code or a small YAML/JSON file (`make sim SEED=...`).
import { readFileSync } from 'node:fs';
import type { InstanceState } from '@oxide/api';
import { parse } from 'yaml';

export interface PoolSeed {
  name: string;
  version: 'v4' | 'v6';
  isDefault?: boolean;
  ranges: { first: string; last: string }[];
}

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

export interface InstanceSeed {
  name: string;
  hostname?: string;
  description?: string;
  ncpus?: number;
  memoryGiB?: number;
  runState?: InstanceState;
  id?: string;
  /** Project name; the seeded project when omitted. */
  project?: string;
  nics?: NicSeed[];
  ephemeralIp?: AddressSeed;
  snatIp?: AddressSeed;
}

/** A user-created floating IP (e.g. for adoption tests); v4 from the default pool by default. */
export interface FloatingIpSeed {
  name: string;
  description?: string;
  ip?: string;
  pool?: string;
  ipVersion?: 'v4' | 'v6';
  /** Instance name to attach it to. */
  instance?: string;
}

export interface Seed {
  project?: string;
  pools?: PoolSeed[];
  instances?: InstanceSeed[];
  floatingIps?: FloatingIpSeed[];
}

export const DEFAULT_PROJECT = 'k8s';

/** Documentation ranges (RFC 5737 / RFC 3849): nothing on them is ever contacted. */
export const DEFAULT_POOLS: readonly PoolSeed[] = [
  {
    name: 'default-v4',
    version: 'v4',
    isDefault: true,
    ranges: [{ first: '198.51.100.10', last: '198.51.100.250' }],
  },
  {
    name: 'default-v6',
    version: 'v6',
    isDefault: true,
    ranges: [{ first: '2001:db8:100::10', last: '2001:db8:100::ffff' }],
  },
];

export function loadSeed(path: string): Seed {
  const text = readFileSync(path, 'utf8');
  const value: unknown = path.endsWith('.json') ? JSON.parse(text) : parse(text);
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${path}: a seed is a mapping with project, pools, instances`);
  }
  const seed = value as Seed;
  if (seed.instances !== undefined && !Array.isArray(seed.instances)) {
    throw new Error(`${path}: instances must be a list`);
  }
  for (const [i, inst] of (seed.instances ?? []).entries()) {
    if (typeof inst?.name !== 'string') throw new Error(`${path}: instances[${i}] needs a name`);
  }
  return seed;
}
