// Step 1, a route's target: the Node's instance, found by the lookup every capability shares
// (instance-lookup.ts: providerID first, else instance name, then hostname; an instance of
// another project is refused, so it never becomes a route target), and its primary NIC, whose
// subnet gets the router and whose VPC holds the route. Listing asks the other way round: does
// a route's target instance still exist (only a 404 says no). The instance's project (where its
// NICs are read) is the one whose VPC holds the route: Oxide VPCs do not span projects.
import type { Instance, InstanceNetworkInterface } from '@oxide/api';
import type { Route } from '../../provider.ts';
import type { InstanceLookup } from '../instance-lookup.ts';
import type { OxideProject } from '../projects.ts';

export interface RouteTarget {
  instance: Instance;
  nic: InstanceNetworkInterface;
  project: OxideProject;
}

export class RouteTargets {
  private readonly lookup: InstanceLookup;

  constructor(lookup: InstanceLookup) {
    this.lookup = lookup;
  }

  async resolve(route: Route, signal?: AbortSignal): Promise<RouteTarget> {
    const { instance, project } = await this.lookup.locate(
      { name: route.targetNode, providerID: route.targetProviderID },
      signal,
    );
    const nic = (await project.inventory.nics(instance.id, signal)).find((n) => n.primary);
    if (!nic) throw new Error(`instance ${instance.name} has no primary network interface`);
    return { instance, nic, project };
  }

  /**
   * A route whose target instance (a name, resolved in the router's project) is gone is a
   * blackhole; absence from a list is no proof.
   */
  async isGone(
    instanceName: string,
    project: OxideProject,
    signal?: AbortSignal,
  ): Promise<boolean> {
    return !(await this.lookup.existsByName(instanceName, project, signal));
  }
}
