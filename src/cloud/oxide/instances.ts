// The Instances capability: finds a Node's instance (by providerID, else by Node name = instance
// name or hostname in the project) through the shared inventory, and answers exists / shutdown /
// metadata. Existence is denied only on a 404 from a direct view; everything else throws. A
// providerID naming an instance of another project (a view by id is not project-scoped) is
// refused: such a Node is never initialized, and never deleted because of it.
import type { V1Node } from '@kubernetes/client-node';
import type { Instance } from '@oxide/api';
import { abandonOn } from '../../abort.ts';
import { isNotFound } from '../../oxide/errors.ts';
import type { InstanceInventory } from '../../oxide/inventory.ts';
import type { OxideClient } from '../../oxide/client.ts';
import { InstanceNotFoundError } from '../provider.ts';
import type { InstanceMetadata, Instances } from '../provider.ts';
import { instanceMetadata } from './metadata.ts';
import { parseProviderID } from './provider-id.ts';
import { isShutdown } from './run-state.ts';
import { viewInstanceById, viewInstanceByName } from '../../oxide/instances.ts';
import { viewProject } from '../../oxide/projects.ts';

/**
 * The Node's providerID names an instance outside the configured project: the node controller
 * reports it as a Warning event and leaves the Node uninitialized; the lifecycle controller sees
 * an error, never "gone".
 */
export class ForeignInstanceError extends Error {
  override readonly name = 'ForeignInstanceError';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Two instances match a Node; the controller reports it as a Warning event. */
export class AmbiguousInstanceError extends Error {
  override readonly name = 'AmbiguousInstanceError';
}

export interface OxideInstancesOptions {
  client: OxideClient;
  inventory: InstanceInventory;
  region?: string;
  zone?: string;
}

function nodeName(node: V1Node): string {
  const name = node.metadata?.name;
  if (!name) throw new Error('Node has no metadata.name');
  return name;
}

export class OxideInstances implements Instances {
  private readonly client: OxideClient;
  private readonly inventory: InstanceInventory;
  private readonly region: string;
  private readonly zone: string;
  /** The configured project's id, looked up once (only a view by id needs it). */
  private projectId: Promise<string> | undefined;

  constructor(options: OxideInstancesOptions) {
    this.client = options.client;
    this.inventory = options.inventory;
    this.region = options.region ?? '';
    this.zone = options.zone ?? '';
  }

  async instanceExists(node: V1Node, signal?: AbortSignal): Promise<boolean> {
    try {
      const providerID = node.spec?.providerID;
      if (providerID) {
        const id = parseProviderID(providerID);
        if (await this.cachedById(id, signal)) return true;
        // Missing from a list proves nothing: only the server's 404 for this id does.
        await this.viewById(id, providerID, signal);
        return true;
      }
      await this.findByNodeName(nodeName(node), signal);
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
    // Identity, hostname and size only: a snapshot up to identityTtlMs old will do.
    const instance = await this.find(node, signal, 'identity');
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
    this.inventory.expireViews();
  }

  /**
   * The instance from the shared inventory, or undefined when it is not there or the list
   * failed: a view by id decides then, so a failing list endpoint does not block id lookups.
   */
  private async cachedById(
    id: string,
    signal?: AbortSignal,
    need: 'state' | 'identity' = 'state',
  ): Promise<Instance | undefined> {
    try {
      const snapshot =
        need === 'identity'
          ? await this.inventory.identities(signal)
          : await this.inventory.snapshot(signal);
      return snapshot.byId(id);
    } catch {
      signal?.throwIfAborted();
      return undefined;
    }
  }

  /**
   * The Node's instance; InstanceNotFoundError only after a 404 from a direct view. `need`:
   * 'state' when its run state is read (a snapshot no older than the inventory's TTL),
   * 'identity' when only which instance it is, its hostname and size matter.
   */
  async find(
    node: V1Node,
    signal?: AbortSignal,
    need: 'state' | 'identity' = 'state',
  ): Promise<Instance> {
    const providerID = node.spec?.providerID;
    if (!providerID) return this.findByNodeName(nodeName(node), signal, need);
    const id = parseProviderID(providerID);
    const cached = await this.cachedById(id, signal, need);
    if (cached) return cached;
    try {
      return await this.viewById(id, providerID, signal);
    } catch (err) {
      if (isNotFound(err))
        throw new InstanceNotFoundError(`instance ${id} (${providerID}) not found`);
      throw err;
    }
  }

  /** A view by id reaches every project the token can see: only the configured one is accepted. */
  private async viewById(id: string, providerID: string, signal?: AbortSignal): Promise<Instance> {
    const instance = await viewInstanceById(this.client, id, signal);
    if (instance.projectId !== (await this.configuredProjectId(signal))) {
      throw new ForeignInstanceError(
        `instance ${id} (${providerID}) is not in project ${this.client.project}; refusing to ` +
          'use it for this Node',
      );
    }
    return instance;
  }

  /** Looked up once and shared: `signal` ends only this caller's wait. */
  private configuredProjectId(signal?: AbortSignal): Promise<string> {
    if (UUID.test(this.client.project)) return Promise.resolve(this.client.project.toLowerCase());
    const lookup = (this.projectId ??= viewProject(this.client).then((p) => p.id));
    lookup.catch(() => {
      if (this.projectId === lookup) this.projectId = undefined;
    });
    return abandonOn(lookup, signal);
  }

  /**
   * Node name = instance name, or = instance hostname. A cached snapshot serves the common
   * case; no match there is checked against a list started after this call, then a view by
   * name, before the instance is declared missing.
   */
  private async findByNodeName(
    name: string,
    signal?: AbortSignal,
    need: 'state' | 'identity' = 'state',
  ): Promise<Instance> {
    // Lists that started after this moment reflect everything true when the caller asked; a
    // burst of lookups shares them instead of each starting its own.
    const asked = performance.now();
    // A name maps to an instance for as long as the instance lives: for identity an older
    // snapshot answers when it has the name, a fresher one is taken when it does not.
    let snapshot =
      need === 'identity'
        ? await this.inventory.identities(signal)
        : await this.inventory.snapshot(signal);
    for (;;) {
      const candidates = snapshot.matching(name);
      if (candidates.length === 1 && candidates[0]) return candidates[0];
      if (candidates.length > 1) {
        const ids = candidates.map((i) => `${i.name} (${i.id})`).join(', ');
        throw new AmbiguousInstanceError(
          `Node ${name} is ambiguous: instances ${ids} in project ${this.client.project} match it by name or hostname; set spec.providerID`,
        );
      }
      if (snapshot.startedAt >= asked) break;
      snapshot = await this.inventory.fresh(asked, signal);
    }
    try {
      return await viewInstanceByName(this.client, name, signal);
    } catch (err) {
      if (isNotFound(err)) {
        throw new InstanceNotFoundError(
          `no instance named ${name} or with hostname ${name} in project ${this.client.project}`,
        );
      }
      throw err;
    }
  }
}
