// Step 2, which VPCs hold the cluster's routes: the one named by --oxide-routes-vpc, else the
// VPC of each target's primary NIC. Listing reads every VPC where our router exists: found once
// per process by listing the project's VPCs (so a restart still sees routes in VPCs other than
// `default`, even where no Node is left), then learned from the targets as routes are created,
// plus `default`.
import type { InstanceNetworkInterface } from '@oxide/api';
import type { OxideClient } from '../../../oxide/client.ts';
import { isOxideError } from '../../../oxide/errors.ts';
import { listVpcs, viewVpcByName } from '../../../oxide/vpcs.ts';
import { TtlCache } from '../../../util/ttl-cache.ts';
import type { Routers } from './routers.ts';

const DEFAULT_VPC = 'default';

export class RouteVpcs {
  private readonly client: OxideClient;
  private readonly routers: Routers;
  private readonly override: string | undefined;
  private readonly learned = new Set<string>();
  /** The discovery per cluster name, once per process (a failed one is tried again). */
  private readonly discovered = new TtlCache<string, true>({ ttlMs: Infinity });
  /** VPC id by name, looked up once per process. */
  private readonly ids = new TtlCache<string, string>({ ttlMs: Infinity });

  constructor(client: OxideClient, routers: Routers, override: string | undefined) {
    this.client = client;
    this.routers = routers;
    this.override = override;
  }

  /** The VPCs whose router's routes listRoutes reads. */
  async all(clusterName: string, signal?: AbortSignal): Promise<string[]> {
    if (this.override !== undefined) return [await this.idOf(this.override, signal)];
    await this.discovered.get(clusterName, () => this.discover(clusterName), { signal });
    const ids = new Set(this.learned);
    try {
      ids.add(await this.idOf(DEFAULT_VPC, signal));
    } catch (err) {
      if (!isOxideError(err, 'not_found')) throw err;
    }
    return [...ids];
  }

  /** The VPC a route to the NIC's instance goes in; refused when it is not the configured one. */
  async of(nic: InstanceNetworkInterface, signal?: AbortSignal): Promise<string> {
    if (this.override !== undefined) {
      const vpcId = await this.idOf(this.override, signal);
      if (vpcId !== nic.vpcId) {
        throw new Error(
          `primary NIC ${nic.name} is in VPC ${nic.vpcId}, not in the configured VPC ${this.override}`,
        );
      }
    }
    this.learned.add(nic.vpcId);
    return nic.vpcId;
  }

  private async discover(clusterName: string): Promise<true> {
    for (const vpc of await listVpcs(this.client)) {
      if (await this.routers.find(clusterName, vpc.id)) this.learned.add(vpc.id);
    }
    return true;
  }

  private idOf(name: string, signal?: AbortSignal): Promise<string> {
    return this.ids.get(name, async () => (await viewVpcByName(this.client, name)).id, { signal });
  }
}
