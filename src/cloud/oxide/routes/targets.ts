// Step 1, a route's target: the Node's instance, found by the lookup every capability shares
// (instance-lookup.ts: providerID first, else instance name, then hostname; an instance of
// another project is refused, so it never becomes a route target), and its primary NIC, whose
// subnet gets the router and whose VPC holds the route. Listing asks the other way round: does
// a route's target instance still exist (only a 404 says no).
import type { Instance, InstanceNetworkInterface } from '@oxide/api';
import type { InstanceInventory } from '../../../oxide/inventory.ts';
import type { Route } from '../../provider.ts';
import type { InstanceLookup } from '../instance-lookup.ts';

export interface RouteTarget {
  instance: Instance;
  nic: InstanceNetworkInterface;
}

export class RouteTargets {
  private readonly lookup: InstanceLookup;
  private readonly inventory: InstanceInventory;

  constructor(lookup: InstanceLookup, inventory: InstanceInventory) {
    this.lookup = lookup;
    this.inventory = inventory;
  }

  async resolve(route: Route, signal?: AbortSignal): Promise<RouteTarget> {
    const instance = await this.lookup.find(
      { name: route.targetNode, providerID: route.targetProviderID },
      signal,
    );
    const nic = (await this.inventory.nics(instance.id, signal)).find((n) => n.primary);
    if (!nic) throw new Error(`instance ${instance.name} has no primary network interface`);
    return { instance, nic };
  }

  /** A route whose target instance is gone is a blackhole; absence from a list is no proof. */
  async isGone(instanceName: string, signal?: AbortSignal): Promise<boolean> {
    return !(await this.lookup.existsByName(instanceName, signal));
  }
}
