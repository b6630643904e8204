// Who owns a floating IP, decided only from what a tenant cannot write: the FIP's description in
// Oxide (only the CCM and the project's Oxide users can set it) and the Service's UID (assigned
// by the apiserver). Names are not ownership: `p6/a-b` and `p6-a/b` both map to
// `kubernetes-p6-a-b`, and a tenant may name any FIP by annotation. Pure functions; the load
// balancer applies them. The rules are written out in docs/annotations.md ("Ownership").
import { createHash } from 'node:crypto';
import type { V1Service } from '@kubernetes/client-node';
import { InvalidServiceConfigError } from '../../provider.ts';
import type { IpVersion } from './annotations.ts';

/** The Go CCM's description: alone, it marks a FIP the Go CCM (or we, before owners) created. */
export const FLOATING_IP_DESCRIPTION = 'Managed by oxide-cloud-controller-manager.';

const OWNER_UID = 'service-uid=';
const OWNER_SERVICE = 'service=';
/** In a user's FIP description: the one Service that may name it by annotation. */
export const USER_FIP_MARK = 'k8s-service=';

const MAX_NAME = 63;

/** A Service as ownership sees it. `key` is `<cluster>/<namespace>/<name>`. */
export interface ServiceRef {
  uid: string;
  key: string;
  /** creationTimestamp in ms since the epoch; undefined only for hand-made objects. */
  created?: number | undefined;
}

export function serviceRef(clusterName: string, service: V1Service): ServiceRef {
  const namespace = service.metadata?.namespace ?? '';
  const name = service.metadata?.name ?? '';
  const key = `${clusterName}/${namespace}/${name}`;
  const created = service.metadata?.creationTimestamp;
  // Every Service from the apiserver has a UID; the fallback only serves hand-made objects.
  return {
    uid: service.metadata?.uid || key,
    key,
    created: created === undefined ? undefined : new Date(created).getTime(),
  };
}

/** Clock difference tolerated between the apiserver and Oxide when comparing creation times. */
export const CLOCK_SKEW_MS = 60_000;

/**
 * Whether this Service may claim an unclaimed (Go CCM) FIP of its generated name: only if it
 * existed when the FIP was created. The Go CCM created it for the first Service of that name, so
 * a Service created afterwards (a colliding name, made later, perhaps to take it) is not its
 * owner and gets its alternative name instead, whatever order the reconciles run in.
 */
export function mayClaimUnclaimed(fipCreated: Date | string, ref: ServiceRef): boolean {
  if (ref.created === undefined) return true;
  return ref.created <= new Date(fipCreated).getTime() + CLOCK_SKEW_MS;
}

/**
 * Description of a FIP this Service owns: the Go CCM's text, then the owner's UID (which decides)
 * and its cluster/namespace/name (for operators, and to reclaim a FIP whose Service was deleted
 * without us and re-created under the same name).
 */
export function ownedDescription(ref: ServiceRef): string {
  return `${FLOATING_IP_DESCRIPTION} ${OWNER_UID}${ref.uid} ${OWNER_SERVICE}${ref.key}`;
}

export type Owner =
  /** Not ours (a user's FIP, or another tool's). */
  | { kind: 'user' }
  /** Exactly the Go CCM's text: created by it (or by us before owners), adoptable once. */
  | { kind: 'unclaimed' }
  | { kind: 'service'; uid: string; key: string }
  /** Starts like ours but carries no owner we can read: nobody may take it. */
  | { kind: 'unknown' };

export function ownerOf(description: string): Owner {
  const text = description.trim();
  if (text === FLOATING_IP_DESCRIPTION) return { kind: 'unclaimed' };
  if (!text.startsWith(FLOATING_IP_DESCRIPTION)) return { kind: 'user' };
  // Our own format only, token by token from a fixed position: the key's parts are DNS labels,
  // so nothing inside them can look like a token.
  const tokens = text.slice(FLOATING_IP_DESCRIPTION.length).trim().split(/\s+/);
  const uid = tokens[0]?.startsWith(OWNER_UID) ? tokens[0].slice(OWNER_UID.length) : '';
  const key = tokens[1]?.startsWith(OWNER_SERVICE) ? tokens[1].slice(OWNER_SERVICE.length) : '';
  if (uid === '') return { kind: 'unknown' };
  return { kind: 'service', uid, key };
}

