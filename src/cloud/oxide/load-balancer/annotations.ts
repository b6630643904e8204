// Service annotations the Oxide load balancer reads, declared once: the typed readers below and
// docs/annotations.md (rendered by `renderAnnotationDocs`, snapshot-checked by a test) both come
// from these declarations. The first three are the Go CCM v0.7.1's, with its exact names and
// meaning, so Services written for it keep working.
import { parseIp } from '../../../net/ip.ts';
import { quote } from '../../../util/quote.ts';

export interface AnnotationDeclaration {
  readonly name: string;
  /** Value syntax as users read it. */
  readonly type: string;
  readonly default: string;
  readonly description: string;
}

export const FLOATING_IP: AnnotationDeclaration = {
  name: 'oxide.computer/floating-ip',
  type: 'IP address (IPv4 or IPv6, no zone id)',
  default: 'unset',
  description:
    'Reserve this exact address for the Service, from the default pool of its IP version. ' +
    'Exclusive with `oxide.computer/floating-ip-pool`, `oxide.computer/floating-ip-version` and ' +
    '`oxide.computer/floating-ip-name`. `spec.loadBalancerIP` means the same (the annotation wins ' +
    'when both are set and differ, which is an error). Any spelling of an address is the same ' +
    'address (`::ffff:192.0.2.10` is `192.0.2.10`, `2001:DB8:0::1` is `2001:db8::1`). An address ' +
    'held by a floating IP the Service does not own is refused (see Ownership below).',
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
    'Use a floating IP an Oxide user of the project made for this Service: its description must ' +
    'contain the word `k8s-service=<cluster-name>/<namespace>/<name>` naming this Service (and ' +
    'no other `k8s-service=`), and must not be a floating IP the CCM manages. With several ' +
    "clusters in the project, add `cluster-id=<the cluster's kube-system UID>` to the " +
    'description to name the cluster too; without it the mark is refused while two clusters ' +
    'share the cluster name ([clusters.md](clusters.md)). Anything else (a ' +
    "floating IP that does not exist, another Service's, one not marked for this Service) is " +
    'refused with one message, so the annotation cannot be used to learn which floating IPs ' +
    'exist. The flag `--oxide-lb-named-floating-ips` decides: `marked` (default) as above, ' +
    '`none` refuses the annotation. The CCM attaches the floating IP to the target Node and ' +
    'detaches it when the Service goes away, but never creates, re-creates or deletes it. ' +
    'Exclusive with the three annotations above. A dual-stack Service using it gets only this ' +
    'one address. Removing the annotation from a live Service leaves that floating IP attached: ' +
    'detach it yourself or delete the Service first.',
};

export const FIREWALL: AnnotationDeclaration = {
  name: 'oxide.computer/firewall',
  type: '`true` | `false`',
  default: 'the flag `--oxide-lb-firewall` (off by default)',
  description:
    'Manage VPC firewall rules that allow the Service ports (TCP and UDP; SCTP cannot be ' +
    'expressed in Oxide rules) to the target instances, restricted to ' +
    '`spec.loadBalancerSourceRanges` when set. Only rules named `k8s-lb-<hash>-<protocol>` whose ' +
    "description names this cluster's identity (or none, written before identities) are ever " +
    'written; every other rule of the VPC is preserved. Rules are removed with the Service ' +
    'or when this turns `false`.',
};

export const PROJECT: AnnotationDeclaration = {
  name: 'oxide.computer/project',
  type: 'Oxide project name or UUID, one of `--oxide-projects`',
  default: 'the default project (the first of `--oxide-projects`, else `OXIDE_PROJECT`)',
  description:
    'The project whose floating IPs serve the Service. A floating IP attaches only to an ' +
    'instance of its own project, so the Service is placed only on Nodes whose instance is in ' +
    'that project (the Node label `oxide.computer/project` shows which); ' +
    'when none of them is eligible the Service gets a Warning event `UnAvailableLoadBalancer` ' +
    'naming the project. The value must be one of the configured projects, written as ' +
    'configured; any other is refused with a Warning event and nothing is created. The other ' +
    'annotations (pool, address, a named floating IP) are read in that project. Changing it ' +
    'moves the Service: its floating IPs in the other configured projects are deleted and new ' +
    'ones are created in this one (a new address).',
};

