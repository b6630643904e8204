// Service annotations the Oxide load balancer reads, declared once: the typed readers below and
// docs/annotations.md (rendered by `renderAnnotationDocs`, snapshot-checked by a test) both come
// from these declarations. The first three are the Go CCM v0.7.1's, with its exact names and
// meaning, so Services written for it keep working.
import { isIP } from 'node:net';

export interface AnnotationDeclaration {
  readonly name: string;
  /** Value syntax as users read it. */
  readonly type: string;
  readonly default: string;
  readonly description: string;
}

export const FLOATING_IP: AnnotationDeclaration = {
  name: 'oxide.computer/floating-ip',
  type: 'IP address (IPv4 or IPv6)',
  default: 'unset',
  description:
    'Reserve this exact address for the Service, from the default pool of its IP version. ' +
    'Exclusive with `oxide.computer/floating-ip-pool`, `oxide.computer/floating-ip-version` and ' +
    '`oxide.computer/floating-ip-name`. `spec.loadBalancerIP` means the same (the annotation wins ' +
    'when both are set and differ, which is an error).',
};

export const FLOATING_IP_POOL: AnnotationDeclaration = {
  name: 'oxide.computer/floating-ip-pool',
  type: 'IP pool name or UUID',
  default: 'unset (the silo default pool)',
  description:
    'Allocate the floating IP from this pool. Exclusive with `oxide.computer/floating-ip-version` ' +
    '(a pool has one IP version) and with `oxide.computer/floating-ip`.',
};

export const FLOATING_IP_VERSION: AnnotationDeclaration = {
  name: 'oxide.computer/floating-ip-version',
  type: '`v4` | `v6`',
  default: 'unset (the silo default pool; fails when the silo has default pools of both versions)',
  description:
    'Allocate from the silo default pool of this IP version. Exclusive with ' +
    '`oxide.computer/floating-ip-pool` and `oxide.computer/floating-ip`; not allowed on a ' +
    'dual-stack Service, which gets one floating IP per family anyway.',
};

export const FLOATING_IP_NAME: AnnotationDeclaration = {
  name: 'oxide.computer/floating-ip-name',
  type: 'floating IP name or UUID in the project',
  default: 'unset (the CCM creates and owns the floating IP)',
  description:
    'Use a floating IP you created yourself. The CCM attaches it to the target Node and detaches ' +
    'it when the Service goes away, but never creates, re-creates or deletes it. Exclusive with ' +
    'the three annotations above. A dual-stack Service using it gets only this one address. ' +
    'Removing the annotation from a live Service leaves that floating IP attached: detach it ' +
    'yourself or delete the Service first.',
};

export const FIREWALL: AnnotationDeclaration = {
  name: 'oxide.computer/firewall',
  type: '`true` | `false`',
  default: 'the flag `--oxide-lb-firewall` (off by default)',
  description:
    'Manage VPC firewall rules that allow the Service ports (TCP and UDP; SCTP cannot be ' +
    'expressed in Oxide rules) to the target instances, restricted to ' +
    '`spec.loadBalancerSourceRanges` when set. Only rules named `k8s-lb-<hash>-<protocol>` are ' +
    'ever written; every other rule of the VPC is preserved. Rules are removed with the Service ' +
    'or when this turns `false`.',
};

export const ALL_ANNOTATIONS: readonly AnnotationDeclaration[] = [
  FLOATING_IP,
  FLOATING_IP_POOL,
  FLOATING_IP_VERSION,
  FLOATING_IP_NAME,
  FIREWALL,
];

export type AnnotationResult<T> = { value: T } | { error: string };

type Annotations = Readonly<Record<string, string>> | undefined;

