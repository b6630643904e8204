// The one way to find a Node's instance, shared by every capability that needs it (Instances,
// routes): by providerID when the Node has one (the identity the node controller wrote), else by
// Node name = instance name or hostname in every configured project. Existence is denied only on
// a 404 from a direct view. An instance UUID is global and a view by id reaches every project the
// token can see, so the instance's own project_id says which configured project it is in; an
// instance of a project not configured is refused (ForeignInstanceError): such a Node is never
// initialized, never deleted because of it, and never the target of a route. A name matching
// instances in two projects is ambiguous (an error, never a guess).
import type { Instance } from '@oxide/api';
import { isNotFound } from '../../oxide/errors.ts';
import { viewInstanceById, viewInstanceByName } from '../../oxide/instances.ts';
import type { InstanceSnapshot } from '../../oxide/inventory.ts';
import { InstanceNotFoundError } from '../provider.ts';
import type { OxideProject, OxideProjects } from './projects.ts';
import { parseProviderID } from './provider-id.ts';

/**
 * The Node's providerID names an instance outside the configured projects: the node controller
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
  /**
   * The project the Node was initialized in (its oxide.computer/project label), if any: only a
   * hint of which project's list to read first, never trusted on its own.
   */
  project?: string | undefined;
}

/**
 * What the caller reads from the instance: 'state' its run state (a snapshot no older than the
 * inventory's TTL), 'identity' only which instance it is, its hostname and size (a snapshot up
 * to the inventory's identityTtlMs old).
 */
export type LookupNeed = 'state' | 'identity';

/** A Node's instance and the configured project that holds it. */
export interface Located {
  instance: Instance;
  project: OxideProject;
}

export class InstanceLookup {
  private readonly projects: OxideProjects;

  constructor(projects: OxideProjects) {
    this.projects = projects;
  }

  /** The Node's instance; InstanceNotFoundError only after a 404 from a direct view. */
  async find(node: NodeRef, signal?: AbortSignal, need: LookupNeed = 'state'): Promise<Instance> {
    return (await this.locate(node, signal, need)).instance;
  }

  /** The Node's instance and its project; InstanceNotFoundError only after a 404 from a direct view. */
  async locate(node: NodeRef, signal?: AbortSignal, need: LookupNeed = 'state'): Promise<Located> {
    const providerID = node.providerID;
    if (!providerID) {
      if (!node.name) throw new Error('Node has no metadata.name');
      return this.findByNodeName(node.name, signal, need);
    }
    const id = parseProviderID(providerID);
    const cached = await this.cachedById(id, node.project, signal, need);
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
  async existsByName(
    name: string,
    project: OxideProject = this.projects.default,
    signal?: AbortSignal,
  ): Promise<boolean> {
    if ((await project.inventory.snapshot(signal)).byName(name)) return true;
    try {
      await viewInstanceByName(project.client, name, signal);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * The instance from a project's shared inventory (one list per project), the hinted project
   * first; undefined when it is in none of them or the lists failed: a view by id decides then,
   * so a failing list endpoint does not block id lookups.
   */
  private async cachedById(
    id: string,
    hint: string | undefined,
    signal: AbortSignal | undefined,
    need: LookupNeed,
  ): Promise<Located | undefined> {
    const hinted = hint === undefined ? undefined : this.projects.get(hint);
    const order = hinted
      ? [hinted, ...this.projects.all.filter((p) => p !== hinted)]
      : this.projects.all;
    for (const project of order) {
      try {
        const instance = (await snapshotOf(project, signal, need)).byId(id);
        if (instance) return { instance, project };
      } catch {
        signal?.throwIfAborted();
      }
    }
    return undefined;
  }

  /** A view by id reaches every project the token can see: only configured ones are accepted. */
  private async viewById(id: string, providerID: string, signal?: AbortSignal): Promise<Located> {
    const instance = await viewInstanceById(this.projects.default.client, id, signal);
    const project = await this.projects.of(instance, signal);
    if (!project) {
      throw new ForeignInstanceError(
        `instance ${id} (${providerID}) is not in ${this.projects.describe()}; refusing to ` +
          'use it for this Node',
      );
    }
    return { instance, project };
  }

  /**
   * Node name = instance name, or = instance hostname, in every configured project. Cached
   * snapshots serve the common case; no match there is checked against lists started after
   * this call, then a view by name per project, before the instance is declared missing.
   */
  private async findByNodeName(
    name: string,
    signal: AbortSignal | undefined,
    need: LookupNeed,
  ): Promise<Located> {
    // Lists that started after this moment reflect everything true when the caller asked; a
    // burst of lookups shares them instead of each starting its own.
    const asked = performance.now();
    const all = this.projects.all;
    // A name maps to an instance for as long as the instance lives: for identity an older
    // snapshot answers when it has the name, a fresher one is taken when it does not.
    let snapshots = await Promise.all(all.map((p) => snapshotOf(p, signal, need)));
    for (;;) {
      const candidates = all.flatMap((project, i) =>
        (snapshots[i] as InstanceSnapshot)
          .matching(name)
          .map((instance) => ({ instance, project })),
      );
      if (candidates.length === 1 && candidates[0]) return candidates[0];
      if (candidates.length > 1) throw this.ambiguous(name, candidates);
      if (snapshots.every((s) => s.startedAt >= asked)) break;
      snapshots = await Promise.all(
        all.map((p, i) => {
          const s = snapshots[i] as InstanceSnapshot;
          return s.startedAt >= asked ? Promise.resolve(s) : p.inventory.fresh(asked, signal);
        }),
      );
    }
    const found: Located[] = [];
    for (const project of all) {
      try {
        found.push({ instance: await viewInstanceByName(project.client, name, signal), project });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (found.length === 1 && found[0]) return found[0];
    if (found.length > 1) throw this.ambiguous(name, found);
    throw new InstanceNotFoundError(
      `no instance named ${name} or with hostname ${name} in ${this.projects.describe()}`,
    );
  }

  private ambiguous(name: string, candidates: readonly Located[]): AmbiguousInstanceError {
    const several = this.projects.several;
    const ids = candidates
      .map(
        ({ instance: i, project: p }) =>
          `${i.name} (${i.id}${several ? ` in project ${p.name}` : ''})`,
      )
      .join(', ');
    return new AmbiguousInstanceError(
      `Node ${name} is ambiguous: instances ${ids} in ${this.projects.describe()} match it by name or hostname; set spec.providerID`,
    );
  }
}

/** The project's instance snapshot, as fresh as `need` asks. */
function snapshotOf(
  project: OxideProject,
  signal: AbortSignal | undefined,
  need: LookupNeed,
): Promise<InstanceSnapshot> {
  return need === 'identity'
    ? project.inventory.identities(signal)
    : project.inventory.snapshot(signal);
}
