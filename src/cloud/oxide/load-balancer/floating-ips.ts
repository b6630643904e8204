// Step 3, floating-IP operations: every write to a Service's FIPs (claim, create, recreate,
// attach, detach, delete) and what its failure says about the FIP list it was planned from.
// Calls per reconcile: only what changes. The project's FIP list (it carries instance_id) is one
// process-wide view (FloatingIpView) that all reconciles share for floatingIpTtlMs, so a pass
// over every Service lists once, not once per Service. Our own writes go through to the view at
// once; a change made by anyone else is seen within floatingIpTtlMs (default 5 s), or at once when
// one of our writes trips over it: ObjectAlreadyExists on create, a 400 on attach or delete, a 404
// on attach or detach, a lost claim throw the view away and run the reconcile once more on a
// fresh list.
import type { AddressAllocator, FloatingIp } from '@oxide/api';
import type { Logger } from '../../../log.ts';
import type { OxideClient } from '../../../oxide/client.ts';
import { isNotFound, isOxideError } from '../../../oxide/errors.ts';
import {
  FloatingIpView,
  attachFloatingIp,
  createFloatingIp,
  deleteFloatingIp,
  detachFloatingIp,
  updateFloatingIpDescription,
  viewFloatingIp,
} from '../../../oxide/floating-ips.ts';
import { IpPoolCache } from '../../../oxide/ip-pools.ts';
import { TtlCache } from '../../../util/ttl-cache.ts';
import { InvalidServiceConfigError } from '../../provider.ts';
import { FLOATING_IP_POOL } from './annotations.ts';
import type { Planned } from './ownership.ts';
import { FloatingIpConflictError, needsRecord, ownedDescription, relationOf } from './owner.ts';
import type { ServiceRef } from './owner.ts';
import { canonicalIp, familyOf } from './spec.ts';
import { StaleViewError, staleView } from './stale-view.ts';
import type { Allocation, DesiredFloatingIp } from './spec.ts';

/** Keeps a reconcile's own copy of the FIP list in step with its writes. */
export function replaceIn(
  fips: FloatingIp[],
  old: FloatingIp | undefined,
  next: FloatingIp | undefined,
): void {
  const i = old ? fips.indexOf(old) : -1;
  if (i >= 0) fips.splice(i, 1);
  if (next) fips.push(next);
}

export interface FloatingIpsOptions {
  poolCacheTtlMs?: number | undefined;
  floatingIpTtlMs?: number | undefined;
}

export class FloatingIps {
  private readonly client: OxideClient;
  private readonly log: Logger;
  private readonly pools: IpPoolCache;
  private readonly view: FloatingIpView;
  /** The claim under way per FIP id, shared by whoever claims it meanwhile; nothing kept after. */
  private readonly claims = new TtlCache<string, FloatingIp>({ ttlMs: 0 });

  constructor(client: OxideClient, log: Logger, options: FloatingIpsOptions = {}) {
    this.client = client;
    this.log = log;
    this.pools = new IpPoolCache(client, options.poolCacheTtlMs);
    this.view = new FloatingIpView(client, { ttlMs: options.floatingIpTtlMs });
  }

  /**
   * Runs `reconcile` on the view; when a write trips over a change the view did not show, once
   * more on a fresh list (then the error stands). `fresh`: the first run lists afresh too.
   */
  async withView<T>(
    reconcile: (fips: FloatingIp[]) => Promise<T>,
    fresh = false,
    signal?: AbortSignal,
  ): Promise<T> {
    try {
      return await reconcile(await this.view.list({ fresh, signal }));
    } catch (err) {
      if (!(err instanceof StaleViewError)) throw err;
      this.log.info({ err: err.message }, 'floating IPs changed elsewhere; listing them again');
      this.view.invalidate();
    }
    try {
      return await reconcile(await this.view.list({ fresh: true, signal }));
    } catch (err) {
      throw err instanceof StaleViewError ? err.cause : err;
    }
  }

  /**
   * The shared view rather than a reconcile's copy (it has other reconciles' writes since), or
   * `fallback` when the view has expired.
   */
  current(fallback: readonly FloatingIp[]): readonly FloatingIp[] {
    return this.view.cached() ?? fallback;
  }

  /** A pool serving the primary family of a dual-stack Service must be of that family. */
  async checkPoolFamily(d: DesiredFloatingIp, signal?: AbortSignal): Promise<void> {
    if (d.allocation?.type !== 'pool' || d.family === undefined) return;
    const pool = await this.pools.get(d.allocation.pool, signal);
    if (pool.ipVersion !== d.family) {
      throw new InvalidServiceConfigError(
        `annotation ${FLOATING_IP_POOL.name}: pool ${d.allocation.pool} is ${pool.ipVersion} but ` +
          `the Service's primary IP family is ${d.family}`,
      );
    }
  }

  /** Deletes the FIPs the Service owns and no longer uses (ensure only). */
  async dropStale(
    stale: readonly FloatingIp[],
    fips: FloatingIp[],
    signal?: AbortSignal,
  ): Promise<void> {
    for (const f of stale) {
      this.log.info({ floatingIp: f.name }, 'deleting floating IP the Service no longer uses');
      await this.release(f, signal);
      replaceIn(fips, f, undefined);
    }
  }