export const ALL_ANNOTATIONS: readonly AnnotationDeclaration[] = [
  FLOATING_IP,
  FLOATING_IP_POOL,
  FLOATING_IP_VERSION,
  FLOATING_IP_NAME,
  FIREWALL,
  PROJECT,
];

export type AnnotationResult<T> = { value: T } | { error: string };

type Annotations = Readonly<Record<string, string>> | undefined;

/** Unset and empty are the same, as in the Go CCM (`annotations[key] != ""`). */
function raw(annotations: Annotations, decl: AnnotationDeclaration): string | undefined {
  const value = annotations?.[decl.name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

// The value is the tenant's and may be any length: quoted and cut (util/quote.ts).
const invalid = (decl: AnnotationDeclaration, value: string, why: string) => ({
  error: `annotation ${decl.name}: invalid value ${quote(value)}: ${why}`,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Oxide's `Name` (OpenAPI schema): lowercase first letter, letters/digits/-, no trailing -. */
const OXIDE_NAME = /^[a-z]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;

export function isNameOrId(value: string): boolean {
  return UUID.test(value) || (value.length <= 63 && OXIDE_NAME.test(value));
}

/** The canonical address (net/ip.ts), so every later comparison sees one spelling. */
export function readFloatingIp(annotations: Annotations): AnnotationResult<string | undefined> {
  const value = raw(annotations, FLOATING_IP);
  if (value === undefined) return { value };
  const ip = parseIp(value);
  if (ip) return { value: ip.address };
  return invalid(FLOATING_IP, value, IP_PROBLEM);
}

/** Why an address was refused; zone ids (`%eth0`) pass node:net's isIP but not Oxide's API. */
export const IP_PROBLEM = 'not an IPv4 or IPv6 address (without a zone id)';

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

/** Whether the project is configured is the load balancer's to decide; here only its syntax. */
export function readProject(annotations: Annotations): AnnotationResult<string | undefined> {
  const value = raw(annotations, PROJECT);
  if (value === undefined) return { value };
  return isNameOrId(value) ? { value } : invalid(PROJECT, value, 'not an Oxide name or UUID');
}

/** Every annotation the load balancer reads, read at once: each a typed value or its error. */
export interface LoadBalancerAnnotations {
  floatingIp: AnnotationResult<string | undefined>;
  pool: AnnotationResult<string | undefined>;
  version: AnnotationResult<IpVersion | undefined>;
  floatingIpName: AnnotationResult<string | undefined>;
  firewall: AnnotationResult<boolean | undefined>;
  project: AnnotationResult<string | undefined>;
}

/** The annotation prefix the Oxide provider owns: a key under it that it does not read is a typo. */
export const ANNOTATION_PREFIX = 'oxide.computer/';

/**
 * Keys under `oxide.computer/` that no declaration names (`oxide.computer/floating-ipp`), sorted;
 * silently ignoring one would leave a Service without what its author asked for.
 */
export function unknownAnnotations(annotations: Annotations): string[] {
  const known = new Set(ALL_ANNOTATIONS.map((d) => d.name));
  return Object.keys(annotations ?? {})
    .filter((k) => k.startsWith(ANNOTATION_PREFIX) && !known.has(k))
    .sort();
}

export function readAnnotations(annotations: Annotations): LoadBalancerAnnotations {
  return {
    floatingIp: readFloatingIp(annotations),
    pool: readFloatingIpPool(annotations),
    version: readFloatingIpVersion(annotations),
    floatingIpName: readFloatingIpName(annotations),
    firewall: readFirewall(annotations),
    project: readProject(annotations),
  };
}

const BEHAVIOUR = [
  '## What the load balancer does',
  '',
  '- **Names.** One floating IP per Service in its project (`oxide.computer/project`), named',
  '  `<cluster-name>-<namespace>-<name>` cut to 63 characters with trailing `-` trimmed (exactly as',
  '  the Go CCM v0.7.1). A dual-stack Service (`ipFamilyPolicy` `PreferDualStack`/`RequireDualStack`',
  '  with two `ipFamilies`) gets a second floating IP for its second family, named',
  '  `<name cut to 58>-IPv4` or `-IPv6`: the uppercase suffix cannot come out of a Kubernetes name,',
  "  so it never collides with another Service's floating IP. When that name is already held by a",
  '  floating IP the Service does not own (two Services map to one name: `p6/a-b` and `p6-a/b` are',
  '  both `kubernetes-p6-a-b`, and names that differ only after the 63rd character are cut to the',
  '  same), the Service gets the **alternative** name: the name cut to 53 (48 for a second family)',
  '  followed by `-H<first 8 hex of sha256(Service UID)>` and the family suffix, e.g.',
  '  `kubernetes-p6-a-b-H1f0c2d3e`. It is distinct (from the UID), stable (the Service keeps it,',
  '  even after the other Service is gone) and cannot be produced, or taken first, by another',
  "  Service's name. Every Service whose name does not collide keeps the Go CCM's name.",
  '- **Allocation changes** (other address, pool or version) detach, delete and re-create the',
  '  floating IP under the same name. Without annotations a new floating IP is asked from the',
  "  default pool of the Service's first IP family; an adopted one is never re-created for that",
  '  reason.',
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
  '- **Firewall.** Rules `k8s-lb-<16 hex of sha256(name of the primary floating IP)>-tcp|udp`,',
  "  priority 1000, allow inbound traffic to the target instances' private addresses on the Service",
  '  `port`s (NAT keeps the port; the nodePort is not involved) from',
  '  `spec.loadBalancerSourceRanges` (or `service.beta.kubernetes.io/load-balancer-source-ranges`,',
  '  or anywhere). The VPC rule set can only be replaced whole, without a concurrency check: the',
  '  CCM reads, replaces only its own rules and writes the set back right away, then reads again',
  '  and retries when its rules are missing or other rules changed meanwhile. An edit by someone',
  '  else landing between that read and write is lost; avoid editing rules by hand while Services',
  '  change, or re-apply your edit.',
  '- **Deletion** removes the firewall rules, detaches and deletes the floating IPs the Service',
  '  owns (already gone is fine) and only detaches one named by `oxide.computer/floating-ip-name`',
  '  and marked for it. It never detaches or deletes a floating IP the Service does not own,',
  '  whatever its annotations name.',
  "- **How fresh.** The project's floating IPs are listed once for all Services and the list is",
  '  reused for 5 s (`floatingIpTtlMs`); every create, attach, detach and delete the CCM makes is',
  '  applied to it at once. A change made by anyone else (a floating IP deleted, attached or',
  '  created by hand) is therefore seen within 5 s, at the next reconcile of the Service; sooner',
  '  when a write of the CCM trips over it (name taken, already attached, gone), which makes it list',
  '  again and retry once. Deletion always lists afresh.',
  '',
  '## Ownership',
  '',
  'Anyone who may create a Service is untrusted: a Service can write any name or address into its',
  'annotations, and two Services can map to one generated name. So a name never decides who owns',
  "a floating IP; the floating IP's **description** does, which only the CCM and the project's",
  'Oxide users can write, together with the Service **UID**, which the apiserver assigns.',
  '',
  '- **Owner record.** A floating IP the CCM creates has the description',
  '  `Managed by oxide-cloud-controller-manager. service-uid=<UID> service=<cluster>/<namespace>/<name> cluster-id=<identity>`:',
  "  the Go CCM's text, then the owner, then the cluster's identity (the `kube-system` namespace's",
  '  UID). The UID decides within a cluster and the identity between clusters; the rest is for',
  '  operators (and see orphans below). A floating IP serves the Service whose UID it carries and no',
  '  other, and never a Service of another cluster ([clusters.md](clusters.md): several clusters in',
  '  one project, records written by v0.8 without the identity, upgraded with one write).',
  "- **Go CCM floating IPs** (description exactly the Go CCM's `Managed by",
  '  oxide-cloud-controller-manager.`, also written by this CCM before owner records) are adopted',
  '  **once**: by the first Service that reconciles with that generated name and was created',
  '  before the floating IP (60 s tolerated for clock skew; the Go CCM made it for the first',
  '  Service of that name, so a colliding Service created later, perhaps to take it, never can),',
  '  which writes its owner record into the description and reads it back before using it. Claims of',
  '  one floating IP run one at a time in a CCM process; Oxide has no conditional update, so if two',
  '  CCM processes ever acted at once (leader election prevents it) the claimant whose write',
  '  lands last keeps the floating IP and the other takes its alternative name at its next',
  '  reconcile. A colliding second Service gets its own floating IP under the alternative name.',
  '  Deleting a Service claims such a floating IP before deleting it, so a colliding Service that',
  '  claimed it first keeps it. Rolling back to the Go CCM works: it adopts by name and ignores',
  '  the description.',
  "- **Orphans.** A floating IP whose record names this Service's cluster, namespace and name but",
  '  another UID belonged to an earlier Service of that name whose deletion the CCM missed (its',
  '  finalizer removed by hand; two Services of one name cannot exist at once): the new Service',
  "  takes it over, so the address is not lost. Only when the record names this cluster's identity,",
  '  or none while no other cluster uses this `--cluster-name` in the project',
  '  ([clusters.md](clusters.md)).',
  "- **Everything else is someone else's**: another UID, a description that starts like ours but",
  '  has no readable owner, or any other description (a floating IP made in Oxide for other use).',
  '  A generated name held by one makes the Service use its alternative name; nothing of it is',
  '  ever attached, detached, re-created or deleted for the Service. Unlike the Go CCM, a floating',
  '  IP you made yourself with a generated name is therefore not adopted by that name; name it',
  '  with `oxide.computer/floating-ip-name` (marked for the Service) or ask for its address.',
  '- **By address** (`oxide.computer/floating-ip`, `spec.loadBalancerIP`): an address held by a',
  '  floating IP the Service does not own is refused before anything is written.',
  '- **By annotation** (`oxide.computer/floating-ip-name`): only a floating IP an Oxide user marked',
  '  for this one Service (`k8s-service=<cluster>/<namespace>/<name>` in its description), never one',
  '  the CCM manages, and only when `--oxide-lb-named-floating-ips` is `marked` (the default). The',
  '  threat: without that mark any tenant could name any floating IP of the project, including',
  "  another Service's or one serving a VM outside Kubernetes, and the CCM would move it to a Node",
  '  (and detach it when the tenant deletes the Service). A mark names one Service, so such a',
  '  floating IP also serves at most one Service, with no claim to race for.',
  '- **Refusals** are a Warning event `SyncLoadBalancerFailed` on the Service (and nothing is',
  '  created, attached, detached or deleted for it); the Service is tried again when it changes',
  '  and at each periodic resync, since the owner may go away. The message names the conflict',
  '  (the name or address the Service asked for) but never the other Service: events are readable',
  '  by the tenant, who may not be allowed to see other namespaces, and generated names would',
  "  reveal another tenant's namespace and Service name. The CCM's log, which operators read,",
  '  says which floating IP refused it and why.',
  "- **Copied owner records.** A floating IP whose description carries this Service's record but",
  "  whose name is none of the Service's (someone copied the description onto another floating IP)",
  '  and that is attached to an instance which is not a Node of this cluster is never detached or',
  '  deleted, not even with the Service: that instance may serve something outside Kubernetes. A',
  '  Warning event `FloatingIPOutsideCluster` names the floating IP and the instance, once. The',
  "  Service's own floating IPs (its record and its name) move from any instance, as the one on a",
  "  deleted Node's instance must.",
  '',
  '## Input',
  '',
  '- **Addresses** are read as addresses, not text: `2001:DB8:0::1` is `2001:db8::1` and the',
  '  IPv4-mapped `::ffff:192.0.2.10` is `192.0.2.10`, for ownership as for creation. A zone id',
  '  (`fe80::1%eth0`) is no address Oxide takes: invalid input, like any other invalid value.',
  '- **Invalid values** are quoted in the Warning cut to 120 characters with their length',
  '  (`"ppp…"… (100000 characters)`); no Event message exceeds 1024 characters.',
  '- **Unknown keys** under `oxide.computer/` (a typo such as `oxide.computer/floating-ipp`) do',
  '  not stop the Service, which is served as if they were absent; a Warning event',
  '  `UnknownAnnotation` names them, once per distinct set of unknown keys (not at every resync).',
  '',
];

/** docs/annotations.md, generated from the declarations above. */
export function renderAnnotationDocs(): string {
  const lines = [
    '# Service annotations',
    '',
    '<!-- Generated from src/cloud/oxide/load-balancer/annotations.ts by renderAnnotationDocs();',
    '     a test fails when this file and the declarations differ. Edit the declarations, then run',
    '     `UPDATE_DOCS=1 node_modules/.bin/node --test src/cloud/oxide/load-balancer/annotations.test.ts`. -->',
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
