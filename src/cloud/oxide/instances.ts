// The Instances capability: finds a Node's instance through the shared lookup
// (instance-lookup.ts: by providerID, else by Node name = instance name or hostname; another
// project's instance refused) and answers exists / shutdown / metadata. Existence is denied only
// on a 404 from a direct view; everything else throws.
import type { V1Node } from '@kubernetes/client-node';
import type { Instance } from '@oxide/api';
import { isNotFound } from '../../oxide/errors.ts';
import type { InstanceInventory } from '../../oxide/inventory.ts';
import type { OxideClient } from '../../oxide/client.ts';
import { InstanceNotFoundError } from '../provider.ts';
import type { InstanceMetadata, Instances } from '../provider.ts';
import { InstanceLookup } from './instance-lookup.ts';
import { instanceMetadata } from './metadata.ts';
import { isShutdown } from './run-state.ts';

export interface OxideInstancesOptions {
  client: OxideClient;
  inventory: InstanceInventory;
  /** The lookup shared with the other capabilities; its own when omitted. */
  lookup?: InstanceLookup;
  region?: string;
  zone?: string;
}

export class OxideInstances implements Instances {
  private readonly client: OxideClient;
  private readonly inventory: InstanceInventory;
  private readonly lookup: InstanceLookup;
  private readonly region: string;
  private readonly zone: string;

  constructor(options: OxideInstancesOptions) {
    this.client = options.client;
    this.inventory = options.inventory;
    this.lookup = options.lookup ?? new InstanceLookup(options.client, options.inventory);
    this.region = options.region ?? '';
    this.zone = options.zone ?? '';
  }

  async instanceExists(node: V1Node, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.find(node, signal);
      return true;
    } catch (err) {
      if (err instanceof InstanceNotFoundError || isNotFound(err)) return false;
      throw err;
    }
  }

  async instanceShutdown(node: V1Node, signal?: AbortSignal): Promise<boolean> {
    return isShutdown((await this.find(node, signal)).runState);
  }

  async instanceMetadata(node: V1Node, signal?: AbortSignal): Promise<InstanceMetadata> {
    // The project's NIC walk overlaps the instance lookup: the first Node waits for one, not both.
    this.inventory.prefetchNics();
    const instance = await this.find(node, signal);
    const [nics, externalIps] = await Promise.all([
      this.inventory.nics(instance.id, signal),
      this.inventory.externalIps(instance.id, signal),
    ]);
    return instanceMetadata(instance, nics, externalIps, {
      region: this.region,
      zone: this.zone,
      project: this.client.project,
    });
  }

  /** A resync pass reads NICs from one fresh walk of the project's subnets, shared by the pass. */
  resyncStarted(): void {
    this.inventory.expireNics();
  }

  /** The Node's instance; InstanceNotFoundError only after a 404 from a direct view. */
  find(node: V1Node, signal?: AbortSignal): Promise<Instance> {
    return this.lookup.find(
      { name: node.metadata?.name, providerID: node.spec?.providerID },
      signal,
    );
  }
}
