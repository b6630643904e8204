// The Oxide projects the cluster's instances live in (--oxide-projects, else OXIDE_PROJECT; the
// first is the default), each with its own client scope and its own instance inventory. What is
// per project and why: an instance list, a NIC walk, floating IPs and VPCs (so routes) all
// belong to one project in Oxide, while an instance's UUID is global. Each inventory holds its
// views only for their TTL, so a project nobody asks about costs no calls and no memory.
import type { Instance } from '@oxide/api';
import type { OxideClient } from '../../oxide/client.ts';
import { InstanceInventory } from '../../oxide/inventory.ts';
import type { InstanceInventoryOptions } from '../../oxide/inventory.ts';
import { viewProject } from '../../oxide/projects.ts';
import { TtlCache } from '../../util/ttl-cache.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One configured project: its name as configured (name or id), its client, its inventory. */
export interface OxideProject {
  /** As configured: named in messages, the Node label oxide.computer/project, the annotation. */
  readonly name: string;
  readonly client: OxideClient;
  readonly inventory: InstanceInventory;
}

export class OxideProjects {
  readonly all: readonly OxideProject[];
  /** The first configured project: Services without oxide.computer/project use it. */
  readonly default: OxideProject;
  private readonly byName = new Map<string, OxideProject>();
  /** Each project's id, looked up once (only mapping an instance to its project needs it). */
  private readonly ids = new TtlCache<string, string>({ ttlMs: Infinity });

  /** `client` is the default project's; `names` every configured one, default first. */
  constructor(
    client: OxideClient,
    names: readonly string[] = [client.project],
    inventory: InstanceInventoryOptions = {},
  ) {
    const list = names.length > 0 ? names : [client.project];
    this.all = list.map((name) => {
      const scoped = client.forProject(name);
      return { name, client: scoped, inventory: new InstanceInventory(scoped, inventory) };
    });
    for (const p of this.all) this.byName.set(p.name, p);
    const first = this.all[0];
    if (!first) throw new Error('no Oxide project configured');
    this.default = first;
  }

  /** More than one project: per-project choices (placement, the annotation) matter. */
  get several(): boolean {
    return this.all.length > 1;
  }

  /** The configured project of this name (as configured), or undefined. */
  get(name: string): OxideProject | undefined {
    return this.byName.get(name);
  }

  /** "project a" or "projects a, b": for messages. */
  describe(): string {
    return this.several
      ? `projects ${this.all.map((p) => p.name).join(', ')}`
      : `project ${this.default.name}`;
  }

  /** The configured project holding the instance, or undefined when none does. */
  async of(
    instance: Pick<Instance, 'projectId'>,
    signal?: AbortSignal,
  ): Promise<OxideProject | undefined> {
    for (const p of this.all) {
      if ((await this.idOf(p, signal)) === instance.projectId) return p;
    }
    return undefined;
  }

  /** The project's id: a configured UUID as is, a name by one project_view per process. */
  idOf(project: OxideProject, signal?: AbortSignal): Promise<string> {
    if (UUID.test(project.name)) return Promise.resolve(project.name.toLowerCase());
    return this.ids.get(project.name, async () => (await viewProject(project.client)).id, {
      signal,
    });
  }
}
