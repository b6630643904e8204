// The VPC firewall rules a Service owns, as pure functions: what they should be, and the VPC's
// whole rule list with only those replaced. Rules are recognised by name
// (`k8s-lb-<16 hex of sha256(load balancer name)>-tcp|udp`), so a rule someone else wrote is never
// touched, whatever it says; and by the cluster identity in their description (cluster.ts), so
// a rule of another cluster sharing the VPC is never touched either, whatever its name. A rule
// without an identity (written before identities) is taken by its name, and gets one at the
// next write.
//
// What the rules allow: a FIP is 1:1 NAT to the target's primary NIC, and NAT rewrites only the
// address, so packets reach the instance at its private address on the Service `port` (not the
// nodePort). kube-proxy accepts them there because the Node's InternalIPs are in the Service's
// status.loadBalancer.ingress. So each rule targets the instances' private addresses and allows
// the Service ports, from spec.loadBalancerSourceRanges (or everywhere).
import { createHash } from 'node:crypto';
import type { VpcFirewallRule, VpcFirewallRuleUpdate } from '@oxide/api';
import { toRuleUpdate } from '../../../oxide/firewall.ts';
import type { FirewallSpec } from './spec.ts';
import { compareNames } from '../../../util/compare.ts';
import { CLUSTER_ID_TOKEN, clusterIdIn, identityToken, membershipOf } from '../cluster.ts';
import type { ClusterIdentity } from '../cluster.ts';

export const FIREWALL_RULE_PREFIX = 'k8s-lb-';
/** Below the default rules' 65534, so an allow here wins over a broader default deny. */
export const FIREWALL_RULE_PRIORITY = 1000;

/** Prefix of every rule name of this Service; stable across restarts, unique per Service. */
export function firewallRuleBase(loadBalancerName: string): string {
  const hash = createHash('sha256').update(loadBalancerName).digest('hex').slice(0, 16);
  return `${FIREWALL_RULE_PREFIX}${hash}`;
}

/** This cluster's rule of the Service `ruleBase`: its name, and no other cluster's identity. */
export const ownedBy = (
  ruleBase: string,
  rule: Pick<VpcFirewallRule, 'name' | 'description'>,
  cluster: ClusterIdentity,
): boolean =>
  rule.name.startsWith(`${ruleBase}-`) && membershipOf(rule.description, cluster) !== 'other';

/**
 * One rule per protocol: filters are ANDed, so a single rule listing TCP and UDP with ports 53
 * and 80 would also open UDP 80 and TCP 53. SCTP has no Oxide equivalent and is left out.
 * `targetIps` are the private addresses of the target instances' primary NICs; empty means the
 * Service has no target yet, and then it owns no rules.
 */
export function desiredFirewallRules(
  spec: FirewallSpec,
  loadBalancerName: string,
  targetIps: readonly string[],
  cluster: ClusterIdentity,
): VpcFirewallRuleUpdate[] {
  if (targetIps.length === 0) return [];
  const base = firewallRuleBase(loadBalancerName);
  const rules: VpcFirewallRuleUpdate[] = [];
  for (const protocol of ['tcp', 'udp'] as const) {
    const ports = spec.ports[protocol];
    if (ports.length === 0) continue;
    rules.push({
      name: `${base}-${protocol}`,
      description:
        `Managed by oxide-cloud-controller-manager: Service ${spec.service} ` +
        `(${loadBalancerName}).${identityToken(cluster)}`,
      action: 'allow',
      direction: 'inbound',
      priority: FIREWALL_RULE_PRIORITY,
      status: 'enabled',
      targets: [...new Set(targetIps)].sort().map((ip) => ({ type: 'ip' as const, value: ip })),
      filters: {
        protocols: [{ type: protocol }],
        ports,
        hosts: spec.sourceRanges.length
          ? spec.sourceRanges.map((r) => ({ type: 'ip_net' as const, value: r }))
          : null,
      },
    });
  }
  return rules;
}

/** JSON with sorted keys, `undefined` and `null` alike, so rules compare by content. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null) return undefined;
    if (v instanceof Date) return v.toISOString();
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const obj = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(obj)
          .sort()
          .map((k) => [k, obj[k]]),
      );
    }
    return v;
  });
}

export const sameRules = (
  a: readonly VpcFirewallRuleUpdate[],
  b: readonly VpcFirewallRuleUpdate[],
) => canonicalJson(a.map(stripUndefined)) === canonicalJson(b.map(stripUndefined));

function stripUndefined(rule: VpcFirewallRuleUpdate): VpcFirewallRuleUpdate {
  return toRuleUpdate(rule as VpcFirewallRule);
}

/** The Service's rules as they stand in `rules`, sorted by name. */
export function ownedRules(
  rules: readonly VpcFirewallRule[],
  ruleBase: string,
  cluster: ClusterIdentity,
): VpcFirewallRuleUpdate[] {
  return rules
    .filter((r) => ownedBy(ruleBase, r, cluster))
    .map(toRuleUpdate)
    .sort((a, b) => compareNames(a.name, b.name));
}

export function foreignRules(
  rules: readonly VpcFirewallRule[],
  ruleBase: string,
  cluster: ClusterIdentity,
): VpcFirewallRuleUpdate[] {
  return rules.filter((r) => !ownedBy(ruleBase, r, cluster)).map(toRuleUpdate);
}

/**
 * The VPC's full rule list with this Service's rules replaced by `desired`, every other rule sent
 * back exactly as read and in its order; undefined when nothing would change. A rule another
 * cluster owns under a name this Service needs is never replaced: that throws.
 */
export function mergeRules(
  current: readonly VpcFirewallRule[],
  ruleBase: string,
  desired: readonly VpcFirewallRuleUpdate[],
  cluster: ClusterIdentity,
): VpcFirewallRuleUpdate[] | undefined {
  const sortedDesired = [...desired].sort((a, b) => compareNames(a.name, b.name));
  if (sameRules(ownedRules(current, ruleBase, cluster), sortedDesired)) return undefined;
  const foreign = foreignRules(current, ruleBase, cluster);
  const wanted = new Set(sortedDesired.map((r) => r.name));
  const taken = foreign.find((r) => wanted.has(r.name));
  if (taken) {
    throw new Error(
      `firewall rule ${taken.name} belongs to another cluster ` +
        `(${CLUSTER_ID_TOKEN}${clusterIdIn(taken.description) ?? '?'}); it is left alone`,
    );
  }
  return [...foreign, ...sortedDesired];
}
