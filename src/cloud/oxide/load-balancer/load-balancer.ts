// `type: LoadBalancer` on Oxide: one floating IP per Service (two for dual-stack), 1:1-NATed to one
// target Node's instance. A drop-in for the Go CCM v0.7.1 (same FIP names, description,
// annotations, status), plus healthy-target failover, spread, dual-stack, firewall rules and a
// user-owned FIP. ensureLoadBalancer is a pipeline, one file per step:
//   1. spec.ts         the Service's annotations and fields, read once; may reject the Service
//   2. ownership.ts    which of the project's FIPs are the Service's; refuses what is another's
//   3. floating-ips.ts drop stale FIPs; per FIP: claim, create or recreate
//   4. placement.ts    choose the FIP's target Node and attach it there
//   5. firewall.ts     the Service's VPC firewall rules
//   6. status.ts       the FIPs, then the targets' InternalIPs
// Everything that can reject the Service (steps 1 and 2) runs before the first write. A FIP is
// created (3) before it can be placed (4).
// Ownership, never the name, decides what a Service may use, detach or delete: a FIP is the
// Service's when its description carries the Service's UID (written at creation, or once when a
// Go CCM FIP of the Service's generated name is claimed; owner.ts) and no other cluster's
// identity (cluster.ts).
import type { V1Node, V1Service } from '@kubernetes/client-node';
import type { FloatingIp } from '@oxide/api';
import type { Logger } from '../../../log.ts';
import { silentLogger } from '../../../log.ts';
import type { OxideClient } from '../../../oxide/client.ts';
import { InstanceInventory } from '../../../oxide/inventory.ts';
import type { LoadBalancer, LoadBalancerStatus, LoadBalancerWarning } from '../../provider.ts';
import { parseProviderID } from '../provider-id.ts';
import type { ClusterIdentity } from '../cluster.ts';
import type { SharedNameWatch } from '../shared-name.ts';
import { LoadBalancerFirewall } from './firewall.ts';
import { FloatingIps, replaceIn } from './floating-ips.ts';
import type { NamedFloatingIpPolicy } from './owner.ts';
import { planDeletion, planFloatingIps } from './ownership.ts';
import type { PlanContext } from './ownership.ts';
import { candidatesOf, Placement } from './placement.ts';
import type { Candidate } from './placement.ts';
import { deletionSpec, LOAD_BALANCER_CLASS, loadBalancerSpec } from './spec.ts';
import type { DeletionSpec, SpecDefaults } from './spec.ts';
import { IngressStatus } from './status.ts';
import { PrimaryNics } from './target-nics.ts';
import { outsideClusterWarnings, unknownAnnotationWarning } from './warnings.ts';

export interface OxideLoadBalancerOptions {
  client: OxideClient;
  /**
   * This cluster: its identity goes into every record and decides which records are its own
   * (cluster.ts). The name here is the --cluster-name; calls pass it too, as upstream's do.
   */
  cluster: ClusterIdentity;
  /** Told when the project's records show another cluster under this cluster's name. */
  sharedName?: SharedNameWatch;
  /** Default of annotation oxide.computer/firewall. */
  firewall?: boolean;
  /** Which FIPs oxide.computer/floating-ip-name may name (--oxide-lb-named-floating-ips). */
  namedFloatingIps?: NamedFloatingIpPolicy;
  logger?: Logger;
  poolCacheTtlMs?: number;
  /** The provider's shared instance and NIC views; its own when omitted. */
  inventory?: InstanceInventory;
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
  private readonly planContext: PlanContext;
  private readonly fips: FloatingIps;
  private readonly placement: Placement;
  private readonly firewall: LoadBalancerFirewall;
  private readonly ingress = new IngressStatus();
  private nodeLister: (() => readonly V1Node[]) | undefined;

