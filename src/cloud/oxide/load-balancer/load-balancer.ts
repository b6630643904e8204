// `type: LoadBalancer` on Oxide: one floating IP per Service (two for dual-stack), 1:1-NATed to one
// target Node's instance. A drop-in for the Go CCM v0.7.1 (same FIP names, description,
// annotations, status), plus healthy-target failover, spread, dual-stack, firewall rules and a
// user-owned FIP. ensureLoadBalancer reads as a pipeline:
//   spec (from the Service, may reject it) → the shared FIP view → plan: which FIPs are the
//   Service's by ownership (load-balancer-owner.ts), refusing what another Service owns, before
//   any write → drop stale FIPs → per FIP: claim, create or recreate → choose target → attach →
//   firewall → status.
// Ownership, never the name, decides what a Service may use, detach or delete: a FIP is the
// Service's when its description carries the Service's UID (written at creation, or once when a
// Go CCM FIP of the Service's generated name is claimed).
// Calls per reconcile: only what changes. The project's FIP list (it carries instance_id) is one
// process-wide view (FloatingIpView) that all reconciles share for floatingIpTtlMs, so a pass
// over every Service lists once, not once per Service. Our own writes go through to the view at
// once; a change made by anyone else is seen within floatingIpTtlMs (default 1 s), or at once when
// one of our writes trips over it: ObjectAlreadyExists on create, a 400 on attach or delete, a 404
// on attach or detach, a lost claim throw the view away and run the reconcile once more on a
// fresh list.
import type { V1Node, V1Service } from '@kubernetes/client-node';
import type { AddressAllocator, FloatingIp } from '@oxide/api';
import type { Logger } from '../../../log.ts';
import { silentLogger } from '../../../log.ts';
import type { OxideClient } from '../../../oxide/client.ts';
import { isNotFound, isOxideError } from '../../../oxide/errors.ts';
import {
  FloatingIpView,
  IpPoolCache,
  attachFloatingIp,
  createFloatingIp,
  deleteFloatingIp,
  detachFloatingIp,
  updateFloatingIpDescription,
  viewFloatingIp,
} from '../../../oxide/floating-ips.ts';
import { InvalidServiceConfigError } from '../../provider.ts';
import type { LoadBalancer, LoadBalancerIngress, LoadBalancerStatus } from '../../provider.ts';
import { FLOATING_IP, FLOATING_IP_NAME, FLOATING_IP_POOL } from './annotations.ts';
import type { IpVersion } from './annotations.ts';
import { FirewallManager } from './vpc-firewall.ts';
import { desiredFirewallRules, firewallRuleBase } from './firewall-rules.ts';
import {
  FloatingIpConflictError,
  USER_FIP_MARK,
  markedFor,
  mayClaimUnclaimed,
  ownedDescription,
  relationOf,
  roleNames,
  roleOf,
} from './owner.ts';
import type { NamedFloatingIpPolicy, Relation, Role, ServiceRef } from './owner.ts';
import {
  canonicalIp,
  familyOf,
  deletionSpec,
  LOAD_BALANCER_CLASS,
  loadBalancerSpec,
} from './spec.ts';
import type {
  Allocation,
  DeletionSpec,
  DesiredFloatingIp,
  FirewallSpec,
  LoadBalancerSpec,
  SpecDefaults,
} from './spec.ts';
import { parseProviderID } from '../provider-id.ts';
import { PrimaryNicCache } from './target-nics.ts';
import { InstanceInventory } from '../../../oxide/inventory.ts';
import { chooseTarget } from './target.ts';

/** Oxide: at most 32 external IPs (floating + ephemeral; SNAT is extra) per instance. */
export const MAX_EXTERNAL_IPS_PER_INSTANCE = 32;

