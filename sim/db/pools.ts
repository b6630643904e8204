// Silo-linked IP pools (handlers/pools.ts) and the allocator every external address comes from:
// floating IPs, and instances' ephemeral and SNAT addresses.
import { randomUUID } from 'node:crypto';
import type { SiloIpPool } from '@oxide/api';
import type { PoolState, Silo } from './types.ts';
import { alreadyExists, insufficientCapacity, invalidRequest, notFound } from '../errors.ts';
import { canonicalIp, type Family, familyOf, firstFree, toBigInt } from '../ip.ts';
import { checkName, now } from './select.ts';

export interface PoolSeed {
  name: string;
  version: 'v4' | 'v6';
  isDefault?: boolean;
  ranges: { first: string; last: string }[];
}

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

/** Where a new external address comes from: an explicit address, a pool, or a default pool. */
export interface ExternalAddressSpec {
  ip?: string;
  pool?: string;
  ipVersion?: Family | null;
}

export function addPool(
  db: Silo,
  name: string,
  version: Family,
  ranges: { first: string; last: string }[],
  isDefault = false,
): SiloIpPool {
  checkName(name);
  if (db.pools.some((p) => p.pool.name === name)) throw alreadyExists('ip-pool', name);
  for (const r of ranges) {
    if (familyOf(r.first) !== version || familyOf(r.last) !== version) {
      throw new Error(`pool ${name}: range ${r.first}-${r.last} is not ${version}`);
    }
  }
  if (isDefault) {
    for (const p of db.pools) if (p.pool.ipVersion === version) p.pool.isDefault = false;
  }
  const t = now();
  const pool: SiloIpPool = {
    id: randomUUID(),
    name,
    description: `${version} pool`,
    ipVersion: version,
    isDefault,
    poolType: 'unicast',
    timeCreated: t,
    timeModified: t,
  };
  db.pools.push({
    pool,
    ranges: ranges.map((r) => ({ first: canonicalIp(r.first), last: canonicalIp(r.last) })),
  });
  return pool;
}

function usedExternal(db: Silo): Set<string> {
  return new Set([...db.floatingIps.map((f) => f.ip), ...db.externalIps.map((e) => e.view.ip)]);
}

/** Picks the pool and address for a new external IP, following FloatingIpCreate's allocator. */
export function allocateExternal(
  db: Silo,
  spec: ExternalAddressSpec,
): { pool: SiloIpPool; ip: string } {
  const used = usedExternal(db);
  if (spec.ip !== undefined && spec.ip !== 'auto') {
    const family = familyOf(spec.ip);
    const ip = canonicalIp(spec.ip);
    const state = db.pools.find(
      (p) =>
        p.pool.ipVersion === family &&
        p.ranges.some((r) => toBigInt(ip) >= toBigInt(r.first) && toBigInt(ip) <= toBigInt(r.last)),
    );
    if (!family || !state)
      throw invalidRequest(
        `Requested external IP address ${spec.ip} is not in any IP pool linked to the silo`,
      );
    if (used.has(ip))
      throw invalidRequest(`Requested external IP address ${spec.ip} is not available`);
    return { pool: state.pool, ip };
  }
  let state: PoolState;
  if (spec.pool !== undefined) {
    state = db.pool(spec.pool);
  } else {
    const defaults = db.pools.filter(
      (p) => p.pool.isDefault && (!spec.ipVersion || p.pool.ipVersion === spec.ipVersion),
    );
    if (defaults.length === 0) {
      throw notFound('ip-pool', 'name', spec.ipVersion ? `default ${spec.ipVersion}` : 'default');
    }
    if (defaults.length > 1) {
      throw invalidRequest('the silo has default pools for both IPv4 and IPv6; specify ip_version');
    }
    state = defaults[0] as PoolState;
  }
  for (const r of state.ranges) {
    const ip = firstFree(toBigInt(r.first), toBigInt(r.last), state.pool.ipVersion, used);
    if (ip) return { pool: state.pool, ip };
  }
  throw insufficientCapacity('No external IP addresses available');
}
