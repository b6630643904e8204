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
// Go CCM FIP of the Service's generated name is claimed; owner.ts).
import type { V1Node, V1Service } from '@kubernetes/client-node';
import type { FloatingIp } from '@oxide/api';
import type { Logger } from '../../../log.ts';
import { silentLogger } from '../../../log.ts';
import type { OxideClient } from '../../../oxide/client.ts';
import type { LoadBalancer, LoadBalancerStatus } from '../../provider.ts';
import type { InstanceLookup } from '../instance-lookup.ts';
import { OxideProjects } from '../projects.ts';
import { replaceIn } from './floating-ips.ts';
import type { NamedFloatingIpPolicy } from './owner.ts';
import { planDeletion, planFloatingIps } from './ownership.ts';
import { candidatesOf } from './placement.ts';
import { NoNodeInProjectError, ProjectLoadBalancers } from './project-scope.ts';
import type { ProjectLoadBalancer } from './project-scope.ts';
import { deletionSpec, LOAD_BALANCER_CLASS, loadBalancerSpec } from './spec.ts';
import type { DeletionSpec, SpecDefaults } from './spec.ts';

export interface OxideLoadBalancerOptions {
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
  private readonly log: Logger;
  private readonly scopes: ProjectLoadBalancers;

  constructor(options: OxideLoadBalancerOptions) {
    this.defaults = {
      firewall: options.firewall ?? false,
      namedFloatingIps: options.namedFloatingIps ?? 'marked',
    };
    this.log = options.logger ?? silentLogger;
    let projects = options.projects;
    if (!projects) {
      if (!options.client) throw new Error('OxideLoadBalancer needs projects or a client');
      projects = new OxideProjects(options.client);
    }
    this.scopes = new ProjectLoadBalancers(projects, options.lookup, this.log, {
      poolCacheTtlMs: options.poolCacheTtlMs,
      floatingIpTtlMs: options.floatingIpTtlMs,
      firewallSnapshotTtlMs: options.firewallSnapshotTtlMs,
    });
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

  /**
   * Lists afresh rather than from the view: it is the last call for the Service, and a FIP created
   * elsewhere within the view's TTL (a previous leader's) would otherwise leak. Every configured
   * project is looked at: the annotation may have changed since the FIPs were made.
   */
  async ensureLoadBalancerDeleted(
    clusterName: string,
    service: V1Service,
    signal?: AbortSignal,
  ): Promise<void> {
    const spec = deletionSpec(clusterName, service, this.defaults);
    for (const scope of this.scopes.all()) {
      await scope.fips.withView((fips) => this.deleteFrom(scope, fips, spec, signal), true, signal);
    }
  }

  private async sync(
    mode: Mode,
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
    signal: AbortSignal | undefined,
  ): Promise<LoadBalancerStatus> {
    // 1. Spec, its project and the Nodes there.
    const spec = loadBalancerSpec(clusterName, service, this.defaults);
    const scope = this.scopes.forService(spec.project);
    const eligible = candidatesOf(nodes, this.log);
    const candidates = await this.scopes.candidatesIn(scope, eligible, signal);
    if (candidates.length === 0 && eligible.length > 0) {
      throw new NoNodeInProjectError(scope.project.name, eligible.length);
    }
    const { fips: ops, placement, firewall, ingress } = scope;
    ingress.remember(candidates);
    for (const d of spec.floatingIps) await ops.checkPoolFamily(d, signal);
    if (mode === 'ensure') await this.dropInOtherProjects(scope, clusterName, service, signal);

    return ops.withView(
      async (fips) => {
        // 2. Ownership: every refusal (another Service's FIP or address) is thrown here.
        const { planned, stale } = planFloatingIps(spec, fips, scope.planContext);
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
        return ingress.of(placed);
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
  ): Promise<void> {
    const spec = deletionSpec(clusterName, service, this.defaults);
    for (const scope of this.scopes.all()) {
      if (scope === keep) continue;
      await scope.fips.withView(
        (fips) => this.deleteFrom(scope, fips, spec, signal, true),
        false,
        signal,
      );
    }
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
  ): Promise<void> {
    const { owned, named, ruleNames } = planDeletion(spec, fips);
    if (ifOwned && owned.length === 0 && !named) return;
    const attached = named ? [...owned, named] : owned;
    await scope.firewall.remove(ruleNames, spec.firewall, attached, signal);
    for (const fip of owned) await scope.fips.releaseOwned(fip, spec.ref, signal);
    if (named?.instanceId) await scope.fips.detachUserOwned(named, signal);
  }
}
