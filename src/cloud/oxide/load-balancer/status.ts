// Step 6, status: what goes to Service status.loadBalancer. Go CCM order: each FIP with ipMode
// Proxy (the address is NATed, not a VIP the node may claim), then the target Nodes'
// InternalIPs. Oxide NAT delivers packets to the node's private address, so kube-proxy must
// treat those addresses as load-balancer ingress too.
import type { V1Node } from '@kubernetes/client-node';
import type { FloatingIp } from '@oxide/api';
import type { LoadBalancerIngress, LoadBalancerStatus } from '../../provider.ts';
import type { Candidate } from './placement.ts';

/** lastNodes may exceed the current Nodes by this much before it drops what no FIP points at. */
const LAST_NODES_SLACK = 64;

export class IngressStatus {
  /**
   * Last Node seen per instance id: when no Node is eligible the FIP stays where it is, and its
   * status still needs that Node's InternalIPs. Bounded: see prune.
   */
  private readonly lastNodes = new Map<string, V1Node>();
  /** The candidate list remembered last: the same list again (the next Service) adds nothing. */
  private remembered: readonly Candidate[] | undefined;

  /** The Nodes handed to this reconcile. */
  remember(candidates: readonly Candidate[]): void {
    if (candidates === this.remembered) return;
    for (const c of candidates) this.lastNodes.set(c.instanceId, c.node);
    this.remembered = candidates;
  }

  /**
   * Keeps lastNodes bounded: once it exceeds the current Nodes by LAST_NODES_SLACK, only the
   * Nodes passed now and the instances some FIP (`fips`: the project's) is attached to stay.
   */
  prune(candidates: readonly Candidate[], fips: readonly FloatingIp[]): void {
    if (this.lastNodes.size <= candidates.length + LAST_NODES_SLACK) return;
    const keep = new Set(candidates.map((c) => c.instanceId));
    for (const f of fips) if (f.instanceId) keep.add(f.instanceId);
    for (const id of this.lastNodes.keys()) if (!keep.has(id)) this.lastNodes.delete(id);
  }

  of(placed: readonly FloatingIp[]): LoadBalancerStatus {
    const ingress: LoadBalancerIngress[] = placed.map((f) => ({ ip: f.ip, ipMode: 'Proxy' }));
    const seen = new Set<string>();
    const targetNodes: string[] = [];
    for (const fip of placed) {
      const node = fip.instanceId ? this.lastNodes.get(fip.instanceId) : undefined;
      const name = node?.metadata?.name;
      if (name && !targetNodes.includes(name)) targetNodes.push(name);
      for (const address of node?.status?.addresses ?? []) {
        if (address.type === 'InternalIP' && !seen.has(address.address)) {
          seen.add(address.address);
          ingress.push({ ip: address.address });
        }
      }
    }
    return { ingress, targetNodes };
  }
}