/** Unset and empty are the same, as in the Go CCM (`annotations[key] != ""`). */
function raw(annotations: Annotations, decl: AnnotationDeclaration): string | undefined {
  const value = annotations?.[decl.name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

const invalid = (decl: AnnotationDeclaration, value: string, why: string) => ({
  error: `annotation ${decl.name}: invalid value ${JSON.stringify(value)}: ${why}`,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Oxide's `Name` (OpenAPI schema): lowercase first letter, letters/digits/-, no trailing -. */
const OXIDE_NAME = /^[a-z]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;

export function isNameOrId(value: string): boolean {
  return UUID.test(value) || (value.length <= 63 && OXIDE_NAME.test(value));
}

export function readFloatingIp(annotations: Annotations): AnnotationResult<string | undefined> {
  const value = raw(annotations, FLOATING_IP);
  if (value === undefined) return { value };
  return isIP(value) ? { value } : invalid(FLOATING_IP, value, 'not an IPv4 or IPv6 address');
}

export function readFloatingIpPool(annotations: Annotations): AnnotationResult<string | undefined> {
  const value = raw(annotations, FLOATING_IP_POOL);
  if (value === undefined) return { value };
  return isNameOrId(value)
    ? { value }
    : invalid(FLOATING_IP_POOL, value, 'not an Oxide name or UUID');
}

export type IpVersion = 'v4' | 'v6';

export function readFloatingIpVersion(
  annotations: Annotations,
): AnnotationResult<IpVersion | undefined> {
  const value = raw(annotations, FLOATING_IP_VERSION);
  if (value === undefined) return { value };
  return value === 'v4' || value === 'v6'
    ? { value }
    : invalid(FLOATING_IP_VERSION, value, 'must be "v4" or "v6"');
}

export function readFloatingIpName(annotations: Annotations): AnnotationResult<string | undefined> {
  const value = raw(annotations, FLOATING_IP_NAME);
  if (value === undefined) return { value };
  return isNameOrId(value)
    ? { value }
    : invalid(FLOATING_IP_NAME, value, 'not an Oxide name or UUID');
}

/** undefined when unset: the provider option decides. */
export function readFirewall(annotations: Annotations): AnnotationResult<boolean | undefined> {
  const value = raw(annotations, FIREWALL);
  if (value === undefined) return { value };
  if (value === 'true') return { value: true };
  if (value === 'false') return { value: false };
  return invalid(FIREWALL, value, 'must be "true" or "false"');
}

const BEHAVIOUR = [
  '## What the load balancer does',
  '',
  '- **Names.** One floating IP per Service in the project, named',
  '  `<cluster-name>-<namespace>-<name>` cut to 63 characters with trailing `-` trimmed, description',
  '  `Managed by oxide-cloud-controller-manager.` (exactly as the Go CCM v0.7.1, whose floating IPs',
  '  are adopted by name, never re-created). A dual-stack Service (`ipFamilyPolicy`',
  '  `PreferDualStack`/`RequireDualStack` with two `ipFamilies`) gets a second floating IP for its',
  '  second family, named `<name cut to 58>-IPv4` or `-IPv6`: the uppercase suffix cannot come out',
  "  of a Kubernetes name, so it never collides with another Service's floating IP.",
  '- **Allocation changes** (other address, pool or version) detach, delete and re-create the',
  '  floating IP. Without annotations a new floating IP is asked from the default pool of the',
  "  Service's first IP family; an adopted one is never re-created for that reason.",
  "- **Target.** Each floating IP is attached to one Node's instance, chosen among the Nodes the",
  '  service controller passes (Ready, schedulable, not excluded; with',
  '  `externalTrafficPolicy: Local` only Nodes with ready endpoints). It stays on its Node while',
  '  that Node is eligible; otherwise Nodes are tried in rendezvous-hash order of (Service UID,',
  '  Node name), skipping Nodes above 1.25 × the average floating-IP load, so Services spread over',
  '  Nodes. Oxide NATs a floating IP to the primary NIC, so a v6 floating IP only goes to a Node',
  '  whose primary NIC has an IPv6 address, and no instance gets more than 32 external IPs.',
  "- **Status.** `ingress[0]` is the floating IP with `ipMode: Proxy` (the second family's follows",
  "  it), then the target Nodes' `InternalIP`s. Oxide floating IPs are 1:1 NAT: packets reach the",
  '  Node at its private address, so kube-proxy must treat that address as load-balancer ingress.',
  '- **Firewall.** Rules `k8s-lb-<16 hex of sha256(floating IP name)>-tcp|udp`, priority 1000,',
  "  allow inbound traffic to the target instances' private addresses on the Service `port`s (NAT",
  '  keeps the port; the nodePort is not involved) from `spec.loadBalancerSourceRanges` (or',
  '  `service.beta.kubernetes.io/load-balancer-source-ranges`, or anywhere). The VPC rule set can',
  '  only be replaced whole, without a concurrency check: the CCM reads, replaces only its own rules',
  '  and writes the set back right away, then reads again and retries when its rules are missing or',
  '  other rules changed meanwhile. An edit by someone else landing between that read and write is',
  '  lost; avoid editing rules by hand while Services change, or re-apply your edit.',
  '- **Deletion** removes the firewall rules, detaches and deletes owned floating IPs (already gone',
  '  is fine) and only detaches one named by `oxide.computer/floating-ip-name`.',
  "- **How fresh.** The project's floating IPs are listed once for all Services and the list is",
  '  reused for 1 s (`floatingIpTtlMs`); every create, attach, detach and delete the CCM makes is',
  '  applied to it at once. A change made by anyone else (a floating IP deleted, attached or',
  '  created by hand) is therefore seen within 1 s, at the next reconcile of the Service; sooner',
  '  when a write of the CCM trips over it (name taken, already attached, gone), which makes it list',
  '  again and retry once. Deletion always lists afresh.',
  '',
];

/** docs/annotations.md, generated from the declarations above. */
export function renderAnnotationDocs(): string {
  const lines = [
    '# Service annotations',
    '',
    '<!-- Generated from src/cloud/oxide/annotations.ts by renderAnnotationDocs(); a test fails',
    '     when this file and the declarations differ. Edit the declarations, then run',
    '     `UPDATE_DOCS=1 node_modules/.bin/node --test src/cloud/oxide/annotations.test.ts`. -->',
    '',
    'Annotations on a Service of `type: LoadBalancer` that the Oxide provider reads. An invalid',
    'value or combination is reported as a Warning event (`SyncLoadBalancerFailed`) naming the',
    'annotation, and nothing is created or deleted until it is fixed.',
    '',
  ];
  for (const decl of ALL_ANNOTATIONS) {
    lines.push(`## \`${decl.name}\``, '', `- Type: ${decl.type}`, `- Default: ${decl.default}`, '');
    lines.push(decl.description, '');
  }
  lines.push(...BEHAVIOUR);
  return lines.join('\n');
}
