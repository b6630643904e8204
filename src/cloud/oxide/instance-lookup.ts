// The one way to find a Node's instance, shared by every capability that needs it (Instances,
// routes): by providerID when the Node has one (the identity the node controller wrote), else by
// Node name = instance name or hostname in the project. Existence is denied only on a 404 from a
// direct view. A view by id reaches every project the token can see, so an instance of another
// project is refused (ForeignInstanceError): such a Node is never initialized, never deleted
// because of it, and never the target of a route.
import type { Instance } from '@oxide/api';
import type { OxideClient } from '../../oxide/client.ts';
import { isNotFound } from '../../oxide/errors.ts';
import { viewInstanceById, viewInstanceByName } from '../../oxide/instances.ts';
import type { InstanceInventory } from '../../oxide/inventory.ts';
import { viewProject } from '../../oxide/projects.ts';
import { TtlCache } from '../../util/ttl-cache.ts';
import { InstanceNotFoundError } from '../provider.ts';
import { parseProviderID } from './provider-id.ts';

/**
 * The Node's providerID names an instance outside the configured project: the node controller
 * reports it as a Warning event and leaves the Node uninitialized; the lifecycle controller sees
 * an error, never "gone"; the route controller creates no route and records a Warning.
 */
export class ForeignInstanceError extends Error {
  override readonly name = 'ForeignInstanceError';
}

/** Two instances match a Node; the controller reports it as a Warning event. */
export class AmbiguousInstanceError extends Error {
  override readonly name = 'AmbiguousInstanceError';
}

/** What a Node says about its instance: its name, and the providerID once it has one. */
export interface NodeRef {
  name: string | undefined;
  providerID: string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class InstanceLookup {
  private readonly client: OxideClient;
  private readonly inventory: InstanceInventory;
  /** The configured project's id, looked up once (only a view by id needs it); failures are not kept. */
  private readonly projectIds = new TtlCache<string, string>({ ttlMs: Infinity });

  constructor(client: OxideClient, inventory: InstanceInventory) {
    this.client = client;
    this.inventory = inventory;
  }

  /** The Node's instance; InstanceNotFoundError only after a 404 from a direct view. */
  async find(node: NodeRef, signal?: AbortSignal): Promise<Instance> {
    const providerID = node.providerID;
    if (!providerID) {
      if (!node.name) throw new Error('Node has no metadata.name');
      return this.findByNodeName(node.name, signal);
    }
    const id = parseProviderID(providerID);
    const cached = await this.cachedById(id, signal);
    if (cached) return cached;
    try {
      return await this.viewById(id, providerID, signal);
    } catch (err) {
      if (isNotFound(err)) {
        throw new InstanceNotFoundError(`instance ${id} (${providerID}) not found`);
      }
      throw err;
    }
  }

  /** Whether the project has an instance of this name: absence from a list is no proof, a 404 is. */
  async existsByName(name: string, signal?: AbortSignal): Promise<boolean> {
    if ((await this.inventory.snapshot(signal)).byName(name)) return true;
    try {
      await viewInstanceByName(this.client, name, signal);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * The instance from the shared inventory (one project's list), or undefined when it is not
   * there or the list failed: a view by id decides then, so a failing list endpoint does not
   * block id lookups.
   */
  private async cachedById(id: string, signal?: AbortSignal): Promise<Instance | undefined> {
    try {
      return (await this.inventory.snapshot(signal)).byId(id);
    } catch {
      signal?.throwIfAborted();
      return undefined;
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

  private configuredProjectId(signal?: AbortSignal): Promise<string> {
    const project = this.client.project;
    if (UUID.test(project)) return Promise.resolve(project.toLowerCase());
    return this.projectIds.get(project, async () => (await viewProject(this.client)).id, {
      signal,
    });
  }

  /**
   * Node name = instance name, or = instance hostname. A cached snapshot serves the common
   * case; no match there is checked against a list started after this call, then a view by
   * name, before the instance is declared missing.
   */
  private async findByNodeName(name: string, signal?: AbortSignal): Promise<Instance> {
    // Lists that started after this moment reflect everything true when the caller asked; a
    // burst of lookups shares them instead of each starting its own.
    const asked = performance.now();
    let snapshot = await this.inventory.snapshot(signal);
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
