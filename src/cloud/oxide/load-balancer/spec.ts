// Step 1, spec: what a Service asks of the Oxide load balancer, read once from the Service alone
// (no API calls): its owner reference, the floating IPs it should own or use and how each is
// allocated, and the firewall rules it wants. The annotations are read here and nowhere else.
// Every configuration problem is found here, before anything is created or deleted; which
// existing FIPs are the Service's is decided by ownership (ownership.ts), not here.
import type { V1Service } from '@kubernetes/client-node';
import { parseIp } from '../../../net/ip.ts';
import { quote } from '../../../util/quote.ts';
import { InvalidServiceConfigError } from '../../provider.ts';
import type { ClusterIdentity } from '../cluster.ts';
import {
  FLOATING_IP,
  FLOATING_IP_NAME,
  FLOATING_IP_POOL,
  FLOATING_IP_VERSION,
  IP_PROBLEM,
} from './annotations.ts';
import type { AnnotationResult, IpVersion, LoadBalancerAnnotations } from './annotations.ts';
import { readAnnotations, unknownAnnotations } from './annotations.ts';
import { secondFamilyName, serviceRef } from './owner.ts';
import type { NamedFloatingIpPolicy, Role, ServiceRef } from './owner.ts';

const MAX_NAME = 63;

/**
 * The `spec.loadBalancerClass` handled besides "unset", so a cluster whose default load balancer
 * is someone else's (MetalLB, Cilium) can still opt single Services into Oxide floating IPs.
 */
export const LOAD_BALANCER_CLASS = 'oxide.computer/floating-ip';

/**
 * `<cluster>-<namespace>-<name>`, cut to 63 characters, trailing `-` trimmed: exactly the Go CCM's
 * GetLoadBalancerName (no lowercasing or other sanitising), so its FIPs are adopted by name.
 * Kubernetes names are ASCII, so cutting UTF-16 units equals Go's byte slice.
 */
export function loadBalancerName(clusterName: string, service: V1Service): string {
  const name = `${clusterName}-${service.metadata?.namespace ?? ''}-${service.metadata?.name ?? ''}`;
  return name.slice(0, MAX_NAME).replace(/-+$/, '');
}

export type Allocation =
  | { type: 'explicit'; ip: string }
  | { type: 'pool'; pool: string }
  | {
      type: 'default';
      /** From oxide.computer/floating-ip-version: an adopted FIP of the other family is recreated. */
      version?: IpVersion | undefined;
      /**
       * Without the annotation, the Service's own family (spec.ipFamilies[0]) is asked for at
       * creation, so a silo with default pools of both versions still works (the Go CCM sends no
       * version and fails there); never a reason to recreate an adopted FIP.
       */
      preferVersion?: IpVersion | undefined;
    };

export interface DesiredFloatingIp {
  /** The Go-compatible FIP name; for a user's FIP, the name or UUID from the annotation. */
  name: string;
  role: Role;
  /** False for a user's FIP (oxide.computer/floating-ip-name): attached, never created/deleted. */
  owned: boolean;
  /** How an owned FIP is allocated; undefined for a user's FIP. */
  allocation?: Allocation | undefined;
  /** In a dual-stack Service, the family this FIP must have. */
  family?: IpVersion | undefined;
}

/** The firewall rules a Service wants (oxide.computer/firewall). */
export interface FirewallSpec {
  /** Allowed source CIDRs; empty: everywhere. */
  sourceRanges: string[];
  /** The Service `port`s per protocol, sorted, each once; SCTP has no Oxide equivalent. */
  ports: { tcp: string[]; udp: string[] };
  /** `<namespace>/<name>`, for the rules' description. */
  service: string;
}

export interface LoadBalancerSpec {
  ref: ServiceRef;
  /** The Go-compatible `<cluster>-<namespace>-<name>`. */
  baseName: string;
  /** In status order: primary family first. */
  floatingIps: DesiredFloatingIp[];
  /** Undefined: no rules wanted (and any left over are removed). */
  firewall: FirewallSpec | undefined;
  /** oxide.computer/project; undefined: the default project. */
  project: string | undefined;
  /** `oxide.computer/` annotation keys nothing reads (typos), sorted. */
  unknownAnnotations: string[];
}

export interface SpecDefaults {
  /** Default of oxide.computer/firewall (--oxide-lb-firewall). */
  firewall: boolean;
  /** Which FIPs oxide.computer/floating-ip-name may name (--oxide-lb-named-floating-ips). */
  namedFloatingIps: NamedFloatingIpPolicy;
}

export const familyOf = (ip: string): IpVersion => (parseIp(ip)?.family === 6 ? 'v6' : 'v4');