/**
 * What a FIP is to one Service:
 * - `mine`: its description carries this Service's UID;
 * - `orphan`: it carries another UID but this Service's cluster/namespace/name, so it belonged to
 *   an earlier Service of this name that is gone (two Services of one name cannot coexist), whose
 *   deletion we missed (finalizer removed by hand): this Service may take it over;
 * - `unclaimed`: a Go CCM FIP, adoptable by the Service whose generated name it has;
 * - `other`: another Service's (or unreadable): never touched for this Service;
 * - `user`: not the CCM's; usable only through the annotation, under the operator's policy.
 */
export type Relation = 'mine' | 'orphan' | 'unclaimed' | 'other' | 'user';

export function relationOf(description: string, ref: ServiceRef): Relation {
  const owner = ownerOf(description);
  switch (owner.kind) {
    case 'user':
      return 'user';
    case 'unclaimed':
      return 'unclaimed';
    case 'unknown':
      return 'other';
    case 'service':
      if (owner.uid === ref.uid) return 'mine';
      return owner.key === ref.key ? 'orphan' : 'other';
  }
}

/** A FIP's place in a Service: its primary, or its second family's (dual-stack). */
export type Role = 'primary' | 'v4' | 'v6';

const ROLE_SUFFIX: Record<Role, string> = { primary: '', v4: '-IPv4', v6: '-IPv6' };

/** From the name: the second family's suffix is uppercase, which no Kubernetes name yields. */
export function roleOf(name: string): Role {
  if (name.endsWith(ROLE_SUFFIX.v4)) return 'v4';
  if (name.endsWith(ROLE_SUFFIX.v6)) return 'v6';
  return 'primary';
}

const cut = (text: string, length: number) => text.slice(0, length).replace(/-+$/, '');

/**
 * Name of a dual-stack Service's second-family FIP: `<base cut to 58>-IPv4|-IPv6`. The uppercase
 * suffix cannot come out of a Kubernetes name (always lowercase), so it never collides with the
 * primary FIP of another Service such as `<name>-v6`.
 */
export function secondFamilyName(base: string, family: IpVersion): string {
  const suffix = ROLE_SUFFIX[family];
  return `${cut(base, MAX_NAME - suffix.length)}${suffix}`;
}

/**
 * The names a Service's FIP of this role may have. `plain` is what the Go CCM produces (`base`
 * for the primary, `<base cut to 58>-IPv4|-IPv6` for the second family); `alternative` is used
 * only when `plain` is held by a FIP this Service does not own (names collide: `p6/a-b` and
 * `p6-a/b`, or the 63-character cut): `-H<8 hex of sha256(Service UID)>` before the family
 * suffix. Uppercase `H`, so no Kubernetes name produces it, and from the UID, so no tenant can
 * take another Service's alternative before it does.
 */
export function roleNames(
  base: string,
  role: Role,
  uid: string,
): { plain: string; alternative: string } {
  const suffix = ROLE_SUFFIX[role];
  const hash = `-H${createHash('sha256').update(uid).digest('hex').slice(0, 8)}`;
  return {
    plain: role === 'primary' ? base : secondFamilyName(base, role),
    alternative: `${cut(base, MAX_NAME - hash.length - suffix.length)}${hash}${suffix}`,
  };
}

/** Which FIPs a Service may name by `oxide.computer/floating-ip-name` (flag). */
export type NamedFloatingIpPolicy = 'marked' | 'none';
export const NAMED_FLOATING_IP_POLICIES: readonly NamedFloatingIpPolicy[] = ['marked', 'none'];
export const isNamedFloatingIpPolicy = (value: string): value is NamedFloatingIpPolicy =>
  (NAMED_FLOATING_IP_POLICIES as readonly string[]).includes(value);

/**
 * A user's FIP is this Service's to name when its description holds exactly one
 * `k8s-service=<cluster>/<namespace>/<name>` token, this Service's: the operator (who can write
 * Oxide descriptions; tenants cannot) states which one Service may use it.
 */
export function markedFor(description: string, ref: ServiceRef): boolean {
  const marks = description.split(/\s+/).filter((t) => t.startsWith(USER_FIP_MARK));
  return marks.length === 1 && marks[0] === `${USER_FIP_MARK}${ref.key}`;
}

/**
 * The Service asks for a FIP another Service owns (or one it may not name). Nothing was created,
 * attached, detached or deleted for it; it is retried when the Service changes or at the
 * periodic resync (the owner may have gone). The message never names the other Service.
 */
export class FloatingIpConflictError extends InvalidServiceConfigError {}
