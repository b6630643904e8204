// IP addresses as users write them (annotations, spec.loadBalancerIP, source ranges) turned into
// the one spelling Oxide and every comparison use. An address has many spellings: upper case,
// leading zeros, `::` anywhere a run of zero groups is, and IPv4-mapped IPv6 (`::ffff:a.b.c.d`,
// which is the IPv4 address a.b.c.d on a dual-stack socket). Compared as text, two spellings of
// one address are two addresses, so an ownership check by address would let a Service take
// another's address by spelling it differently. node:net's isIP also accepts zone ids
// (`fe80::1%eth0`), which only mean something on one host's link and which Oxide's API refuses.
import { isIP } from 'node:net';

export interface IpAddress {
  /** RFC 5952 text for IPv6 (lower case, no leading zeros, longest zero run as `::`), dotted quad for IPv4. */
  address: string;
  family: 4 | 6;
}

/** The canonical address, or undefined when `text` is no address Oxide can take. */
export function parseIp(text: string): IpAddress | undefined {
  if (text.includes('%')) return undefined;
  const version = isIP(text);
  // isIP takes no leading zeros and no other IPv4 spelling: what it accepts is canonical.
  if (version === 4) return { address: text, family: 4 };
  if (version !== 6) return undefined;
  const groups = ipv6Groups(text);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return { address: [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.'), family: 4 };
  }
  return { address: formatIpv6(groups), family: 6 };
}

/** The eight 16-bit groups of an address isIP accepted as IPv6 (without a zone id). */
function ipv6Groups(text: string): number[] {
  const parse = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').flatMap((g) => {
      if (!g.includes('.')) return [parseInt(g, 16)];
      const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
      return [(a << 8) | b, (c << 8) | d];
    });
  };
  const [head = '', tail] = text.split('::');
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** RFC 5952 section 4: the first longest run of two or more zero groups becomes `::`. */
function formatIpv6(groups: readonly number[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j += 1;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}
