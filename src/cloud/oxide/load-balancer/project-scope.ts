// What the load balancer keeps per Oxide project: a floating IP belongs to one project and
// attaches only to an instance of that project, so each configured project has its own FIP view
// (FloatingIps), placement, firewall and status memory, made when a Service first uses the
// project. Which project a Service uses is its oxide.computer/project annotation (default: the
// default project); which Nodes may take its FIPs is decided here too: those whose instance is in
// that project (the shared instance lookup says, from the project's inventory or a view by id).
import type { Logger } from '../../../log.ts';
import { InstanceNotFoundError, InvalidServiceConfigError } from '../../provider.ts';
import { ForeignInstanceError } from '../instance-lookup.ts';
import type { InstanceLookup } from '../instance-lookup.ts';
import { ADDITIONAL_LABELS } from '../metadata.ts';
import type { ClusterIdentity } from '../cluster.ts';
import type { OxideProject, OxideProjects } from '../projects.ts';
import type { SharedNameWatch } from '../same-name.ts';
import { PROJECT } from './annotations.ts';
import { LoadBalancerFirewall } from './firewall.ts';
import { FloatingIps } from './floating-ips.ts';
import type { PlanContext } from './ownership.ts';
import { Placement } from './placement.ts';
import type { Candidate } from './placement.ts';
import { IngressStatus } from './status.ts';
import { PrimaryNics } from './target-nics.ts';

export interface ProjectScopeOptions {
  poolCacheTtlMs?: number | undefined;
  floatingIpTtlMs?: number | undefined;
  firewallSnapshotTtlMs?: number | undefined;
  /** This cluster: its identity in records (cluster.ts). */
  cluster: ClusterIdentity;
  /** Told when this project's floating IPs show another cluster under this cluster's name. */
  sharedName?: SharedNameWatch | undefined;
}

/** One project's floating IPs, placement, firewall and status memory. */
export class ProjectLoadBalancer {
  readonly project: OxideProject;
  readonly planContext: PlanContext;
  readonly fips: FloatingIps;
  readonly placement: Placement;
  readonly firewall: LoadBalancerFirewall;
  readonly ingress = new IngressStatus();

  constructor(project: OxideProject, log: Logger, options: ProjectScopeOptions) {
    this.project = project;
    const { client } = project;
    const { sharedName } = options;
    this.planContext = {
      project: project.name,
      log,
      sharedName:
        sharedName &&
        ((other) =>
          sharedName.seen(`floating IPs in project ${JSON.stringify(project.name)}`, other)),
    };
    const nics = new PrimaryNics(project.inventory);
    this.fips = new FloatingIps(client, log, {
      poolCacheTtlMs: options.poolCacheTtlMs,
      floatingIpTtlMs: options.floatingIpTtlMs,
    });
    this.placement = new Placement(client, log, nics, this.fips);
    this.firewall = new LoadBalancerFirewall(
      client,
      nics,
      options.cluster,
      options.firewallSnapshotTtlMs,
    );
  }
}

/** The per-project scopes, one per configured project, made on first use. */
export class ProjectLoadBalancers {
  private readonly projects: OxideProjects;
  private readonly lookup: InstanceLookup | undefined;
  private readonly log: Logger;
  private readonly options: ProjectScopeOptions;
  private readonly scopes = new Map<string, ProjectLoadBalancer>();

  constructor(
    projects: OxideProjects,
    lookup: InstanceLookup | undefined,
    log: Logger,
    options: ProjectScopeOptions,
  ) {
    this.projects = projects;
    this.lookup = lookup;
    this.log = log;
    this.options = options;
  }

  /**
   * The scope of the project a Service names (undefined: the default one); a project not
   * configured is the Service's mistake: refused before anything is written.
   */
  forService(annotated: string | undefined): ProjectLoadBalancer {
    const project = annotated === undefined ? this.projects.default : this.projects.get(annotated);
    if (!project) {
      throw new InvalidServiceConfigError(
        `annotation ${PROJECT.name}: project ${JSON.stringify(annotated)} is not one of the ` +
          `projects this cloud controller manager serves (${this.projects.all.map((p) => p.name).join(', ')})`,
      );
    }
    return this.scope(project);
  }

  /** Every configured project's scope (deletion looks in all: the annotation may have changed). */
  all(): ProjectLoadBalancer[] {
    return this.projects.all.map((p) => this.scope(p));
  }

  /**
   * The candidates whose instance is in `scope`'s project. One project: all of them, with no
   * call. Several: each Node's instance is located (its project's list, the Node's project label
   * read first); a Node whose instance is gone or in no configured project is left out, and any
   * other failure throws (the reconcile is retried) rather than move a FIP off a Node we could
   * not check.
   */
  async candidatesIn(
    scope: ProjectLoadBalancer,
    candidates: readonly Candidate[],
    signal?: AbortSignal,
  ): Promise<readonly Candidate[]> {
    // One project: the list itself, so what is kept per list (load-balancer.ts) is kept.
    if (!this.projects.several || !this.lookup) return candidates;
    const lookup = this.lookup;
    const kept: Candidate[] = [];
    for (const c of candidates) {
      try {
        const { project } = await lookup.locate(
          {
            name: c.nodeName,
            providerID: c.node.spec?.providerID,
            project: c.node.metadata?.labels?.[ADDITIONAL_LABELS.project],
          },
          signal,
        );
        if (project === scope.project) kept.push(c);
      } catch (err) {
        if (err instanceof InstanceNotFoundError || err instanceof ForeignInstanceError) {
          this.log.info({ node: c.nodeName, err: err.message }, 'Node left out of placement');
          continue;
        }
        throw err;
      }
    }
    return kept;
  }

  private scope(project: OxideProject): ProjectLoadBalancer {
    let scope = this.scopes.get(project.name);
    if (!scope) {
      scope = new ProjectLoadBalancer(project, this.log, this.options);
      this.scopes.set(project.name, scope);
    }
    return scope;
  }
}

/**
 * Nodes are eligible but none has its instance in the Service's project: floating IPs attach
 * only within a project. A Warning on the Service; nothing is created (ensure) or moved (update),
 * and the Service is tried again when the Nodes change.
 */
export class NoNodeInProjectError extends InvalidServiceConfigError {
  constructor(project: string, eligible: number) {
    super(
      `no eligible Node has its instance in project ${project} (annotation ${PROJECT.name}, ` +
        `default: the first configured project); ${eligible} eligible Node(s) are in other ` +
        'projects, and a floating IP attaches only to an instance of its own project',
    );
  }
}
