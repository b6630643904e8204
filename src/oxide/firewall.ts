// VPC firewall calls. The update replaces the VPC's whole rule set and has no concurrency check;
// the read-modify-write-verify loop that makes that tolerable lives in
// cloud/oxide/load-balancer/vpc-firewall.ts.
import type { VpcFirewallRule, VpcFirewallRuleUpdate } from '@oxide/api';
import type { OxideClient } from './client.ts';

/** By VPC UUID (no project selector: UUID plus parent selector is a 400). */
export async function viewFirewallRules(
  client: OxideClient,
  vpcId: string,
  signal?: AbortSignal,
): Promise<VpcFirewallRule[]> {
  const result = await client.call(
    'vpc_firewall_rules_view',
    (api, params) => api.methods.vpcFirewallRulesView({ query: { vpc: vpcId } }, params),
    signal,
  );
  return result.rules;
}

export async function replaceFirewallRules(
  client: OxideClient,
  vpcId: string,
  rules: VpcFirewallRuleUpdate[],
  signal?: AbortSignal,
): Promise<VpcFirewallRule[]> {
  const result = await client.call(
    'vpc_firewall_rules_update',
    (api, params) =>
      api.methods.vpcFirewallRulesUpdate({ query: { vpc: vpcId }, body: { rules } }, params),
    signal,
  );
  return result.rules;
}

/** The writable part of a rule as read, to send it back unchanged. */
export function toRuleUpdate(rule: VpcFirewallRule): VpcFirewallRuleUpdate {
  return {
    action: rule.action,
    description: rule.description,
    direction: rule.direction,
    filters: rule.filters,
    name: rule.name,
    priority: rule.priority,
    status: rule.status,
    targets: rule.targets,
  };
}