export interface OxideLoadBalancerOptions {
  client: OxideClient;
  /** Default of annotation oxide.computer/firewall. */
  firewall?: boolean;
  /** Which FIPs oxide.computer/floating-ip-name may name (--oxide-lb-named-floating-ips). */
  namedFloatingIps?: NamedFloatingIpPolicy;
  logger?: Logger;
  poolCacheTtlMs?: number;
  /** The provider's shared instance and NIC views; its own when omitted. */
  inventory?: InstanceInventory;
  firewallSnapshotTtlMs?: number;
  /**
   * How long one FIP list serves every reconcile (ms; 0 lists on each). Bounds how late a change
   * made outside this process (a user's edit) is seen; our own writes are seen at once.
   */
  floatingIpTtlMs?: number;
}

/** A write failed in a way the view cannot explain: someone else changed the FIPs. */
class StaleViewError extends Error {
  override readonly name = 'StaleViewError';
}

function staleView(err: unknown): StaleViewError {
  return new StaleViewError(err instanceof Error ? err.message : String(err), { cause: err });
}

interface Candidate {
  nodeName: string;
  instanceId: string;
  node: V1Node;
}

type Mode = 'ensure' | 'update';

/** What one desired FIP of a Service resolves to, decided before anything is written. */
interface Planned {
  d: DesiredFloatingIp;
  /** The existing FIP the Service uses; undefined: create one named `createName`. */
  fip: FloatingIp | undefined;
  /** Claim it before use: a Go CCM FIP of the Service's name, or an orphan of its name. */
  claim: boolean;
  createName: string;
}

interface Plan {
  planned: Planned[];
  /** FIPs the Service owns and no longer uses. */
  stale: FloatingIp[];
}

/** lastNodes may exceed the current Nodes by this much before it drops what no FIP points at. */
const LAST_NODES_SLACK = 64;

export class OxideLoadBalancer implements LoadBalancer {
  readonly loadBalancerClass = LOAD_BALANCER_CLASS;
  private readonly client: OxideClient;
  private readonly defaults: SpecDefaults;
  private readonly log: Logger;
  private readonly pools: IpPoolCache;
  private readonly nics: PrimaryNicCache;
  private readonly firewall: FirewallManager;
  private readonly fips: FloatingIpView;
  /**
   * Targets chosen whose attach is still under way (FIP id → instance id), counted as load so
   * that concurrent reconciles spread rather than all pick the same emptiest Node.
   */
  private readonly attaching = new Map<string, string>();
  /**
   * Last Node seen per instance id: when no Node is eligible the FIP stays where it is, and its
   * status still needs that Node's InternalIPs. Bounded: see pruneLastNodes.
   */
  private readonly lastNodes = new Map<string, V1Node>();
  /** The claim under way per FIP id; a second claim of the same FIP waits for it. */
  private readonly claims = new Map<string, Promise<FloatingIp>>();

  constructor(options: OxideLoadBalancerOptions) {
    this.client = options.client;
    this.defaults = {
      firewall: options.firewall ?? false,
      namedFloatingIps: options.namedFloatingIps ?? 'marked',
    };
    this.log = options.logger ?? silentLogger;
    this.pools = new IpPoolCache(options.client, options.poolCacheTtlMs);
    this.nics = new PrimaryNicCache(options.inventory ?? new InstanceInventory(options.client));
    this.firewall = new FirewallManager(options.client, { ttlMs: options.firewallSnapshotTtlMs });
    this.fips = new FloatingIpView(options.client, { ttlMs: options.floatingIpTtlMs });
  }

  ensureLoadBalancer(
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
  ): Promise<LoadBalancerStatus> {
    return this.sync('ensure', clusterName, service, nodes);
  }

  /** Re-targets (and creates a missing FIP); never recreates or drops FIPs: that is ensure's job. */
  updateLoadBalancer(
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
  ): Promise<LoadBalancerStatus> {
    return this.sync('update', clusterName, service, nodes);
  }

