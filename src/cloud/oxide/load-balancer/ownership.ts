// Step 2, ownership: which of the project's FIPs serve a Service, decided from the FIP list
// alone by the rules in owner.ts, before anything is written. Everything the Service may not
// have (another Service's FIP or address, a user's FIP not marked for it) is refused here, so a
// refusal never leaves half a change behind. Pure apart from logging what only operators read.
// Owner records can be copied: a FIP whose description names the Service but whose name is none
// of the Service's (`held`) is never detached from an instance that is not a Node of this
// cluster, since that instance may serve something outside Kubernetes; it is left attached and
// reported. The Service's own FIPs (its record and its name) move from wherever they are, as a
// FIP on the instance of a deleted Node must.
import type { FloatingIp } from '@oxide/api';
import type { Logger } from '../../../log.ts';
import { FLOATING_IP, FLOATING_IP_NAME } from './annotations.ts';
import {
  FloatingIpConflictError,
  USER_FIP_MARK,
  markedFor,
  mayClaimUnclaimed,
  needsRecord,
  otherIdentityNamed,
  ownerOf,
  relationOfOwner,
  roleNames,
  roleOf,
} from './owner.ts';
import type { Owner, Relation, Role, ServiceRef } from './owner.ts';
import { canonicalIp } from './spec.ts';
import type { DeletionSpec, DesiredFloatingIp, LoadBalancerSpec } from './spec.ts';
import { staleView } from './stale-view.ts';

/** What one desired FIP of a Service resolves to, decided before anything is written. */
export interface Planned {
  d: DesiredFloatingIp;
  /** The existing FIP the Service uses; undefined: create one named `createName`. */
  fip: FloatingIp | undefined;
  /**
   * Write the Service's record into it before use: a Go CCM FIP of the Service's name, an orphan
   * of its name, or its own FIP whose record an earlier version wrote (once, on upgrade).
   */
  claim: boolean;
  createName: string;
}

export interface Plan {
  planned: Planned[];
  /** FIPs the Service owns and no longer uses. */
  stale: FloatingIp[];
  /** FIPs with the Service's record but not its name, attached outside the cluster: left alone. */
  held: FloatingIp[];
}

export interface PlanContext {
  /** The Oxide project, named in refusals. */
  project: string;
  log: Logger;
  /**
   * Told, at each plan, which other cluster identity records of the project name under this
   * cluster's name (undefined: none): two clusters share the --cluster-name (same-name.ts).
   */
  sharedName?: ((otherId: string | undefined) => void) | undefined;
  /** Whether an instance is a Node of this cluster; absent: every instance may be. */
  onNode?: ((instanceId: string) => boolean) | undefined;
}

/**
 * Relations of every FIP to the Service, and whether the cluster name is shared with another
 * cluster (then records without an identity are nobody's to take: owner.ts relationOf).
 */
function relations(
  fips: readonly FloatingIp[],
  ref: ServiceRef,
  ctx: Pick<PlanContext, 'sharedName'>,
): { rel: (f: FloatingIp) => Relation; shared: boolean } {
  const owners = fips.map(recordOf);
  const other = otherIdentityNamed(owners, ref.cluster);
  ctx.sharedName?.(other);
  const shared = other !== undefined;
  const relation = new Map<string, Relation>(
    fips.map((f, i) => [f.id, relationOfOwner(owners[i]!, ref, shared)]),
  );
  return { rel: (f) => relation.get(f.id) ?? 'other', shared };
}

/**
 * Each FIP's record, read once per FIP object: the view hands every reconcile the same objects
 * until it lists again (or a write replaces one), so a pass over N Services reads each record
 * once, not N times.
 */
const records = new WeakMap<FloatingIp, Owner>();
function recordOf(fip: FloatingIp): Owner {
  let owner = records.get(fip);
  if (owner === undefined) {
    owner = ownerOf(fip.description);
    records.set(fip, owner);
  }
  return owner;
}

/**
 * A FIP with the Service's owner record (`mine` or `orphan`) but none of its names, attached to
 * an instance that is not a Node of this cluster: a copied description, never acted on.
 */