/**
 * Canonical text of an address (net/ip.ts), so `2001:DB8:0::1` equals `2001:db8::1` and
 * `::ffff:192.0.2.1` equals `192.0.2.1`; text that is no address is returned as it is.
 */
export function canonicalIp(ip: string): string {
  return parseIp(ip)?.address ?? ip;
}

function unwrap<T>(result: AnnotationResult<T>): T {
  if ('error' in result) throw new InvalidServiceConfigError(result.error);
  return result.value;
}

/** Deletion reads an invalid annotation as unset: a Service must go away whatever it says. */
const valueOrUnset = <T>(result: AnnotationResult<T>): T | undefined =>
  'value' in result ? result.value : undefined;

const toVersion = (family: string): IpVersion => (family === 'IPv6' ? 'v6' : 'v4');

/** Families of a dual-stack Service in spec order; undefined for a single-stack one. */
function dualStackFamilies(service: V1Service): [IpVersion, IpVersion] | undefined {
  const policy = service.spec?.ipFamilyPolicy;
  const families = service.spec?.ipFamilies ?? [];
  if (policy !== 'PreferDualStack' && policy !== 'RequireDualStack') return undefined;
  const [first, second] = families;
  if (first === undefined || second === undefined || first === second) return undefined;
  return [toVersion(first), toVersion(second)];
}

/** Throws InvalidServiceConfigError naming the annotation or field at fault. */
export function loadBalancerSpec(
  cluster: ClusterIdentity,
  service: V1Service,
  defaults: SpecDefaults,
): LoadBalancerSpec {
  const annotations = readAnnotations(service.metadata?.annotations);
  const baseName = loadBalancerName(cluster.name, service);
  const project = unwrap(annotations.project);
  const floatingIps = desiredFloatingIps(service, baseName, annotations, defaults);
  // Source ranges are checked only when rules are wanted, after the floating IPs.
  const firewall =
    (unwrap(annotations.firewall) ?? defaults.firewall) ? firewallSpec(service) : undefined;
  return {
    ref: serviceRef(cluster, service),
    baseName,
    floatingIps,
    firewall,
    project,
    unknownAnnotations: unknownAnnotations(service.metadata?.annotations),
  };
}

function desiredFloatingIps(
  service: V1Service,
  baseName: string,
  annotations: LoadBalancerAnnotations,
  defaults: SpecDefaults,
): DesiredFloatingIp[] {
  const annotatedIp = unwrap(annotations.floatingIp);
  const pool = unwrap(annotations.pool);
  const version = unwrap(annotations.version);
  const userName = unwrap(annotations.floatingIpName);
  // Every annotation value is checked before any combination.
  unwrap(annotations.firewall);

  const specText = service.spec?.loadBalancerIP?.trim() || undefined;
  const specIp = specText === undefined ? undefined : parseIp(specText)?.address;
  if (specText !== undefined && specIp === undefined) {
    throw new InvalidServiceConfigError(
      `spec.loadBalancerIP: invalid value ${quote(specText)}: ${IP_PROBLEM}`,
    );
  }
  // Both are canonical (readFloatingIp, parseIp): equal text is the same address.
  if (specIp && annotatedIp && specIp !== annotatedIp) {
    throw new InvalidServiceConfigError(
      `annotation ${FLOATING_IP.name} (${annotatedIp}) and spec.loadBalancerIP (${specIp}) differ`,
    );
  }
  const ip = annotatedIp ?? specIp;
  const ipSource = annotatedIp ? `annotation ${FLOATING_IP.name}` : 'spec.loadBalancerIP';

  if (userName && (ip || pool || version)) {
    throw new InvalidServiceConfigError(
      `annotation ${FLOATING_IP_NAME.name} is mutually exclusive with ${FLOATING_IP.name} ` +
        `(and spec.loadBalancerIP), ${FLOATING_IP_POOL.name} and ${FLOATING_IP_VERSION.name}`,
    );
  }
  // The Go CCM's two checks and messages.
  if (ip && (pool || version)) {
    throw new InvalidServiceConfigError(
      `${ipSource} is mutually exclusive with annotations ${FLOATING_IP_POOL.name} and ` +
        `${FLOATING_IP_VERSION.name}`,
    );
  }
  if (pool && version) {
    throw new InvalidServiceConfigError(
      `annotation ${FLOATING_IP_POOL.name} is mutually exclusive with ${FLOATING_IP_VERSION.name}`,
    );
  }

  if (userName && defaults.namedFloatingIps === 'none') {
    throw new InvalidServiceConfigError(
      `annotation ${FLOATING_IP_NAME.name} is turned off in this cluster ` +
        '(--oxide-lb-named-floating-ips=none)',
    );
  }

  if (userName) return [{ name: userName, role: 'primary', owned: false }];

  const dual = dualStackFamilies(service);
  if (!dual) {
    const allocation: Allocation = ip
      ? { type: 'explicit', ip }
      : pool
        ? { type: 'pool', pool }
        : {
            type: 'default',
            version,
            preferVersion: service.spec?.ipFamilies?.[0]
              ? toVersion(service.spec.ipFamilies[0])
              : undefined,
          };
    return [{ name: baseName, role: 'primary', owned: true, allocation }];
  }

  if (version) {
    throw new InvalidServiceConfigError(
      `annotation ${FLOATING_IP_VERSION.name} cannot be used on a dual-stack Service ` +
        '(it gets one floating IP per IP family)',
    );
  }
  const [primary, second] = dual;
  const allocationFor = (family: IpVersion, isPrimary: boolean): Allocation => {
    if (ip && familyOf(ip) === family) return { type: 'explicit', ip };
    // A pool has one version; it serves the primary family (checked once the pool is known).
    if (pool && isPrimary) return { type: 'pool', pool };
    return { type: 'default', version: family };
  };
  return [
    {
      name: baseName,
      role: 'primary',
      owned: true,
      allocation: allocationFor(primary, true),
      family: primary,
    },
    {
      name: secondFamilyName(baseName, second),
      role: second,
      owned: true,
      allocation: allocationFor(second, false),
      family: second,
    },
  ];
}

