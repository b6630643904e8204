// What a Service asks of the Oxide load balancer, computed from the Service alone (no API calls):
// the floating IPs it should own or use and how each is allocated. Every configuration problem is
// found here, before anything is created or deleted; which existing FIPs are the Service's is
// decided by ownership (load-balancer-owner.ts), not here.
import { isIP } from 'node:net';
import type { V1Service } from '@kubernetes/client-node';
import { InvalidServiceConfigError } from '../../provider.ts';
import {
  FLOATING_IP,
  FLOATING_IP_NAME,
  FLOATING_IP_POOL,
  FLOATING_IP_VERSION,
  readFirewall,
  readFloatingIp,
  readFloatingIpName,
  readFloatingIpPool,
  readFloatingIpVersion,
} from './annotations.ts';
import type { AnnotationResult, IpVersion } from './annotations.ts';
import type { NamedFloatingIpPolicy, Role } from './owner.ts';

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

/**
 * Name of a dual-stack Service's second-family FIP: `<base cut to 58>-IPv4|-IPv6`. The uppercase
 * suffix cannot come out of a Kubernetes name (always lowercase), so it never collides with the
 * primary FIP of another Service such as `<name>-v6`.
 */
export function secondFamilyName(base: string, family: IpVersion): string {
  const suffix = family === 'v4' ? '-IPv4' : '-IPv6';
  return `${base.slice(0, MAX_NAME - suffix.length).replace(/-+$/, '')}${suffix}`;
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

export interface LoadBalancerSpec {
  /** The Go-compatible `<cluster>-<namespace>-<name>`. */
  baseName: string;
  /** In status order: primary family first. */
  floatingIps: DesiredFloatingIp[];
  firewall: boolean;
}

export const familyOf = (ip: string): IpVersion => (isIP(ip) === 6 ? 'v6' : 'v4');

/** Canonical text of an address, so `2001:DB8:0::1` equals `2001:db8::1`. */
export function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

function unwrap<T>(result: AnnotationResult<T>): T {
  if ('error' in result) throw new InvalidServiceConfigError(result.error);
  return result.value;
}

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
  clusterName: string,
  service: V1Service,
  firewallDefault: boolean,
  namedPolicy: NamedFloatingIpPolicy = 'marked',
): LoadBalancerSpec {
  const annotations = service.metadata?.annotations;
  const annotatedIp = unwrap(readFloatingIp(annotations));
  const pool = unwrap(readFloatingIpPool(annotations));
  const version = unwrap(readFloatingIpVersion(annotations));
  const userName = unwrap(readFloatingIpName(annotations));
  const firewall = unwrap(readFirewall(annotations)) ?? firewallDefault;

  const specIp = service.spec?.loadBalancerIP?.trim() || undefined;
  if (specIp !== undefined && !isIP(specIp)) {
    throw new InvalidServiceConfigError(
      `spec.loadBalancerIP: invalid value ${JSON.stringify(specIp)}: not an IPv4 or IPv6 address`,
    );
  }
  if (specIp && annotatedIp && canonicalIp(specIp) !== canonicalIp(annotatedIp)) {
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

  if (userName && namedPolicy === 'none') {
    throw new InvalidServiceConfigError(
      `annotation ${FLOATING_IP_NAME.name} is turned off in this cluster ` +
        '(--oxide-lb-named-floating-ips=none)',
    );
  }

  const baseName = loadBalancerName(clusterName, service);
  if (userName) {
    return {
      baseName,
      floatingIps: [{ name: userName, role: 'primary', owned: false }],
      firewall,
    };
  }

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
    return {
      baseName,
      floatingIps: [{ name: baseName, role: 'primary', owned: true, allocation }],
      firewall,
    };
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
  const secondName = secondFamilyName(baseName, second);
  return {
    baseName,
    floatingIps: [
      {
        name: baseName,
        role: 'primary',
        owned: true,
        allocation: allocationFor(primary, true),
        family: primary,
      },
      {
        name: secondName,
        role: second,
        owned: true,
        allocation: allocationFor(second, false),
        family: second,
      },
    ],
    firewall,
  };
}