  constructor(options: OxideLoadBalancerOptions) {
    const { client } = options;
    this.defaults = {
      firewall: options.firewall ?? false,
      namedFloatingIps: options.namedFloatingIps ?? 'marked',
    };
    this.clusterId = options.cluster.id;
    this.log = options.logger ?? silentLogger;
    const { sharedName } = options;
    this.planContext = {
      project: client.project,
      log: this.log,
      sharedName: sharedName && ((other) => sharedName.seen('floating IPs', other)),
    };
    const nics = new PrimaryNics(options.inventory ?? new InstanceInventory(client));
    this.fips = new FloatingIps(client, this.log, {
      poolCacheTtlMs: options.poolCacheTtlMs,
      floatingIpTtlMs: options.floatingIpTtlMs,
    });
    this.placement = new Placement(client, this.log, nics, this.fips);
    this.firewall = new LoadBalancerFirewall(
      client,
      nics,
      options.cluster,
      options.firewallSnapshotTtlMs,
    );
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
    const near = new Set(candidates.map((c) => c.instanceId));
    let all: Set<string> | undefined;
    return (instanceId) => {
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

  /**
   * Lists afresh rather than from the view: it is the last call for the Service, and a FIP created
   * elsewhere within the view's TTL (a previous leader's) would otherwise leak.
   */
  ensureLoadBalancerDeleted(
    clusterName: string,
    service: V1Service,
    signal?: AbortSignal,
  ): Promise<LoadBalancerWarning[]> {
    const spec = deletionSpec(this.cluster(clusterName), service, this.defaults);
    return this.fips.withView((fips) => this.deleteFrom(fips, spec, signal), true, signal);
  }

  private cluster(name: string): ClusterIdentity {
    return { name, id: this.clusterId };
  }

  private async sync(
    mode: Mode,
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
    signal: AbortSignal | undefined,
  ): Promise<LoadBalancerStatus> {
    // 1. Spec.
    const spec = loadBalancerSpec(this.cluster(clusterName), service, this.defaults);
    const candidates = candidatesOf(nodes, this.log);
    this.ingress.remember(candidates);
    for (const d of spec.floatingIps) await this.fips.checkPoolFamily(d, signal);

    return this.fips.withView(
      async (fips) => {
        // 2. Ownership: every refusal (another Service's FIP or address) is thrown here.
        const { planned, stale, held } = planFloatingIps(spec, fips, {
          ...this.planContext,
          onNode: this.onNode(candidates),
        });
        // 3. Floating IPs: what the Service no longer uses goes, then each it uses exists.
        if (mode === 'ensure') await this.fips.dropStale(stale, fips, signal);
        const placed: FloatingIp[] = [];
        for (const p of planned) {
          const fip = await this.fips.realize(p, spec.ref, fips, mode === 'ensure', signal);
          // 4. Placement.
          const next = await this.placement.place(fip, spec.ref.uid, candidates, fips, signal);
          replaceIn(fips, fip, next);
          placed.push(next);
        }
        // 5. Firewall: rules named after the primary FIP.
        await this.firewall.sync(spec.firewall, placed[0]?.name ?? spec.baseName, placed, signal);
        // 6. Status.
        this.ingress.prune(candidates, this.fips.current(fips));
        const warnings = [
          ...unknownAnnotationWarning(spec.unknownAnnotations),
          ...outsideClusterWarnings(held),
        ];
        return { ...this.ingress.of(placed), ...(warnings.length > 0 ? { warnings } : {}) };
      },
      false,
      signal,
    );
  }

  /**
   * Only what the Service owns (ownership.ts): its FIPs are released, a user's FIP marked for it
   * is detached, never deleted. The firewall goes first: the attachments tell which VPC holds
   * the rules.
   */
  private async deleteFrom(
    fips: readonly FloatingIp[],
    spec: DeletionSpec,
    signal: AbortSignal | undefined,
  ): Promise<LoadBalancerWarning[]> {
    const { owned, named, held, ruleNames } = planDeletion(spec, fips, {
      ...this.planContext,
      onNode: this.onNode([]),
    });
    const attached = named ? [...owned, named] : owned;
    await this.firewall.remove(ruleNames, spec.firewall, attached, signal);
    for (const fip of owned) await this.fips.releaseOwned(fip, spec.ref, signal);
    if (named?.instanceId) await this.fips.detachUserOwned(named, signal);
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
