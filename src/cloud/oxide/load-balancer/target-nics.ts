// Primary-NIC facts of a target instance: which address families it has (Oxide NATs a FIP to the
// primary NIC, which needs an address of the FIP's family), its private addresses and its VPC
// (both for firewall rules), read from the provider's shared NIC view.
import type { InstanceNetworkInterface } from '@oxide/api';
import type { InstanceInventory } from '../../../oxide/inventory.ts';
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

/**
 * Primary NICs from the provider's shared NIC view (one walk of the project's subnets serves
 * every instance, and is dropped when its TTL ends). No cache of its own, so nothing here grows
 * with the instances ever seen.
 */
export class PrimaryNics {
  private readonly inventory: Pick<InstanceInventory, 'nics'>;

  constructor(inventory: Pick<InstanceInventory, 'nics'>) {
    this.inventory = inventory;
  }

  async get(instanceId: string, signal?: AbortSignal): Promise<PrimaryNic | undefined> {
    return primaryNicOf(await this.inventory.nics(instanceId, signal));
  }
}
