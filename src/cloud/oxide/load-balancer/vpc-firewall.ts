// Writes a Service's firewall rules into a VPC whose rule set can only be replaced whole, with no
// concurrency check. The race, and how it is narrowed:
// - Our own writers (several Services reconciling at once) are serialised per VPC in-process.
// - Against people or tools editing rules at the same time: read, merge (only our rules change),
//   write, then read again. If our rules are missing or the foreign rules differ from what we
//   merged on top of, someone wrote after us: merge again on top of their version (up to
//   `maxAttempts`). A write by someone else that lands between our read and our write is lost
//   (theirs is overwritten) and cannot be detected with this API; the window is one round trip.
//   We keep it short by reading right before writing, never from a cache.
// - Steady state costs nothing: a snapshot of the VPC's rules (refreshed after every write and at
//   most `ttlMs` old) answers "already as desired?" without a request; a hand-deleted rule of ours
//   comes back within the TTL.
// - Against another writer that removes nothing of ours but resends an old copy of the set (another
//   cluster sharing the VPC, whose read came before our write): a rule we removed would come back
//   and, its Service gone, stay. So in a VPC where another writer was seen lately, a removal is
//   read again after `settleMs` (outside the lock) and repeated when the rules came back.
import type { VpcFirewallRule, VpcFirewallRuleUpdate } from '@oxide/api';
import type { OxideClient } from '../../../oxide/client.ts';
import { replaceFirewallRules, toRuleUpdate, viewFirewallRules } from '../../../oxide/firewall.ts';
import { sleep } from '../../../util/async.ts';
import { foreignRules, mergeRules, ownedRules, sameRules } from './firewall-rules.ts';
import { compareNames } from '../../../util/compare.ts';
import type { ClusterIdentity } from '../cluster.ts';

/** Oxide's limit per VPC. */
export const MAX_FIREWALL_RULES = 1024;

export interface FirewallManagerOptions {
  /** Whose rules these are: another cluster's rules are never replaced (firewall-rules.ts). */
  cluster: ClusterIdentity;
  ttlMs?: number | undefined;
  maxAttempts?: number;
  /** How long after a removal, in a VPC another writer uses, it is read again (ms). */
  settleMs?: number | undefined;
  /** How long after another writer was seen a VPC counts as shared (ms). */
  sharedWindowMs?: number | undefined;
}

export class FirewallManager {
  private readonly client: OxideClient;
  private readonly cluster: ClusterIdentity;
  private readonly ttlMs: number;
  private readonly maxAttempts: number;
  /**
   * The last rules read per VPC. Not a TtlCache: only the "already as desired?" answer expires;
   * which VPCs were read and which of our rules they held (knownVpcs, mayOwnRules) must outlive
   * the TTL, or leftover rules in a VPC not read lately would never be removed. Never loaded on
   * demand either: writes read right before writing.
   */
  private readonly snapshots = new Map<string, { at: number; rules: VpcFirewallRule[] }>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** When (performance.now()) a change by another writer was last seen, per VPC. */
  private readonly othersSeen = new Map<string, number>();
  private readonly settleMs: number;
  private readonly sharedWindowMs: number;

  constructor(client: OxideClient, options: FirewallManagerOptions) {
    this.client = client;
    this.cluster = options.cluster;
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.settleMs = options.settleMs ?? 3_000;
    this.sharedWindowMs = options.sharedWindowMs ?? 600_000;
  }

  /** VPCs whose rules this process has read: where a Service's leftover rules may be. */
  knownVpcs(): string[] {
    return [...this.snapshots.keys()];
  }

  /** Whether the cached snapshot (no request) shows rules of `ruleBase` in the VPC. */
  mayOwnRules(vpcId: string, ruleBase: string): boolean {
    const snap = this.snapshots.get(vpcId);
    return snap === undefined || ownedRules(snap.rules, ruleBase, this.cluster).length > 0;
  }

  /**
   * Makes the VPC hold exactly `desired` as the rules of `ruleBase` (empty removes them), leaving
   * every other rule as it was. Returns whether a write happened.
   */
  async reconcile(
    vpcId: string,
    ruleBase: string,
    desired: readonly VpcFirewallRuleUpdate[],
    signal?: AbortSignal,
  ): Promise<boolean> {
    const snap = this.snapshots.get(vpcId);
    if (
      snap &&
      performance.now() - snap.at < this.ttlMs &&
      !mergeRules(snap.rules, ruleBase, desired, this.cluster)
    ) {
      return false;
    }
    const wrote = await this.locked(vpcId, () => this.write(vpcId, ruleBase, desired, signal));
    if (wrote && desired.length === 0 && this.shared(vpcId)) {
      await this.settle(vpcId, ruleBase, signal);
    }
    return wrote;
  }

  /** Another writer changed the VPC's rules within the shared window. */
  private shared(vpcId: string): boolean {
    const seen = this.othersSeen.get(vpcId);
    return seen !== undefined && performance.now() - seen < this.sharedWindowMs;
  }

  /**
   * After removing a Service's rules from a shared VPC: read again once the other writer's
   * in-flight write (read before ours) has landed, and remove them again if it brought them back.
   */
  private async settle(
    vpcId: string,
    ruleBase: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      await sleep(this.settleMs, signal);
      if (signal?.aborted) return;
      const again = await this.locked(vpcId, () => this.write(vpcId, ruleBase, [], signal));
      if (!again) return;
    }
  }

  private async write(
    vpcId: string,
    ruleBase: string,
    desired: readonly VpcFirewallRuleUpdate[],
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const at = performance.now();
      const current = await viewFirewallRules(this.client, vpcId, signal);
      // Changed since our last read or write: someone else writes this VPC's rules.
      const last = this.snapshots.get(vpcId);
      if (last && !sameRules(last.rules.map(toRuleUpdate), current.map(toRuleUpdate))) {
        this.othersSeen.set(vpcId, at);
      }
      const merged = mergeRules(current, ruleBase, desired, this.cluster);
      if (!merged) {
        this.snapshots.set(vpcId, { at, rules: current });
        return attempt > 1;
      }
      if (merged.length > MAX_FIREWALL_RULES) {
        throw new Error(
          `VPC ${vpcId} would have ${merged.length} firewall rules; Oxide allows ${MAX_FIREWALL_RULES}`,
        );
      }
      await replaceFirewallRules(this.client, vpcId, merged, signal);
      const verifiedAt = performance.now();
      const after = await viewFirewallRules(this.client, vpcId, signal);
      this.snapshots.set(vpcId, { at: verifiedAt, rules: after });
      const sortedDesired = [...desired].sort((a, b) => compareNames(a.name, b.name));
      const othersKept = sameRules(
        foreignRules(after, ruleBase, this.cluster),
        foreignRules(current, ruleBase, this.cluster),
      );
      if (!othersKept) this.othersSeen.set(vpcId, verifiedAt);
      if (sameRules(ownedRules(after, ruleBase, this.cluster), sortedDesired) && othersKept) {
        return true;
      }
    }
    throw new Error(
      `firewall rules of VPC ${vpcId} kept changing under us (${this.maxAttempts} attempts); will retry`,
    );
  }

  private async locked<T>(vpcId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(vpcId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(vpcId, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(vpcId) === tail) this.locks.delete(vpcId);
    }
  }
}
