// VPCs, their subnets (custom router attachment) and firewall rules (PUT replaces the whole set).
import { randomUUID } from 'node:crypto';
import type {
  Vpc,
  VpcFirewallRule,
  VpcFirewallRules,
  VpcFirewallRuleUpdateParams,
  VpcResultsPage,
  VpcSubnet,
  VpcSubnetResultsPage,
  VpcSubnetUpdate,
} from '@oxide/api';
import { checkName, isUuid } from '../db/select.ts';
import { invalidRequest, invalidValue } from '../errors.ts';
import { body, isSet, type Ctx, endpoint, param, reply, type Route } from '../http.ts';
import { paginate } from '../pagination.ts';
import { applyIdentity, checkRename } from './identity.ts';
import { projectScope, queriedProject, queriedVpc, vpcScope } from './scope.ts';

const MAX_RULES = 1024;
const MAX_TARGETS = 256;

function selectedVpc(ctx: Ctx): Vpc {
  return ctx.db.vpc(param(ctx, 'vpc'), projectScope(ctx));
}

function selectedSubnet(ctx: Ctx): VpcSubnet {
  return ctx.db.subnet(param(ctx, 'subnet'), vpcScope(ctx));
}

function updateSubnet(ctx: Ctx): VpcSubnet {
  const subnet = selectedSubnet(ctx);
  const b = body<VpcSubnetUpdate>(ctx);
  const siblings = ctx.db.subnets.filter((s) => s.vpcId === subnet.vpcId);
  checkRename('vpc-subnet', subnet, b.name, siblings);
  // custom_router is Option<NameOrId> in Nexus: leaving it out detaches, as null does.
  let customRouterId: string | null = null;
  if (isSet(b.customRouter)) {
    const ref = b.customRouter;
    const router = ctx.db.router(ref, isUuid(ref) ? {} : { vpc: subnet.vpcId });
    if (router.vpcId !== subnet.vpcId) {
      throw invalidRequest('a router can only be attached to a subnet of the same VPC');
    }
    if (router.kind === 'system') {
      throw invalidRequest('cannot attach a system router to a VPC subnet');
    }
    customRouterId = router.id;
  }
  applyIdentity(subnet, b);
  subnet.customRouterId = customRouterId;
  return subnet;
}

function replaceRules(ctx: Ctx): VpcFirewallRule[] {
  const vpc = queriedVpc(ctx);
  const rules = body<VpcFirewallRuleUpdateParams>(ctx).rules ?? [];
  if (rules.length > MAX_RULES) {
    throw invalidValue('rules', `max ${MAX_RULES} rules per VPC, got ${rules.length}`);
  }
  const names = new Set<string>();
  for (const r of rules) {
    checkName(r.name, 'rules.name');
    if (names.has(r.name)) throw invalidValue('rules', `rule names must be unique: "${r.name}"`);
    names.add(r.name);
    if (r.targets.length > MAX_TARGETS) {
      throw invalidValue('targets', `max ${MAX_TARGETS} targets per rule`);
    }
  }
  const now = new Date();
  const stored = rules.map((r): VpcFirewallRule => ({
    id: randomUUID(),
    vpcId: vpc.id,
    name: r.name,
    description: r.description,
    status: r.status,
    direction: r.direction,
    action: r.action,
    priority: r.priority,
    targets: r.targets,
    filters: {
      hosts: r.filters.hosts ?? null,
      ports: r.filters.ports ?? null,
      protocols: r.filters.protocols ?? null,
    },
    timeCreated: now,
    timeModified: now,
  }));
  ctx.db.rules.set(vpc.id, stored);
  return stored;
}

// Nexus reads the rule set ordered by name.
const byName = (rules: VpcFirewallRule[]): VpcFirewallRule[] =>
  [...rules].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

export const vpcRoutes: Route[] = [
  endpoint('GET', '/v1/vpcs', 'vpc_list', (ctx) => {
    const project = queriedProject(ctx);
    const all = ctx.db.vpcs.filter((v) => v.projectId === project.id);
    return reply<VpcResultsPage>(200, paginate(all, ctx.query));
  }),
  endpoint('GET', '/v1/vpcs/{vpc}', 'vpc_view', (ctx) => reply<Vpc>(200, selectedVpc(ctx))),
  endpoint('GET', '/v1/vpc-subnets', 'vpc_subnet_list', (ctx) => {
    const vpc = queriedVpc(ctx);
    const all = ctx.db.subnets.filter((s) => s.vpcId === vpc.id);
    return reply<VpcSubnetResultsPage>(200, paginate(all, ctx.query));
  }),
  endpoint('GET', '/v1/vpc-subnets/{subnet}', 'vpc_subnet_view', (ctx) =>
    reply<VpcSubnet>(200, selectedSubnet(ctx)),
  ),
  endpoint('PUT', '/v1/vpc-subnets/{subnet}', 'vpc_subnet_update', (ctx) =>
    reply<VpcSubnet>(200, updateSubnet(ctx)),
  ),
  endpoint('GET', '/v1/vpc-firewall-rules', 'vpc_firewall_rules_view', (ctx) => {
    const vpc = queriedVpc(ctx);
    return reply<VpcFirewallRules>(200, { rules: byName(ctx.db.rules.get(vpc.id) ?? []) });
  }),
  endpoint('PUT', '/v1/vpc-firewall-rules', 'vpc_firewall_rules_update', (ctx) =>
    reply<VpcFirewallRules>(200, { rules: byName(replaceRules(ctx)) }),
  ),
];
