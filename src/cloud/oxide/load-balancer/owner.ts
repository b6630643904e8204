// Who owns a floating IP, decided only from what a tenant cannot write: the FIP's description in
// Oxide (only the CCM and the project's Oxide users can set it) and the Service's UID (assigned
// by the apiserver), and between clusters sharing the project the cluster identity in the record
// (cluster.ts). Names are not ownership: `p6/a-b` and `p6-a/b` both map to `kubernetes-p6-a-b`,
// two clusters may both have `p6/a-b` under one --cluster-name, and a tenant may name any FIP by
// annotation. Pure functions; the load balancer applies them. The rules are written out in
// docs/annotations.md ("Ownership") and docs/clusters.md.
import { createHash } from 'node:crypto';
import type { V1Service } from '@kubernetes/client-node';
import { InvalidServiceConfigError } from '../../provider.ts';
import {
  CLUSTER_ID_TOKEN,
  UNKNOWN_CLUSTER_ID,
  clusterIdIn,
  identityToken,
  membershipOf,
  membershipOfId,
} from '../cluster.ts';
import type { ClusterIdentity } from '../cluster.ts';
import type { IpVersion } from './annotations.ts';

/** The Go CCM's description: alone, it marks a FIP the Go CCM (or we, before owners) created. */
export const FLOATING_IP_DESCRIPTION = 'Managed by oxide-cloud-controller-manager.';

const OWNER_UID = 'service-uid=';
const OWNER_SERVICE = 'service=';
/** In a user's FIP description: the one Service that may name it by annotation. */
export const USER_FIP_MARK = 'k8s-service=';

const MAX_NAME = 63;

/** A Service as ownership sees it. `key` is `<cluster-name>/<namespace>/<name>`. */
export interface ServiceRef {
  uid: string;
  key: string;
  /** The cluster the Service lives in (cluster.ts). */
  cluster: ClusterIdentity;
  /** creationTimestamp in ms since the epoch; undefined only for hand-made objects. */
  created?: number | undefined;
}