  /**
   * Lists afresh rather than from the view: it is the last call for the Service, and a FIP created
   * elsewhere within the view's TTL (a previous leader's) would otherwise leak.
   */
  ensureLoadBalancerDeleted(clusterName: string, service: V1Service): Promise<void> {
    const spec = deletionSpec(clusterName, service, this.defaults);
    return this.retryOnStaleView((fips) => this.deleteFrom(fips, spec), true);
  }

  /**
   * Only what the Service owns: its FIPs by UID (or an orphan of its name), a Go CCM FIP of its
   * generated name once claimed, and a user's FIP marked for it (detached, never deleted).
   * Another Service's FIP is never detached or deleted, whatever this Service's annotations say.
   */
  private async deleteFrom(fips: readonly FloatingIp[], spec: DeletionSpec): Promise<void> {
    const { ref, baseName: base } = spec;
    const roles: Role[] = ['primary', 'v4', 'v6'];
    const plain = new Set(roles.map((r) => roleNames(base, r, ref.uid).plain));
    const owned = fips.filter((f) => {
      const rel = relationOf(f.description, ref);
      if (rel === 'unclaimed') return plain.has(f.name) && mayClaimUnclaimed(f.timeCreated, ref);
      return rel === 'mine' || rel === 'orphan';
    });
    const named = this.namedFip(fips, ref, spec.floatingIpName);

    // Firewall first: the attachments tell which VPC holds the rules. Rules are named after the
    // primary FIP: its alternative name is this Service's alone, the plain one only when no one
    // else's FIP holds it.
    const ruleNames = new Set([roleNames(base, 'primary', ref.uid).alternative]);
    for (const f of owned) if (roleOf(f.name) === 'primary') ruleNames.add(f.name);
    if (named) ruleNames.add(named.name);
    const atBase = fips.find((f) => f.name === base);
    if (!atBase || owned.includes(atBase)) ruleNames.add(base);
    const vpcs = new Set(this.firewall.knownVpcs());
    if (spec.firewall) {
      for (const f of named ? [...owned, named] : owned) {
        if (f.instanceId) {
          const nic = await this.nics.get(f.instanceId);
          if (nic) vpcs.add(nic.vpcId);
        }
      }
    }
    for (const vpc of vpcs) {
      for (const name of ruleNames) {
        const ruleBase = firewallRuleBase(name);
        if (this.firewall.mayOwnRules(vpc, ruleBase))
          await this.firewall.reconcile(vpc, ruleBase, []);
      }
    }

    for (const fip of owned) {
      // A Go CCM FIP is claimed first, so that a colliding Service claiming it now keeps it.
      const unclaimed = relationOf(fip.description, ref) === 'unclaimed';
      await this.release(unclaimed ? await this.claim(fip, ref) : fip);
    }
    if (named?.instanceId) await this.detachUserOwned(named);
  }

  /** The FIP the annotation names, when it is a user's FIP marked for this Service. */
  private namedFip(
    fips: readonly FloatingIp[],
    ref: ServiceRef,
    name: string | undefined,
  ): FloatingIp | undefined {
    if (name === undefined) return undefined;
    return fips.find(
      (f) =>
        (f.name === name || f.id === name) &&
        relationOf(f.description, ref) === 'user' &&
        markedFor(f.description, ref),
    );
  }

  /**
   * Runs `reconcile` on the view; when a write trips over a change the view did not show, once
   * more on a fresh list (then the error stands). `fresh`: the first run lists afresh too.
   */
  private async retryOnStaleView<T>(
    reconcile: (fips: FloatingIp[]) => Promise<T>,
    fresh = false,
  ): Promise<T> {
    try {
      return await reconcile(await this.fips.list({ fresh }));
    } catch (err) {
      if (!(err instanceof StaleViewError)) throw err;
      this.log.info({ err: err.message }, 'floating IPs changed elsewhere; listing them again');
      this.fips.invalidate();
    }
    try {
      return await reconcile(await this.fips.list({ fresh: true }));
    } catch (err) {
      throw err instanceof StaleViewError ? err.cause : err;
    }
  }

