// The Instances capability: finds a Node's instance through the shared lookup
// (instance-lookup.ts: by providerID, else by Node name = instance name or hostname in every
// configured project; an unconfigured project's instance refused) and answers exists / shutdown
// / metadata, reading NICs from the instance's own project's inventory. Existence is denied only
// on a 404 from a direct view; everything else throws.
import type { V1Node } from '@kubernetes/client-node';
import type { Instance } from '@oxide/api';
import { isNotFound } from '../../oxide/errors.ts';
import { InstanceNotFoundError } from '../provider.ts';
import type { InstanceMetadata, Instances } from '../provider.ts';
import { InstanceLookup } from './instance-lookup.ts';
import type { Located, LookupNeed } from './instance-lookup.ts';
import { ADDITIONAL_LABELS, instanceMetadata } from './metadata.ts';
import type { OxideProjects } from './projects.ts';
import { isShutdown } from './run-state.ts';

export interface OxideInstancesOptions {
  projects: OxideProjects;
  /** The lookup shared with the other capabilities; its own when omitted. */
  lookup?: InstanceLookup;
  region?: string;
  zone?: string;
}

export class OxideInstances implements Instances {
  private readonly projects: OxideProjects;
  private readonly lookup: InstanceLookup;
  private readonly region: string;
  private readonly zone: string;

  constructor(options: OxideInstancesOptions) {
    this.projects = options.projects;
    this.lookup = options.lookup ?? new InstanceLookup(options.projects);
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
    // The project's NIC walk overlaps the instance lookup: the first Node waits for one, not
    // both. With several projects only the one the Node names (its label) is walked ahead.
    this.prefetchNics(node);
    // Identity, hostname and size only: a snapshot up to identityTtlMs old will do.
    const { instance, project } = await this.locate(node, signal, 'identity');
    const [nics, externalIps] = await Promise.all([
      // A Node's addresses are read at initialization, then by every periodic resync: each read
      // comes from a newer NIC walk (and floating-IP list) of its project than the last one did
      // (shared by the whole pass), so an address change shows at the next resync and never
      // waits for a view's TTL.
      project.inventory.nics(instance.id, signal, { advance: true }),
      project.inventory.externalIps(instance.id, signal),
    ]);
    return instanceMetadata(instance, nics, externalIps, {
      region: this.region,
      zone: this.zone,
      project: project.name,
    });
  }

  /** The Node's instance; InstanceNotFoundError only after a 404 from a direct view. */
  async find(node: V1Node, signal?: AbortSignal): Promise<Instance> {
    return (await this.locate(node, signal)).instance;
  }

  private locate(node: V1Node, signal?: AbortSignal, need: LookupNeed = 'state'): Promise<Located> {
    return this.lookup.locate(
      {
        name: node.metadata?.name,
        providerID: node.spec?.providerID,
        project: node.metadata?.labels?.[ADDITIONAL_LABELS.project],
      },
      signal,
      need,
    );
  }

  private prefetchNics(node: V1Node): void {
    const hinted = this.projects.several
      ? this.projects.get(node.metadata?.labels?.[ADDITIONAL_LABELS.project] ?? '')
      : this.projects.default;
    hinted?.inventory.prefetchNics();
  }
}
