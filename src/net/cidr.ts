// CIDR parsing and containment on top of node:net's BlockList, for both families: which pod
// CIDRs fall inside --cluster-cidr, and whether a NIC's transit_ips cover a pod CIDR.
import { BlockList, isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const version = isIP(address);
  if (version === 0 || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (version === 4 ? 32 : 128)) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** True when `inner` lies entirely within `outer` (same family, inner no larger). */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  if (!o || !i || o.family !== i.family || i.prefix < o.prefix) return false;
  const block = new BlockList();
  block.addSubnet(o.address, o.prefix, o.family);
  return block.check(i.address, i.family);
}

/** True when some CIDR of `outers` contains `inner`. */
export const withinAny = (outers: readonly string[], inner: string): boolean =>
  outers.some((o) => cidrContains(o, inner));
