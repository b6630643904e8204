// Step 5, firewall: a Service's rules in the VPCs of its targets (what they allow:
// firewall-rules.ts; how a VPC's rule set is written safely: vpc-firewall.ts). Rules are named
// after the Service's primary FIP, which no other Service uses, and go wherever the targets'
// primary NICs are; rules left in another VPC (the target moved, or the firewall was turned off)
// are removed.
import type { FloatingIp } from '@oxide/api';
import type { OxideClient } from '../../../oxide/client.ts';
import type { ClusterIdentity } from '../cluster.ts';
import { desiredFirewallRules, firewallRuleBase } from './firewall-rules.ts';
import type { FirewallSpec } from './spec.ts';
import type { PrimaryNics } from './target-nics.ts';
import { FirewallManager } from './vpc-firewall.ts';

export class LoadBalancerFirewall {
  private readonly nics: PrimaryNics;
  private readonly vpcs: FirewallManager;
  private readonly cluster: ClusterIdentity;

  constructor(
    client: OxideClient,
    nics: PrimaryNics,
    cluster: ClusterIdentity,
    snapshotTtlMs: number | undefined,
  ) {
    this.nics = nics;
    this.cluster = cluster;
    this.vpcs = new FirewallManager(client, { cluster, ttlMs: snapshotTtlMs });
  }

  /** `primaryName`: the name of the Service's primary FIP, after which its rules are named. */
  async sync(
    firewall: FirewallSpec | undefined,
    primaryName: string,
    placed: readonly FloatingIp[],
    signal?: AbortSignal,
  ): Promise<void> {
    const ruleBase = firewallRuleBase(primaryName);
    const ipsByVpc = new Map<string, string[]>();
    if (firewall) {
      for (const instanceId of new Set(placed.map((f) => f.instanceId).filter((i) => !!i))) {
        const nic = await this.nics.get(instanceId as string, signal);
        if (!nic) continue;
        ipsByVpc.set(nic.vpcId, [...(ipsByVpc.get(nic.vpcId) ?? []), ...nic.ips]);
      }
    }
    for (const [vpc, ips] of ipsByVpc) {
      const desired = firewall
        ? desiredFirewallRules(firewall, primaryName, ips, this.cluster)
        : [];
      await this.vpcs.reconcile(vpc, ruleBase, desired, signal);
    }
    // Leftovers: firewall turned off, or the target moved to another VPC.
    for (const vpc of this.vpcs.knownVpcs()) {
      if (!ipsByVpc.has(vpc) && this.vpcs.mayOwnRules(vpc, ruleBase)) {
        await this.vpcs.reconcile(vpc, ruleBase, [], signal);
      }
    }
  }

  /**
   * Deleting the Service: its rules under any of `ruleNames`, in every VPC this process has read
   * and, when `enabled`, in the VPCs of the FIPs' targets (they tell where the rules are). Runs
   * before the FIPs are detached.
   */
  async remove(
    ruleNames: ReadonlySet<string>,
    enabled: boolean,
    fips: readonly FloatingIp[],
    signal?: AbortSignal,
  ): Promise<void> {
    const vpcs = new Set(this.vpcs.knownVpcs());
    if (enabled) {
      for (const f of fips) {
        if (f.instanceId) {
          const nic = await this.nics.get(f.instanceId, signal);
          if (nic) vpcs.add(nic.vpcId);
        }
      }
    }
    for (const vpc of vpcs) {
      for (const name of ruleNames) {
        const ruleBase = firewallRuleBase(name);
        if (this.vpcs.mayOwnRules(vpc, ruleBase)) {
          await this.vpcs.reconcile(vpc, ruleBase, [], signal);
        }
      }
    }
  }
}
