// Pure address rules of upstream's node controller (k8s.io/cloud-provider node helpers).
import type { V1Node, V1NodeAddress } from '@kubernetes/client-node';
import { isIP } from 'node:net';
import type { NodeAddress } from '../../cloud/provider.ts';
import { ANNOTATION_PROVIDED_NODE_IP } from '../../kube/well-known.ts';
import { compareNames } from '../../util/compare.ts';

export type AddressResult = { addresses: V1NodeAddress[] } | { error: string };

/** Parses the provided-node-ip annotation (one IP or a comma-separated dual-stack pair). */
export function parseProvidedNodeIPs(annotation: string | undefined): string[] | { error: string } {
  if (annotation === undefined || annotation.trim() === '') return [];
  const ips = annotation.split(',').map((s) => s.trim());
  const bad = ips.filter((ip) => isIP(ip) === 0);
  if (bad.length > 0)
    return {
      error: `annotation alpha.kubernetes.io/provided-node-ip has invalid IP ${bad.join(', ')}`,
    };
  if (ips.length > 2 || (ips.length === 2 && isIP(ips[0] ?? '') === isIP(ips[1] ?? ''))) {
    return {
      error: `annotation alpha.kubernetes.io/provided-node-ip must be one IP or one IPv4 and one IPv6, got ${annotation}`,
    };
  }
  // kubelet records 0.0.0.0 / :: when --node-ip is "any": no constraint.
  return ips.filter((ip) => ip !== '0.0.0.0' && ip !== '::');
}

/**
 * The addresses to write to the Node: the provider's, filtered by the provided node IPs (each
 * must be among them; matching addresses first, other addresses of a matched type dropped,
 * the rest in provider order), plus kubelet's Hostname address when the provider has none.
 */
export function desiredAddresses(
  fromCloud: NodeAddress[],
  current: V1NodeAddress[] | undefined,
  providedNodeIP: string | undefined,
): AddressResult {
  const ips = parseProvidedNodeIPs(providedNodeIP);
  if ('error' in ips) return ips;
  let result: V1NodeAddress[] = fromCloud.map((a) => ({ type: a.type, address: a.address }));
  if (ips.length > 0) {
    const matched: V1NodeAddress[] = [];
    const matchedTypes = new Set<string>();
    for (const ip of ips) {
      const hits = result.filter((a) => sameIP(a.address, ip));
      if (hits.length === 0) {
        return {
          error: `provided node IP ${ip} (annotation alpha.kubernetes.io/provided-node-ip) is not an address of the instance: ${result.map((a) => a.address).join(', ') || 'none'}`,
        };
      }
      for (const h of hits) {
        matched.push(h);
        matchedTypes.add(h.type);
      }
    }
    result = [...matched, ...result.filter((a) => !matchedTypes.has(a.type))];
  }
  if (!result.some((a) => a.type === 'Hostname')) {
    const kubeletHostname = current?.find((a) => a.type === 'Hostname');
    if (kubeletHostname) result.push({ type: 'Hostname', address: kubeletHostname.address });
  }
  return { addresses: result };
}

/** IPv6 has many spellings; compare canonical forms. */
function sameIP(a: string, b: string): boolean {
  if (a === b) return true;
  if (isIP(a) !== 6 || isIP(b) !== 6) return false;
  return canonicalV6(a) === canonicalV6(b);
}

function canonicalV6(ip: string): string {
  const [head = '', tail] = ip.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => g.replace(/^0+(?=.)/, '')).join(':');
}

/** desiredAddresses for a Node: its current addresses and its provided-node-ip annotation. */
export const desiredNodeAddresses = (fromCloud: NodeAddress[], node: V1Node): AddressResult =>
  desiredAddresses(
    fromCloud,
    node.status?.addresses,
    node.metadata?.annotations?.[ANNOTATION_PROVIDED_NODE_IP],
  );

/**
 * Whether writing `desired` would change the Node's addresses: the same type/address pairs in
 * any order count as unchanged, as upstream's nodeAddressesChangeDetected. The API does not
 * specify the order of an instance's external IPs (a floating IP and an ephemeral one may come
 * back either way round), and a refresh that only reordered them must not write the Node.
 */
export function nodeAddressesChanged(
  current: readonly V1NodeAddress[] = [],
  desired: readonly V1NodeAddress[],
): boolean {
  if (current.length !== desired.length) return true;
  const key = (a: V1NodeAddress): string => `${a.type}\u0000${a.address}`;
  const left = current.map(key).sort(compareNames);
  const right = desired.map(key).sort(compareNames);
  return left.some((k, i) => k !== right[i]);
}
