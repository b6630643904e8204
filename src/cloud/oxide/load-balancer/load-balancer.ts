// `type: LoadBalancer` on Oxide: one floating IP per Service (two for dual-stack), 1:1-NATed to one
// target Node's instance. A drop-in for the Go CCM v0.7.1 (same FIP names, description,
// annotations, status), plus healthy-target failover, spread, dual-stack, firewall rules and a
// user-owned FIP. ensureLoadBalancer is a pipeline, one file per step:
//   1. spec.ts         the Service's annotations and fields, read once; may reject the Service
//      project-scope.ts  its project (oxide.computer/project) and the Nodes in that project
//   2. ownership.ts    which of the project's FIPs are the Service's; refuses what is another's
//   3. floating-ips.ts drop stale FIPs; per FIP: claim, create or recreate
//   4. placement.ts    choose the FIP's target Node and attach it there
//   5. firewall.ts     the Service's VPC firewall rules
//   6. status.ts       the FIPs, then the targets' InternalIPs
// Everything that can reject the Service (steps 1 and 2) runs before the first write. A FIP is
// created (3) before it can be placed (4). With several projects a Service's FIPs live in its
// project, and the FIPs it still owns in the others (its annotation changed) are removed.
// Ownership, never the name, decides what a Service may use, detach or delete: a FIP is the
// Service's when its description carries the Service's UID (written at creation, or once when a
// Go CCM FIP of the Service's generated name is claimed; owner.ts) and no other cluster's
// identity (cluster.ts).
import type { V1Node, V1Service } from '@kubernetes/client-node';
import type { FloatingIp } from '@oxide/api';
import type { Logger } from '../../../log.ts';
import { silentLogger } from '../../../log.ts';
import type { OxideClient } from '../../../oxide/client.ts';
import type {
  LoadBalancer,
  LoadBalancerStatus,
  LoadBalancerWarning,
  NodeOutage,
} from '../../provider.ts';
import type { ClusterIdentity } from '../cluster.ts';
import type { InstanceLookup } from '../instance-lookup.ts';
import type { SharedNameWatch } from '../same-name.ts';
import { OxideProjects } from '../projects.ts';
import { parseProviderID } from '../provider-id.ts';
import { replaceIn } from './floating-ips.ts';
import { nodesDown } from './nodes-down.ts';
import type { NamedFloatingIpPolicy } from './owner.ts';
import { planDeletion, planFloatingIps } from './ownership.ts';
import { candidatesOf } from './placement.ts';
import type { Candidate } from './placement.ts';
import { NoNodeInProjectError, ProjectLoadBalancers } from './project-scope.ts';
import type { ProjectLoadBalancer } from './project-scope.ts';
import { deletionSpec, LOAD_BALANCER_CLASS, loadBalancerSpec } from './spec.ts';
import type { DeletionSpec, SpecDefaults } from './spec.ts';
import { outsideClusterWarnings, unknownAnnotationWarning } from './warnings.ts';

export interface OxideLoadBalancerOptions {
  /**
   * This cluster: its identity goes into every record and decides which records are its own
   * (cluster.ts). The name here is the --cluster-name; calls pass it too, as upstream's do.
   */
  cluster: ClusterIdentity;
  /** Told when a project's records show another cluster under this cluster's name. */
  sharedName?: SharedNameWatch | undefined;
  /** The configured projects (the provider's); one project of `client` when omitted. */
  projects?: OxideProjects;
  /** Used only when `projects` is omitted. */
  client?: OxideClient;
  /** The provider's shared instance lookup: with several projects, which Node is in which. */
  lookup?: InstanceLookup;
  /** Default of annotation oxide.computer/firewall. */
  firewall?: boolean;
  /** Which FIPs oxide.computer/floating-ip-name may name (--oxide-lb-named-floating-ips). */
  namedFloatingIps?: NamedFloatingIpPolicy;
  logger?: Logger;
  poolCacheTtlMs?: number;
  firewallSnapshotTtlMs?: number;
  /**
   * How long one FIP list serves every reconcile (ms; 0 lists on each). Bounds how late a change
   * made outside this process (a user's edit) is seen; our own writes are seen at once.
   */
  floatingIpTtlMs?: number;
}

type Mode = 'ensure' | 'update';