function heldOutside(
  f: FloatingIp,
  names: ReadonlySet<string>,
  ctx: Pick<PlanContext, 'onNode'>,
): boolean {
  return Boolean(f.instanceId && ctx.onNode && !names.has(f.name) && !ctx.onNode(f.instanceId));
}

/** Every name a FIP of this Service may have: plain and alternative, for each role. */
function serviceNames(base: string, uid: string): Set<string> {
  const roles: Role[] = ['primary', 'v4', 'v6'];
  return new Set(roles.flatMap((r) => Object.values(roleNames(base, r, uid))));
}

/**
 * Which existing FIP (or new name) serves each desired FIP, by ownership. Throws
 * FloatingIpConflictError when the Service asks for what is not its own; writes nothing.
 */
export function planFloatingIps(
  spec: LoadBalancerSpec,
  fips: readonly FloatingIp[],
  ctx: PlanContext,
): Plan {
  const { ref } = spec;
  const { rel, shared } = relations(fips, ref, ctx);
  const names = serviceNames(spec.baseName, ref.uid);
  const recorded = fips.filter((f) => rel(f) === 'mine' || rel(f) === 'orphan');
  const held = recorded.filter((f) => heldOutside(f, names, ctx));
  const own = recorded.filter((f) => !held.includes(f));
  const used = new Set<string>();
  const planned = spec.floatingIps.map((d): Planned => {
    if (!d.owned) return planNamed(d, ref, fips, rel, shared, ctx);
    const names = roleNames(spec.baseName, d.role, ref.uid);
    // Its own FIP of this role, whatever its name: a UID match before an orphan, plain first.
    const rank = (f: FloatingIp) => (rel(f) === 'mine' ? 0 : 2) + (f.name === names.plain ? 0 : 1);
    const pick = own
      .filter((f) => roleOf(f.name) === d.role && !used.has(f.id))
      .sort((a, b) => rank(a) - rank(b))[0];
    let result: Planned;
    if (pick) {
      const claim = rel(pick) === 'orphan' || needsRecord(pick.description, ref);
      result = { d, fip: pick, claim, createName: pick.name };
    } else {
      const atPlain = fips.find((f) => f.name === names.plain);
      if (!atPlain) {
        result = { d, fip: undefined, claim: false, createName: names.plain };
      } else if (rel(atPlain) === 'unclaimed' && mayClaimUnclaimed(atPlain.timeCreated, ref)) {
        result = { d, fip: atPlain, claim: true, createName: names.plain };
      } else if (!fips.some((f) => f.name === names.alternative)) {
        ctx.log.info(
          { service: ref.key, floatingIp: names.alternative, taken: names.plain },
          'generated floating IP name held by a floating IP the Service does not own; using its alternative',
        );
        result = { d, fip: undefined, claim: false, createName: names.alternative };
      } else {
        throw new FloatingIpConflictError(
          `floating IP names ${names.plain} and ${names.alternative} are both held by ` +
            'floating IPs this Service does not own',
        );
      }
    }
    if (result.fip) used.add(result.fip.id);
    checkAddress(d, result.fip, fips, rel, ctx);
    return result;
  });
  return { planned, stale: own.filter((f) => !used.has(f.id)), held };
}

/** An address asked for (annotation or spec.loadBalancerIP) that another FIP holds is refused. */
function checkAddress(
  d: DesiredFloatingIp,
  fip: FloatingIp | undefined,
  fips: readonly FloatingIp[],
  rel: (f: FloatingIp) => Relation,
  ctx: PlanContext,
): void {
  if (d.allocation?.type !== 'explicit') return;
  const ip = canonicalIp(d.allocation.ip);
  const holder = fips.find((f) => canonicalIp(f.ip) === ip);
  if (!holder || holder.id === fip?.id || rel(holder) === 'mine' || rel(holder) === 'orphan') {
    return;
  }
  throw new FloatingIpConflictError(
    `address ${d.allocation.ip} (${FLOATING_IP.name} or spec.loadBalancerIP) is held by a ` +
      `floating IP in project ${ctx.project} that this Service does not own`,
  );
}