  /**
   * The FIP planned for `p`, existing and the Service's: claimed when the plan says so,
   * re-created when `recreate` and its allocation changed, created when missing.
   */
  async realize(
    p: Planned,
    ref: ServiceRef,
    fips: FloatingIp[],
    recreate: boolean,
    signal?: AbortSignal,
  ): Promise<FloatingIp> {
    let fip = p.fip;
    if (fip && p.claim) {
      const claimed = await this.claim(fip, ref, signal);
      replaceIn(fips, fip, claimed);
      fip = claimed;
    }
    if (fip && p.d.owned && recreate && (await this.needsRecreate(fip, p.d.allocation, signal))) {
      this.log.info(
        { floatingIp: fip.name, ip: fip.ip },
        'recreating floating IP: allocation changed',
      );
      await this.release(fip, signal);
      replaceIn(fips, fip, undefined);
      fip = undefined;
    }
    if (!fip) {
      fip = await this.create(p, ref, signal);
      replaceIn(fips, undefined, fip);
    }
    return fip;
  }

  /** Deleting the Service: a Go CCM FIP is claimed first, so a colliding Service claiming it now keeps it. */
  async releaseOwned(fip: FloatingIp, ref: ServiceRef, signal?: AbortSignal): Promise<void> {
    const unclaimed = relationOf(fip.description, ref) === 'unclaimed';
    await this.release(unclaimed ? await this.claim(fip, ref, signal) : fip, signal);
  }

  /**
   * Writes this Service's record into a Go CCM FIP's (or an orphan's) description, or into its
   * own FIP's whose record an earlier version wrote (one write, on upgrade), then reads it back:
   * Oxide has no conditional update, so of two claimants from two processes (leader
   * election excludes that, but a split brain must not share a FIP) only the last writer goes
   * on. Within this process concurrent claims of one FIP share one claim (the first caller's;
   * it runs unbound by any caller's signal, the client's fence still ends it), and each caller
   * judges the FIP it ends with: the others see it as another Service's. A lost claim is a stale
   * view: the retry sees the FIP as another's and takes the alternative name.
   */
  private async claim(
    fip: FloatingIp,
    ref: ServiceRef,
    signal: AbortSignal | undefined,
  ): Promise<FloatingIp> {
    const after = await this.claims.get(fip.id, () => this.claimOnce(fip, ref), { signal });
    if (relationOf(after.description, ref) !== 'mine') {
      throw staleView(
        new FloatingIpConflictError(`floating IP ${fip.name} was claimed by another Service`),
      );
    }
    return after;
  }

  /** The FIP as it stands after claiming it for `ref` where it may be claimed; never throws a lost claim. */
  private async claimOnce(fip: FloatingIp, ref: ServiceRef): Promise<FloatingIp> {
    const current = await this.viewForClaim(fip.id);
    const before = relationOf(current.description, ref);
    const upgrade = before === 'mine' && needsRecord(current.description, ref);
    if (before !== 'unclaimed' && before !== 'orphan' && !upgrade) return current;
    await updateFloatingIpDescription(this.client, fip.id, ownedDescription(ref));
    const after = await this.viewForClaim(fip.id);
    this.view.put(after);
    if (relationOf(after.description, ref) === 'mine') {
      this.log.info(
        { floatingIp: after.name, ip: after.ip, service: ref.key, was: before },
        'claimed floating IP',
      );
    }
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

  /** The Go CCM's floatingIPNeedsRecreate: other address, other pool, other version. */
  private async needsRecreate(
    fip: FloatingIp,
    allocation: Allocation | undefined,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    switch (allocation?.type) {
      case 'explicit':
        return canonicalIp(fip.ip) !== canonicalIp(allocation.ip);
      case 'pool':
        return fip.ipPoolId !== (await this.pools.get(allocation.pool, signal)).id;
      case 'default':
        return allocation.version !== undefined && familyOf(fip.ip) !== allocation.version;
      default:
        return false;
    }
  }

  private async create(
    p: Planned,
    ref: ServiceRef,
    signal: AbortSignal | undefined,
  ): Promise<FloatingIp> {
    const addressAllocator = toAddressAllocator(p.d.allocation);
    try {
      const fip = await createFloatingIp(
        this.client,
        { name: p.createName, description: ownedDescription(ref), addressAllocator },
        signal,
      );
      this.view.put(fip);
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

  /** Gone (404), or attached elsewhere meanwhile (400): someone else's change. */
  async attach(fip: FloatingIp, instanceId: string, signal?: AbortSignal): Promise<FloatingIp> {
    try {
      const attached = await attachFloatingIp(this.client, fip.id, instanceId, signal);
      this.view.put(attached);
      return attached;
    } catch (err) {
      if (isNotFound(err) || isOxideError(err, 'invalid')) throw staleView(err);
      throw err;
    }
  }

  /** Detaching to move it: gone (404) means the view is stale. */
  async detach(fip: FloatingIp, signal?: AbortSignal): Promise<void> {
    try {
      this.view.put(await detachFloatingIp(this.client, fip.id, signal));
    } catch (err) {
      if (isNotFound(err)) throw staleView(err);
      throw err;
    }
  }

  /** A user's FIP is left to them: detached only, and already gone is fine. */
  async detachUserOwned(fip: FloatingIp, signal?: AbortSignal): Promise<void> {
    try {
      this.view.put(await detachFloatingIp(this.client, fip.id, signal));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.view.remove(fip.id);
      this.view.invalidate();
    }
  }

  /**
   * Detach and delete an owned FIP. Already gone is the goal reached (the view learns it); still
   * attached (a 400: someone attached it since) is a stale view.
   */
  private async release(fip: FloatingIp, signal: AbortSignal | undefined): Promise<void> {
    try {
      if (fip.instanceId) this.view.put(await detachFloatingIp(this.client, fip.id, signal));
      await deleteFloatingIp(this.client, fip.id, signal);
      this.view.remove(fip.id);
      this.log.info({ floatingIp: fip.name, ip: fip.ip }, 'deleted floating IP');
    } catch (err) {
      if (isNotFound(err)) {
        this.view.remove(fip.id);
        this.view.invalidate();
        return;
      }
      if (isOxideError(err, 'invalid')) throw staleView(err);
      throw err;
    }
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