export class OxideLoadBalancer implements LoadBalancer {
  readonly loadBalancerClass = LOAD_BALANCER_CLASS;
  private readonly defaults: SpecDefaults;
  private readonly clusterId: string;
  private readonly log: Logger;
  private readonly scopes: ProjectLoadBalancers;
  private readonly projects: OxideProjects;
  /**
   * Candidates per Node list handed in: the service controller hands every Service the same
   * list until a Node changes, so a sweep over 200 Services parses 1000 providerIDs once, not
   * 200 times. Weak: a list the controller dropped is collected with its candidates.
   */
  private readonly candidatesByNodes = new WeakMap<readonly V1Node[], Candidate[]>();
  private readonly instancesOf = new WeakMap<readonly Candidate[], Set<string>>();
  private nodeLister: (() => readonly V1Node[]) | undefined;

  constructor(options: OxideLoadBalancerOptions) {
    this.defaults = {
      firewall: options.firewall ?? false,
      namedFloatingIps: options.namedFloatingIps ?? 'marked',
    };
    this.clusterId = options.cluster.id;
    this.log = options.logger ?? silentLogger;
    let projects = options.projects;
    if (!projects) {
      if (!options.client) throw new Error('OxideLoadBalancer needs projects or a client');
      projects = new OxideProjects(options.client);
    }
    this.projects = projects;
    this.scopes = new ProjectLoadBalancers(projects, options.lookup, this.log, {
      poolCacheTtlMs: options.poolCacheTtlMs,
      floatingIpTtlMs: options.floatingIpTtlMs,
      firewallSnapshotTtlMs: options.firewallSnapshotTtlMs,
      cluster: options.cluster,
      sharedName: options.sharedName,
    });
  }

  private cluster(name: string): ClusterIdentity {
    return { name, id: this.clusterId };
  }

  setNodeLister(list: () => readonly V1Node[]): void {
    this.nodeLister = list;
  }

  /**
   * Whether an instance is a Node of the cluster: a candidate, else any Node in the lister's
   * list (read only when a FIP is found off the candidates, which is rare). Undefined without a
   * lister: nothing to tell by.
   */
  private onNode(candidates: readonly Candidate[]): ((instanceId: string) => boolean) | undefined {
    const list = this.nodeLister;
    if (!list) return undefined;
    let all: Set<string> | undefined;
    return (instanceId) => {
      // Built when first asked and kept per candidate list, as the candidates themselves.
      let near = this.instancesOf.get(candidates);
      if (!near) {
        near = new Set(candidates.map((c) => c.instanceId));
        this.instancesOf.set(candidates, near);
      }
      if (near.has(instanceId)) return true;
      all ??= clusterInstances(list());
      return all.has(instanceId);
    };
  }

  ensureLoadBalancer(
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
    signal?: AbortSignal,
  ): Promise<LoadBalancerStatus> {
    return this.sync('ensure', clusterName, service, nodes, signal);
  }

  /** Re-targets (and creates a missing FIP); never recreates or drops FIPs: that is ensure's job. */
  updateLoadBalancer(
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
    signal?: AbortSignal,
  ): Promise<LoadBalancerStatus> {
    return this.sync('update', clusterName, service, nodes, signal);
  }

  /** Nodes whose instance is not running, from the projects' shared inventories (nodes-down.ts). */
  nodesDown(nodes: readonly V1Node[], signal?: AbortSignal): Promise<NodeOutage[]> {
    return nodesDown(this.projects, nodes, this.log, signal);
  }

  /**
   * Lists afresh rather than from the view: it is the last call for the Service, and a FIP created
   * elsewhere within the view's TTL (a previous leader's) would otherwise leak. Every configured
   * project is looked at: the annotation may have changed since the FIPs were made.
   */
  async ensureLoadBalancerDeleted(
    clusterName: string,
    service: V1Service,
    signal?: AbortSignal,
  ): Promise<LoadBalancerWarning[]> {
    const spec = deletionSpec(this.cluster(clusterName), service, this.defaults);
    const warnings: LoadBalancerWarning[] = [];
    for (const scope of this.scopes.all()) {
      warnings.push(
        ...(await scope.fips.withView(
          (fips) => this.deleteFrom(scope, fips, spec, signal),
          true,
          signal,
        )),
      );
    }
    return warnings;
  }