/** What deleting a Service reads; never throws (see valueOrUnset). */
export interface DeletionSpec {
  ref: ServiceRef;
  baseName: string;
  /** Whether the Service's rules may be in the VPCs of its FIPs' targets. */
  firewall: boolean;
  /** oxide.computer/floating-ip-name: a user's FIP to detach when it is marked for the Service. */
  floatingIpName: string | undefined;
}

export function deletionSpec(
  cluster: ClusterIdentity,
  service: V1Service,
  defaults: Pick<SpecDefaults, 'firewall'>,
): DeletionSpec {
  const annotations = readAnnotations(service.metadata?.annotations);
  return {
    ref: serviceRef(cluster, service),
    baseName: loadBalancerName(cluster.name, service),
    firewall: valueOrUnset(annotations.firewall) ?? defaults.firewall,
    floatingIpName: valueOrUnset(annotations.floatingIpName),
  };
}

/** Upstream's fallback when spec.loadBalancerSourceRanges is empty. */
export const SOURCE_RANGES_ANNOTATION = 'service.beta.kubernetes.io/load-balancer-source-ranges';

function firewallSpec(service: V1Service): FirewallSpec {
  const portsOf = (protocol: 'tcp' | 'udp') =>
    [
      ...new Set(
        (service.spec?.ports ?? [])
          .filter((p) => (p.protocol ?? 'TCP').toLowerCase() === protocol)
          .map((p) => String(p.port)),
      ),
    ].sort((a, b) => Number(a) - Number(b));
  return {
    sourceRanges: sourceRanges(service),
    ports: { tcp: portsOf('tcp'), udp: portsOf('udp') },
    service: `${service.metadata?.namespace}/${service.metadata?.name}`,
  };
}

function isCidr(text: string): boolean {
  const [address, prefix, ...rest] = text.split('/');
  if (
    rest.length > 0 ||
    address === undefined ||
    prefix === undefined ||
    !/^\d{1,3}$/.test(prefix)
  ) {
    return false;
  }
  // parseIp refuses zone ids (node:net's isIP takes them; Oxide's rules do not). A mapped IPv4
  // (`::ffff:10.0.0.0/104`) is refused too: its prefix counts IPv6 bits.
  const ip = parseIp(address);
  if (ip === undefined || (ip.family === 4) === address.includes(':')) return false;
  return Number(prefix) <= (ip.family === 4 ? 32 : 128);
}

/** The allowed source CIDRs (empty: everywhere); throws InvalidServiceConfigError on a bad one. */
function sourceRanges(service: V1Service): string[] {
  const fromSpec = service.spec?.loadBalancerSourceRanges ?? [];
  const raw = fromSpec.length
    ? fromSpec
    : (service.metadata?.annotations?.[SOURCE_RANGES_ANNOTATION] ?? '').split(',');
  const ranges = raw.map((r) => r.trim()).filter((r) => r !== '');
  for (const r of ranges) {
    if (!isCidr(r)) {
      const field = fromSpec.length
        ? 'spec.loadBalancerSourceRanges'
        : `annotation ${SOURCE_RANGES_ANNOTATION}`;
      throw new InvalidServiceConfigError(`${field}: ${quote(r)} is not a CIDR`);
    }
  }
  return ranges;
}