export function serviceRef(cluster: ClusterIdentity, service: V1Service): ServiceRef {
  const namespace = service.metadata?.namespace ?? '';
  const name = service.metadata?.name ?? '';
  const key = `${cluster.name}/${namespace}/${name}`;
  const created = service.metadata?.creationTimestamp;
  // Every Service from the apiserver has a UID; the fallback only serves hand-made objects.
  return {
    uid: service.metadata?.uid || key,
    key,
    cluster,
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
 * Description of a FIP this Service owns: the Go CCM's text, then the owner's UID (which decides
 * within a cluster), its cluster/namespace/name (for operators, and to reclaim a FIP whose
 * Service was deleted without us and re-created under the same name) and its cluster's identity
 * (which decides between clusters). The identity comes last: v0.8 read the first two tokens
 * only, so a rollback to it still reads the owner.
 */
export function ownedDescription(ref: ServiceRef): string {
  return (
    `${FLOATING_IP_DESCRIPTION} ${OWNER_UID}${ref.uid} ${OWNER_SERVICE}${ref.key}` +
    identityToken(ref.cluster)
  );
}

export type Owner =
  /** Not ours (a user's FIP, or another tool's). */
  | { kind: 'user' }
  /** Exactly the Go CCM's text: created by it (or by us before owners), adoptable once. */
  | { kind: 'unclaimed' }
  /** `clusterId` undefined: written before cluster identities (v0.8). */
  | { kind: 'service'; uid: string; key: string; clusterId: string | undefined }
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
  const id = tokens.find((t) => t.startsWith(CLUSTER_ID_TOKEN));
  return { kind: 'service', uid, key, clusterId: id?.slice(CLUSTER_ID_TOKEN.length) };
}

/** The cluster name of a record's `service=<cluster-name>/<namespace>/<name>`. */
const clusterNameOfKey = (key: string): string => key.slice(0, key.indexOf('/'));

/**
 * The identity of another cluster that records in this list name under this cluster's name, if
 * any: two clusters share the --cluster-name in one project. Then a record without an identity
 * (written before identities) may be either's, so it is nobody's to take over (relationOf).
 */
export function otherIdentityNamed(
  owners: Iterable<Owner>,
  cluster: ClusterIdentity,
): string | undefined {
  for (const owner of owners) {
    if (owner.kind !== 'service' || owner.clusterId === undefined) continue;
    if (owner.clusterId !== cluster.id && clusterNameOfKey(owner.key) === cluster.name) {
      return owner.clusterId;
    }
  }
  return undefined;
}

/**
 * What a FIP is to one Service:
 * - `mine`: its description carries this Service's UID, and this cluster's identity or none;
 * - `orphan`: it carries another UID but this Service's cluster/namespace/name, so it belonged to
 *   an earlier Service of this name that is gone (two Services of one name cannot coexist), whose
 *   deletion we missed (finalizer removed by hand): this Service may take it over;
 * - `unclaimed`: a Go CCM FIP, adoptable by the Service whose generated name it has;
 * - `other`: another Service's, another cluster's (or unreadable): never touched for this Service;
 * - `user`: not the CCM's; usable only through the annotation, under the operator's policy.
 *
 * Between clusters, the identity decides: a record naming another cluster's is `other`, even
 * with this Service's name (two clusters of one --cluster-name both have `same/web`). A record
 * naming none (written before identities, by v0.8 or the Go CCM) is taken over as an orphan or
 * adopted as unclaimed only while `shared` is false, i.e. no record in the project names another
 * identity under this cluster name: then it can only be this cluster's.
 */
export type Relation = 'mine' | 'orphan' | 'unclaimed' | 'other' | 'user';

export function relationOf(description: string, ref: ServiceRef, shared = false): Relation {
  return relationOfOwner(ownerOf(description), ref, shared);
}

/** relationOf from a record already read (ownerOf), for a list read once for many Services. */
export function relationOfOwner(owner: Owner, ref: ServiceRef, shared = false): Relation {
  switch (owner.kind) {
    case 'user':
      return 'user';
    case 'unclaimed':
      return shared ? 'other' : 'unclaimed';
    case 'unknown':
      return 'other';
    case 'service': {
      const membership = membershipOfId(owner.clusterId, ref.cluster);
      // Without its own identity, a cluster still knows its Service UIDs (unique everywhere).
      if (owner.uid === ref.uid && ref.cluster.id === UNKNOWN_CLUSTER_ID) return 'mine';
      if (membership === 'other') return 'other';
      // A Service UID is unique across clusters: a legacy record with it is this Service's.
      if (owner.uid === ref.uid) return 'mine';
      if (owner.key !== ref.key) return 'other';
      return membership === 'this' || !shared ? 'orphan' : 'other';
    }
  }
}

/** Whether a FIP this Service owns still needs its record written (an earlier version's). */
export const needsRecord = (description: string, ref: ServiceRef): boolean =>
  description.trim() !== ownedDescription(ref) &&
  // Without its identity, the CCM never strips one from a record of its own.
  !(ref.cluster.id === UNKNOWN_CLUSTER_ID && clusterIdIn(description) !== undefined);

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
 * Oxide descriptions; tenants cannot) states which one Service may use it. A `cluster-id=` token
 * in it must be this cluster's; without one, the mark is ambiguous (refused) while `shared` (two
 * clusters of this name in the project, see otherIdentityNamed).
 */
export function markedFor(description: string, ref: ServiceRef, shared = false): boolean {
  const marks = description.split(/\s+/).filter((t) => t.startsWith(USER_FIP_MARK));
  if (marks.length !== 1 || marks[0] !== `${USER_FIP_MARK}${ref.key}`) return false;
  const membership = membershipOf(description, ref.cluster);
  return membership === 'this' || (membership === 'legacy' && !shared);
}

/**
 * The Service asks for a FIP another Service owns (or one it may not name). Nothing was created,
 * attached, detached or deleted for it; it is retried when the Service changes or at the
 * periodic resync (the owner may have gone). The message never names the other Service.
 */
export class FloatingIpConflictError extends InvalidServiceConfigError {}