  private async sync(
    mode: Mode,
    clusterName: string,
    service: V1Service,
    nodes: V1Node[],
  ): Promise<LoadBalancerStatus> {
    const spec = loadBalancerSpec(clusterName, service, this.defaults);
    const candidates = this.candidates(nodes);
    // Everything that can reject the Service is checked before the first write.
    for (const d of spec.floatingIps) await this.checkPoolFamily(d);
    return this.retryOnStaleView((fips) => this.reconcile(mode, spec, candidates, fips));
  }

  private async reconcile(
    mode: Mode,
    spec: LoadBalancerSpec,
    candidates: readonly Candidate[],
    fips: FloatingIp[],
  ): Promise<LoadBalancerStatus> {
    const { ref } = spec;
    const replace = (old: FloatingIp | undefined, next: FloatingIp | undefined) => {
      const i = old ? fips.indexOf(old) : -1;
      if (i >= 0) fips.splice(i, 1);
      if (next) fips.push(next);
    };
    // Every refusal (another Service's FIP or address) is thrown here, before any write.
    const { planned, stale } = this.plan(spec, ref, fips);

    if (mode === 'ensure') {
      for (const f of stale) {
        this.log.info({ floatingIp: f.name }, 'deleting floating IP the Service no longer uses');
        await this.release(f);
        replace(f, undefined);
      }
    }

    const placed: FloatingIp[] = [];
    for (const p of planned) {
      let fip = p.fip;
      if (fip && p.claim) {
        const claimed = await this.claim(fip, ref);
        replace(fip, claimed);
        fip = claimed;
      }
      if (
        fip &&
        p.d.owned &&
        mode === 'ensure' &&
        (await this.needsRecreate(fip, p.d.allocation))
      ) {
        this.log.info(
          { floatingIp: fip.name, ip: fip.ip },
          'recreating floating IP: allocation changed',
        );
        await this.release(fip);
        replace(fip, undefined);
        fip = undefined;
      }
      if (!fip) {
        fip = await this.create(p, ref);
        replace(undefined, fip);
      }
      const next = await this.place(fip, ref.uid, candidates, fips);
      replace(fip, next);
      placed.push(next);
    }

    const primary = placed[0]?.name ?? spec.baseName;
    await this.syncFirewall(spec.firewall, primary, placed);
    this.pruneLastNodes(candidates, fips);
    return this.status(placed);
  }