/**
 * A user's FIP named by annotation: only one the operator marked for this Service. One message
 * for "missing", "another Service's" and "not marked", so that naming FIPs cannot be used to
 * learn which exist; the log, which only operators read, says which.
 */
function planNamed(
  d: DesiredFloatingIp,
  ref: ServiceRef,
  fips: readonly FloatingIp[],
  rel: (f: FloatingIp) => Relation,
  shared: boolean,
  ctx: PlanContext,
): Planned {
  const fip = fips.find((f) => f.name === d.name || f.id === d.name);
  const message =
    `floating IP ${JSON.stringify(d.name)} (annotation ${FLOATING_IP_NAME.name}) is not ` +
    `available to this Service: it must exist in project ${ctx.project}, not be ` +
    `managed by the cloud controller manager, and have ${USER_FIP_MARK}${ref.key} in its ` +
    'description';
  // The user may have just made it: the retry on a fresh list tells.
  if (!fip) throw staleView(new Error(message));
  if (rel(fip) !== 'user' || !markedFor(fip.description, ref, shared)) {
    ctx.log.info(
      { service: ref.key, floatingIp: fip.name, relation: rel(fip) },
      'refused floating IP named by annotation',
    );
    throw new FloatingIpConflictError(message);
  }
  return { d, fip, claim: false, createName: fip.name };
}

/** What deleting a Service touches. */
export interface DeletionPlan {
  /** Released: its FIPs by UID (or an orphan of its name), a Go CCM FIP of its generated name. */
  owned: FloatingIp[];
  /** A user's FIP marked for it: detached, never deleted. */
  named: FloatingIp | undefined;
  /** With its record but not its name, attached outside the cluster: neither detached nor deleted. */
  held: FloatingIp[];
  /** The names its firewall rules may be named after (see firewallRuleBase). */
  ruleNames: Set<string>;
}

/**
 * Only what the Service owns. Another Service's FIP is never detached or deleted, whatever this
 * Service's annotations say.
 */
export function planDeletion(
  spec: DeletionSpec,
  fips: readonly FloatingIp[],
  ctx: Pick<PlanContext, 'sharedName' | 'onNode'> = {},
): DeletionPlan {
  const { ref, baseName: base } = spec;
  const roles: Role[] = ['primary', 'v4', 'v6'];
  const plain = new Set(roles.map((r) => roleNames(base, r, ref.uid).plain));
  const { rel, shared } = relations(fips, ref, ctx);
  const names = serviceNames(base, ref.uid);
  const held: FloatingIp[] = [];
  const owned = fips.filter((f) => {
    if (rel(f) === 'unclaimed') return plain.has(f.name) && mayClaimUnclaimed(f.timeCreated, ref);
    if (rel(f) !== 'mine' && rel(f) !== 'orphan') return false;
    if (heldOutside(f, names, ctx)) held.push(f);
    return !held.includes(f);
  });
  const named = namedFip(fips, ref, spec.floatingIpName, rel, shared);

  // Rules are named after the primary FIP: its alternative name is this Service's alone, the
  // plain one only when no one else's FIP holds it.
  const ruleNames = new Set([roleNames(base, 'primary', ref.uid).alternative]);
  for (const f of owned) if (roleOf(f.name) === 'primary') ruleNames.add(f.name);
  if (named) ruleNames.add(named.name);
  const atBase = fips.find((f) => f.name === base);
  if (!atBase || owned.includes(atBase)) ruleNames.add(base);
  return { owned, named, held, ruleNames };
}

/** The FIP the annotation names, when it is a user's FIP marked for this Service. */
function namedFip(
  fips: readonly FloatingIp[],
  ref: ServiceRef,
  name: string | undefined,
  rel: (f: FloatingIp) => Relation,
  shared: boolean,
): FloatingIp | undefined {
  if (name === undefined) return undefined;
  return fips.find(
    (f) =>
      (f.name === name || f.id === name) &&
      rel(f) === 'user' &&
      markedFor(f.description, ref, shared),
  );
}
