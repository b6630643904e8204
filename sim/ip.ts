// Address arithmetic for the simulator's allocators (pool ranges, VPC subnets). IPv6 addresses are
// formatted canonically (RFC 5952) as the real API returns them.
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 'v4' | 'v6';

export function familyOf(ip: string): Family | undefined {
  if (isIPv4(ip)) return 'v4';
  if (isIPv6(ip)) return 'v6';
  return undefined;
}

export function toBigInt(ip: string): bigint {
  if (isIPv4(ip)) return ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  let text = ip;
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad?.[1]) {
    const v = toBigInt(quad[1]);
    text =
      text.slice(0, -quad[1].length) + `${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function fromBigInt(value: bigint, family: Family): string {
  if (family === 'v4') {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  }
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) =>
    Number((value >> s) & 0xffffn),
  );
  // Compress the longest run (length ≥ 2) of zero groups, leftmost on ties.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export interface Cidr {
  family: Family;
  base: bigint;
  prefix: number;
}

export function parseCidr(cidr: string): Cidr | undefined {
  const [addr = '', len] = cidr.split('/');
  const family = familyOf(addr);
  const prefix = Number(len);
  const bits = family === 'v4' ? 32 : 128;
  if (!family || len === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > bits) {
    return undefined;
  }
  const size = BigInt(bits - prefix);
  return { family, base: (toBigInt(addr) >> size) << size, prefix };
}

export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt((c.family === 'v4' ? 32 : 128) - c.prefix);
}

export function cidrContains(c: Cidr, ip: string): boolean {
  if (familyOf(ip) !== c.family) return false;
  const v = toBigInt(ip);
  return v >= c.base && v < c.base + cidrSize(c);
}

/** The first address in [first, last] not in `used`, or undefined when the range is full. */
export function firstFree(
  first: bigint,
  last: bigint,
  family: Family,
  used: ReadonlySet<string>,
): string | undefined {
  for (let v = first; v <= last; v++) {
    const ip = fromBigInt(v, family);
    if (!used.has(ip)) return ip;
  }
  return undefined;
}

export function canonicalIp(ip: string): string {
  const f = familyOf(ip);
  return f ? fromBigInt(toBigInt(ip), f) : ip;
}
