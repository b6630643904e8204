// Primary-NIC facts of a target instance: which address families it has (Oxide NATs a FIP to the
// primary NIC, which needs an address of the FIP's family), its private addresses and its VPC
// (both for firewall rules). A NIC can only change while its instance is stopped, so answers are
// cached for minutes and fetched only for instances actually considered as targets.
import type { InstanceNetworkInterface } from '@oxide/api';
import type { OxideClient } from '../../oxide/client.ts';
import type { IpVersion } from './annotations.ts';

export interface PrimaryNic {
  vpcId: string;
  /** Private addresses, v4 first. */
  ips: string[];
  families: ReadonlySet<IpVersion>;
}

export function primaryNicOf(nics: readonly InstanceNetworkInterface[]): PrimaryNic | undefined {
  const nic = nics.find((n) => n.primary);
  if (!nic) return undefined;
  const stack = nic.ipStack;
  const ips =
    stack.type === 'dual_stack' ? [stack.value.v4.ip, stack.value.v6.ip] : [stack.value.ip];
  const families = new Set<IpVersion>(stack.type === 'dual_stack' ? ['v4', 'v6'] : [stack.type]);
  return { vpcId: nic.vpcId, ips, families };
}

export class PrimaryNicCache {
  private readonly client: OxideClient;
  private readonly ttlMs: number;
  private readonly entries = new Map<
    string,
    { at: number; nic: Promise<PrimaryNic | undefined> }
  >();

  constructor(client: OxideClient, ttlMs = 10 * 60_000) {
    this.client = client;
    this.ttlMs = ttlMs;
  }

  get(instanceId: string): Promise<PrimaryNic | undefined> {
    const now = performance.now();
    const hit = this.entries.get(instanceId);
    if (hit && now - hit.at < this.ttlMs) return hit.nic;
    const entry = { at: now, nic: this.client.listInstanceNics(instanceId).then(primaryNicOf) };
    this.entries.set(instanceId, entry);
    entry.nic.catch(() => {
      if (this.entries.get(instanceId) === entry) this.entries.delete(instanceId);
    });
    return entry.nic;
  }
}