  /**
   * Which existing FIP (or new name) serves each desired FIP, by ownership. Throws
   * FloatingIpConflictError when the Service asks for what is not its own; writes nothing.
   */
  private plan(spec: LoadBalancerSpec, ref: ServiceRef, fips: readonly FloatingIp[]): Plan {
    const relation = new Map<string, Relation>(
      fips.map((f) => [f.id, relationOf(f.description, ref)]),
    );
    const rel = (f: FloatingIp): Relation => relation.get(f.id) ?? 'other';
    const own = fips.filter((f) => rel(f) === 'mine' || rel(f) === 'orphan');
    const used = new Set<string>();
    const planned = spec.floatingIps.map((d): Planned => {
      if (!d.owned) return this.planNamed(d, ref, fips, rel);
      const names = roleNames(spec.baseName, d.role, ref.uid);
      // Its own FIP of this role, whatever its name: a UID match before an orphan, plain first.
      const rank = (f: FloatingIp) =>
        (rel(f) === 'mine' ? 0 : 2) + (f.name === names.plain ? 0 : 1);
      const pick = own
        .filter((f) => roleOf(f.name) === d.role && !used.has(f.id))
        .sort((a, b) => rank(a) - rank(b))[0];
      let result: Planned;
      if (pick) {
        result = { d, fip: pick, claim: rel(pick) === 'orphan', createName: pick.name };
      } else {
        const atPlain = fips.find((f) => f.name === names.plain);
        if (!atPlain) {
          result = { d, fip: undefined, claim: false, createName: names.plain };
        } else if (rel(atPlain) === 'unclaimed' && mayClaimUnclaimed(atPlain.timeCreated, ref)) {
          result = { d, fip: atPlain, claim: true, createName: names.plain };
        } else if (!fips.some((f) => f.name === names.alternative)) {
          this.log.info(
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
      this.checkAddress(d, result.fip, fips, rel);
      return result;
    });
    return { planned, stale: own.filter((f) => !used.has(f.id)) };
  }

  /** An address asked for (annotation or spec.loadBalancerIP) that another FIP holds is refused. */
  private checkAddress(
    d: DesiredFloatingIp,
    fip: FloatingIp | undefined,
    fips: readonly FloatingIp[],
    rel: (f: FloatingIp) => Relation,
  ): void {
    if (d.allocation?.type !== 'explicit') return;
    const ip = canonicalIp(d.allocation.ip);
    const holder = fips.find((f) => canonicalIp(f.ip) === ip);
    if (!holder || holder.id === fip?.id || rel(holder) === 'mine' || rel(holder) === 'orphan') {
      return;
    }
    throw new FloatingIpConflictError(
      `address ${d.allocation.ip} (${FLOATING_IP.name} or spec.loadBalancerIP) is held by a ` +
        `floating IP in project ${this.client.project} that this Service does not own`,
    );
  }

  /**
   * A user's FIP named by annotation: only one the operator marked for this Service. One message
   * for "missing", "another Service's" and "not marked", so that naming FIPs cannot be used to
   * learn which exist; the log, which only operators read, says which.
   */
  private planNamed(
    d: DesiredFloatingIp,
    ref: ServiceRef,
    fips: readonly FloatingIp[],
    rel: (f: FloatingIp) => Relation,
  ): Planned {
    const fip = fips.find((f) => f.name === d.name || f.id === d.name);
    const message =
      `floating IP ${JSON.stringify(d.name)} (annotation ${FLOATING_IP_NAME.name}) is not ` +
      `available to this Service: it must exist in project ${this.client.project}, not be ` +
      `managed by the cloud controller manager, and have ${USER_FIP_MARK}${ref.key} in its ` +
      'description';
    // The user may have just made it: the retry on a fresh list tells.
    if (!fip) throw staleView(new Error(message));
    if (rel(fip) !== 'user' || !markedFor(fip.description, ref)) {
      this.log.info(
        { service: ref.key, floatingIp: fip.name, relation: rel(fip) },
        'refused floating IP named by annotation',
      );
      throw new FloatingIpConflictError(message);
    }
    return { d, fip, claim: false, createName: fip.name };
  }

  /**
   * Writes this Service's UID into a Go CCM FIP's (or an orphan's) description, then reads it
   * back: Oxide has no conditional update, so of two claimants from two processes (leader
   * election excludes that, but a split brain must not share a FIP) only the last writer goes
   * on; within this process claims of one FIP run one at a time and the second sees the first.
   * A lost claim is a stale view: the retry sees the FIP as another's and takes the alternative
   * name.
   */
  private async claim(fip: FloatingIp, ref: ServiceRef): Promise<FloatingIp> {
    const prior = this.claims.get(fip.id);
    const run = (async () => {
      if (prior) await prior.catch(() => undefined);
      return this.claimOnce(fip, ref);
    })();
    this.claims.set(fip.id, run);
    try {
      return await run;
    } finally {
      if (this.claims.get(fip.id) === run) this.claims.delete(fip.id);
    }
  }

  private async claimOnce(fip: FloatingIp, ref: ServiceRef): Promise<FloatingIp> {
    const lost = () =>
      staleView(
        new FloatingIpConflictError(`floating IP ${fip.name} was claimed by another Service`),
      );
    const current = await this.viewForClaim(fip.id);
    const before = relationOf(current.description, ref);
    if (before === 'mine') return current;
    if (before !== 'unclaimed' && before !== 'orphan') throw lost();
    await updateFloatingIpDescription(this.client, fip.id, ownedDescription(ref));
    const after = await this.viewForClaim(fip.id);
    this.fips.put(after);
    if (relationOf(after.description, ref) !== 'mine') throw lost();
    this.log.info(
      { floatingIp: after.name, ip: after.ip, service: ref.key, was: before },
      'claimed floating IP',
    );
    return after;
  }

  private async viewForClaim(id: string): Promise<FloatingIp> {
    try {
      return await viewFloatingIp(this.client, id);
    } catch (err) {
      if (isNotFound(err)) throw staleView(err);
      throw err;
    }
  }

  private candidates(nodes: readonly V1Node[]): Candidate[] {
    const out: Candidate[] = [];
    for (const node of nodes) {
      const nodeName = node.metadata?.name ?? '';
      try {
        const instanceId = parseProviderID(node.spec?.providerID ?? '');
        out.push({ nodeName, instanceId, node });
        this.lastNodes.set(instanceId, node);
      } catch (err) {
        this.log.warn(
          { node: nodeName, err: String(err) },
          'skipping Node without an Oxide providerID',
        );
      }
    }
    return out;
  }

  /** A pool serving the primary family of a dual-stack Service must be of that family. */
  private async checkPoolFamily(d: DesiredFloatingIp): Promise<void> {
    if (d.allocation?.type !== 'pool' || d.family === undefined) return;
    const pool = await this.pools.get(d.allocation.pool);
    if (pool.ipVersion !== d.family) {
      throw new InvalidServiceConfigError(
        `annotation ${FLOATING_IP_POOL.name}: pool ${d.allocation.pool} is ${pool.ipVersion} but ` +
          `the Service's primary IP family is ${d.family}`,
      );
    }
  }

  /** The Go CCM's floatingIPNeedsRecreate: other address, other pool, other version. */
  private async needsRecreate(
    fip: FloatingIp,
    allocation: Allocation | undefined,
  ): Promise<boolean> {
    switch (allocation?.type) {
      case 'explicit':
        return canonicalIp(fip.ip) !== canonicalIp(allocation.ip);
      case 'pool':
        return fip.ipPoolId !== (await this.pools.get(allocation.pool)).id;
      case 'default':
        return allocation.version !== undefined && familyOf(fip.ip) !== allocation.version;
      default:
        return false;
    }
  }

  private async create(p: Planned, ref: ServiceRef): Promise<FloatingIp> {
    const addressAllocator = toAddressAllocator(p.d.allocation);
    try {
      const fip = await createFloatingIp(this.client, {
        name: p.createName,
        description: ownedDescription(ref),
        addressAllocator,
      });
      this.fips.put(fip);
      this.log.info({ floatingIp: fip.name, ip: fip.ip }, 'created floating IP');
      return fip;
    } catch (err) {
      // A retried create whose first attempt succeeded, or another creator: the fresh list shows
      // whose it is; the retry adopts ours or takes the alternative name. An address taken since
      // the view was read: the retry refuses it by its holder.
      if (isOxideError(err, 'already_exists')) throw staleView(err);
      if (p.d.allocation?.type === 'explicit' && isOxideError(err, 'invalid')) throw staleView(err);
      throw err;
    }
  }

  /** Attaches the FIP to its target (moving it when needed) and returns its new state. */
  private async place(
    fip: FloatingIp,
    serviceKey: string,
    candidates: readonly Candidate[],
    all: readonly FloatingIp[],
  ): Promise<FloatingIp> {
    // No eligible Node: keep whatever attachment there is rather than detaching to nowhere.
    if (candidates.length === 0) return fip;
    const family = familyOf(fip.ip);
    const load = () => this.loadExcept(fip.id, all);
    let target: Candidate | undefined;
    try {
      target = await chooseTarget({
        serviceKey,
        candidates,
        current: fip.instanceId ?? undefined,
        load,
        accepts: async (c) => {
          if (!(await this.accepts(c.instanceId, family, load().get(c.instanceId) ?? 0))) {
            return false;
          }
          // Reserved before anything else runs, so concurrent reconciles count it as load.
          if (c.instanceId !== fip.instanceId) this.attaching.set(fip.id, c.instanceId);
          return true;
        },
      });
    } catch (err) {
      this.attaching.delete(fip.id);
      throw err;
    }
    if (!target) {
      this.attaching.delete(fip.id);
      throw new Error(
        `no eligible Node can take floating IP ${fip.name} (${fip.ip}): each lacks a ${family} ` +
          `address on its primary NIC or has ${MAX_EXTERNAL_IPS_PER_INSTANCE} external IPs`,
      );
    }
    if (fip.instanceId === target.instanceId) {
      this.attaching.delete(fip.id);
      return fip;
    }
    this.attaching.set(fip.id, target.instanceId);
    let attached: FloatingIp;
    try {
      if (fip.instanceId) await this.detach(fip);
      attached = await this.attach(fip, target.instanceId);
    } finally {
      if (this.attaching.get(fip.id) === target.instanceId) this.attaching.delete(fip.id);
    }
    this.log.info(
      { floatingIp: fip.name, ip: fip.ip, node: target.nodeName, from: fip.instanceId ?? null },
      'attached floating IP',
    );
    return attached;
  }

  /**
   * FIPs per instance from the shared view rather than this reconcile's copy (it has other
   * reconciles' attachments since), plus targets chosen but not yet attached; `fipId` excluded.
   */
  private loadExcept(fipId: string, fallback: readonly FloatingIp[]): Map<string, number> {
    const where = new Map<string, string>();
    for (const f of this.fips.cached() ?? fallback) if (f.instanceId) where.set(f.id, f.instanceId);
    for (const [id, instanceId] of this.attaching) where.set(id, instanceId);
    where.delete(fipId);
    const load = new Map<string, number>();
    for (const instanceId of where.values()) load.set(instanceId, (load.get(instanceId) ?? 0) + 1);
    return load;
  }

  /** Hard limits of a target: primary NIC family, 32 external IPs (ephemeral checked only near it). */
  private async accepts(instanceId: string, family: IpVersion, floating: number): Promise<boolean> {
    if (floating + 1 > MAX_EXTERNAL_IPS_PER_INSTANCE) return false;
    if (floating + 1 === MAX_EXTERNAL_IPS_PER_INSTANCE) {
      const external = await this.client.listInstanceExternalIps(instanceId);
      if (external.some((e) => e.kind === 'ephemeral')) return false;
    }
    const nic = await this.nics.get(instanceId);
    return nic !== undefined && nic.families.has(family);
  }

  /** A user's FIP is left to them: detached only, and already gone is fine. */
  private async detachUserOwned(fip: FloatingIp): Promise<void> {
    try {
      this.fips.put(await detachFloatingIp(this.client, fip.id));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.fips.remove(fip.id);
      this.fips.invalidate();
    }
  }

  /** Gone (404), or attached elsewhere meanwhile (400): someone else's change. */
  private async attach(fip: FloatingIp, instanceId: string): Promise<FloatingIp> {
    try {
      const attached = await attachFloatingIp(this.client, fip.id, instanceId);
      this.fips.put(attached);
      return attached;
    } catch (err) {
      if (isNotFound(err) || isOxideError(err, 'invalid')) throw staleView(err);
      throw err;
    }
  }

  /** Detaching to move it: gone (404) means the view is stale. */
  private async detach(fip: FloatingIp): Promise<void> {
    try {
      this.fips.put(await detachFloatingIp(this.client, fip.id));
    } catch (err) {
      if (isNotFound(err)) throw staleView(err);
      throw err;
    }
  }

  /**
   * Detach and delete an owned FIP. Already gone is the goal reached (the view learns it); still
   * attached (a 400: someone attached it since) is a stale view.
   */
  private async release(fip: FloatingIp): Promise<void> {
    try {
      if (fip.instanceId) this.fips.put(await detachFloatingIp(this.client, fip.id));
      await deleteFloatingIp(this.client, fip.id);
      this.fips.remove(fip.id);
      this.log.info({ floatingIp: fip.name, ip: fip.ip }, 'deleted floating IP');
    } catch (err) {
      if (isNotFound(err)) {
        this.fips.remove(fip.id);
        this.fips.invalidate();
        return;
      }
      if (isOxideError(err, 'invalid')) throw staleView(err);
      throw err;
    }
  }

  /** Rules are named after the primary FIP (`primaryName`), which no other Service uses. */
  private async syncFirewall(
    firewall: FirewallSpec | undefined,
    primaryName: string,
    placed: readonly FloatingIp[],
  ): Promise<void> {
    const ruleBase = firewallRuleBase(primaryName);
    const ipsByVpc = new Map<string, string[]>();
    if (firewall) {
      for (const instanceId of new Set(placed.map((f) => f.instanceId).filter((i) => !!i))) {
        const nic = await this.nics.get(instanceId as string);
        if (!nic) continue;
        ipsByVpc.set(nic.vpcId, [...(ipsByVpc.get(nic.vpcId) ?? []), ...nic.ips]);
      }
    }
    for (const [vpc, ips] of ipsByVpc) {
      const desired = firewall ? desiredFirewallRules(firewall, primaryName, ips) : [];
      await this.firewall.reconcile(vpc, ruleBase, desired);
    }
    // Leftovers: firewall turned off, or the target moved to another VPC.
    for (const vpc of this.firewall.knownVpcs()) {
      if (!ipsByVpc.has(vpc) && this.firewall.mayOwnRules(vpc, ruleBase)) {
        await this.firewall.reconcile(vpc, ruleBase, []);
      }
    }
  }

  /**
   * Keeps lastNodes bounded: once it exceeds the current Nodes by LAST_NODES_SLACK, only the
   * Nodes passed now and the instances some FIP is attached to stay.
   */
  private pruneLastNodes(candidates: readonly Candidate[], fallback: readonly FloatingIp[]): void {
    if (this.lastNodes.size <= candidates.length + LAST_NODES_SLACK) return;
    const keep = new Set(candidates.map((c) => c.instanceId));
    for (const f of this.fips.cached() ?? fallback) if (f.instanceId) keep.add(f.instanceId);
    for (const id of this.lastNodes.keys()) if (!keep.has(id)) this.lastNodes.delete(id);
  }

  /**
   * Go CCM order: each FIP with ipMode Proxy (the address is NATed, not a VIP the node may claim),
   * then the target Nodes' InternalIPs. Oxide NAT delivers packets to the node's private address,
   * so kube-proxy must treat those addresses as load-balancer ingress too.
   */
  private status(placed: readonly FloatingIp[]): LoadBalancerStatus {
    const ingress: LoadBalancerIngress[] = placed.map((f) => ({ ip: f.ip, ipMode: 'Proxy' }));
    const seen = new Set<string>();
    for (const fip of placed) {
      const node = fip.instanceId ? this.lastNodes.get(fip.instanceId) : undefined;
      for (const address of node?.status?.addresses ?? []) {
        if (address.type === 'InternalIP' && !seen.has(address.address)) {
          seen.add(address.address);
          ingress.push({ ip: address.address });
        }
      }
    }
    return { ingress };
  }
}

function toAddressAllocator(allocation: Allocation | undefined): AddressAllocator {
  switch (allocation?.type) {
    case 'explicit':
      return { type: 'explicit', ip: allocation.ip };
    case 'pool':
      return { type: 'auto', poolSelector: { type: 'explicit', pool: allocation.pool } };
    case 'default': {
      const ipVersion = allocation.version ?? allocation.preferVersion;
      return ipVersion
        ? { type: 'auto', poolSelector: { type: 'auto', ipVersion } }
        : { type: 'auto' };
    }
    default:
      return { type: 'auto' };
  }
}