  private async sync(
    mode: Mode,
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
    signal: AbortSignal | undefined,
  ): Promise<LoadBalancerStatus> {
    // 1. Spec, its project and the Nodes there.
    const spec = loadBalancerSpec(this.cluster(clusterName), service, this.defaults);
    const scope = this.scopes.forService(spec.project);
    let eligible = this.candidatesByNodes.get(nodes);
    if (!eligible) {
      eligible = candidatesOf(nodes, this.log);
      this.candidatesByNodes.set(nodes, eligible);
    }
    const candidates = await this.scopes.candidatesIn(scope, eligible, signal);
    if (candidates.length === 0 && eligible.length > 0) {
      throw new NoNodeInProjectError(scope.project.name, eligible.length);
    }
    const { fips: ops, placement, firewall, ingress } = scope;
    ingress.remember(candidates);
    for (const d of spec.floatingIps) await ops.checkPoolFamily(d, signal);
    const moved =
      mode === 'ensure' ? await this.dropInOtherProjects(scope, clusterName, service, signal) : [];

    return ops.withView(
      async (fips) => {
        // 2. Ownership: every refusal (another Service's FIP or address) is thrown here.
        const { planned, stale, held } = planFloatingIps(spec, fips, {
          ...scope.planContext,
          // Every eligible Node is the cluster's, whatever its project.
          onNode: this.onNode(eligible),
        });
        // 3. Floating IPs: what the Service no longer uses goes, then each it uses exists.
        if (mode === 'ensure') await ops.dropStale(stale, fips, signal);
        const placed: FloatingIp[] = [];
        for (const p of planned) {
          const fip = await ops.realize(p, spec.ref, fips, mode === 'ensure', signal);
          // 4. Placement.
          const next = await placement.place(fip, spec.ref.uid, candidates, fips, signal);
          replaceIn(fips, fip, next);
          placed.push(next);
        }
        // 5. Firewall: rules named after the primary FIP.
        await firewall.sync(spec.firewall, placed[0]?.name ?? spec.baseName, placed, signal);
        // 6. Status.
        ingress.prune(candidates, ops.current(fips));
        const warnings = [
          ...unknownAnnotationWarning(spec.unknownAnnotations),
          ...outsideClusterWarnings(held),
          ...moved,
        ];
        return { ...ingress.of(placed), ...(warnings.length > 0 ? { warnings } : {}) };
      },
      false,
      signal,
    );
  }

  /**
   * What the Service owns in the other configured projects (it named another project before) is
   * deleted as on Service deletion. From each project's shared view: nothing listed per Service.
   */
  private async dropInOtherProjects(
    keep: ProjectLoadBalancer,
    clusterName: string,
    service: V1Service,
    signal: AbortSignal | undefined,
  ): Promise<LoadBalancerWarning[]> {
    const spec = deletionSpec(this.cluster(clusterName), service, this.defaults);
    const warnings: LoadBalancerWarning[] = [];
    for (const scope of this.scopes.all()) {
      if (scope === keep) continue;
      warnings.push(
        ...(await scope.fips.withView(
          (fips) => this.deleteFrom(scope, fips, spec, signal, true),
          false,
          signal,
        )),
      );
    }
    return warnings;
  }

  /**
   * Only what the Service owns (ownership.ts): its FIPs are released, a user's FIP marked for it
   * is detached, never deleted. The firewall goes first: the attachments tell which VPC holds
   * the rules. `ifOwned`: nothing at all when the Service has no FIP in this project.
   */
  private async deleteFrom(
    scope: ProjectLoadBalancer,
    fips: readonly FloatingIp[],
    spec: DeletionSpec,
    signal: AbortSignal | undefined,
    ifOwned = false,
  ): Promise<LoadBalancerWarning[]> {
    const { owned, named, held, ruleNames } = planDeletion(spec, fips, {
      ...scope.planContext,
      onNode: this.onNode([]),
    });
    if (ifOwned && owned.length === 0 && !named) return outsideClusterWarnings(held);
    const attached = named ? [...owned, named] : owned;
    await scope.firewall.remove(ruleNames, spec.firewall, attached, signal);
    for (const fip of owned) await scope.fips.releaseOwned(fip, spec.ref, signal);
    if (named?.instanceId) await scope.fips.detachUserOwned(named, signal);
    return outsideClusterWarnings(held);
  }
}

/** The instance ids of Nodes with an Oxide providerID (others cannot hold a FIP of ours). */
function clusterInstances(nodes: readonly V1Node[]): Set<string> {
  const ids = new Set<string>();
  for (const node of nodes) {
    try {
      ids.add(parseProviderID(node.spec?.providerID ?? ''));
    } catch {
      // Not initialized yet, or another provider's: no instance of ours to protect.
    }
  }
  return ids;
}
