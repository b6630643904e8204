// Which instance a floating IP goes to. The Go CCM always takes the first Node by name, so every
// Service lands on one node and only moves when the node set changes. Here:
// - a FIP stays where it is while that Node is still eligible (no flapping);
// - otherwise Nodes are tried in rendezvous-hash order of (Service, Node), which is stable when
//   unrelated Nodes come and go and spreads different Services over different Nodes;
// - bounded load: a Node already carrying more than its share (1.25 × average) of the candidates'
//   floating IPs is passed over, so even unlucky hashes cannot pile Services onto one Node;
// - hard limits (32 external IPs per instance, a FIP needs its family on the primary NIC) are
//   checked by the caller-supplied `accepts`, lazily, only for Nodes actually considered.
import { createHash } from 'node:crypto';
import { compareNames } from '../../../util/compare.ts';

export interface TargetCandidate {
  nodeName: string;
  instanceId: string;
}

/** How much a Node may exceed the average load before it is skipped (consistent hashing with bounded loads). */
export const LOAD_FACTOR = 1.25;

function score(serviceKey: string, nodeName: string): bigint {
  return createHash('sha256')
    .update(serviceKey)
    .update('\0')
    .update(nodeName)
    .digest()
    .readBigUInt64BE(0);
}

/** Candidates in rendezvous order for this Service: highest score first, ties by name. */
export function rendezvousOrder<T extends TargetCandidate>(
  serviceKey: string,
  candidates: readonly T[],
): T[] {
  return candidates
    .map((c) => ({ c, s: score(serviceKey, c.nodeName) }))
    .sort((a, b) => (a.s === b.s ? compareNames(a.c.nodeName, b.c.nodeName) : a.s > b.s ? -1 : 1))
    .map(({ c }) => c);
}

export interface ChooseTargetInput<T extends TargetCandidate> {
  /** Stable per Service (its UID), the same for both FIPs of a dual-stack Service. */
  serviceKey: string;
  candidates: readonly T[];
  /** Instance the FIP is attached to now, if any. */
  current?: string | undefined;
  /**
   * Floating IPs attached per instance id (this FIP excluded). A function is read again after
   * each `accepts`: concurrent choices for other FIPs may have landed while it awaited.
   */
  load: ReadonlyMap<string, number> | (() => ReadonlyMap<string, number>);
  /**
   * Hard constraints (address family, external-IP limit); may call the API, so called lazily. The
   * candidate returned is the last one accepted, so a caller may reserve it there.
   */
  accepts: (candidate: T) => Promise<boolean>;
}

/** The chosen candidate, or undefined when none accepts the FIP. */
export async function chooseTarget<T extends TargetCandidate>(
  input: ChooseTargetInput<T>,
): Promise<T | undefined> {
  const { candidates, current } = input;
  const kept = candidates.find((c) => c.instanceId === current);
  if (kept) return kept;
  const readLoad = (): ReadonlyMap<string, number> =>
    typeof input.load === 'function' ? input.load() : input.load;
  const overBound = (c: T): boolean => {
    const load = readLoad();
    const total = candidates.reduce((sum, x) => sum + (load.get(x.instanceId) ?? 0), 0);
    const bound = Math.ceil(((total + 1) * LOAD_FACTOR) / Math.max(1, candidates.length));
    return (load.get(c.instanceId) ?? 0) + 1 > bound;
  };
  const ordered = rendezvousOrder(input.serviceKey, candidates);
  const rejected = new Set<T>();
  // First pass honours the load bound; the second takes any Node that can hold the FIP at all.
  for (const bounded of [true, false]) {
    for (const c of ordered) {
      if (rejected.has(c)) continue;
      if (bounded && overBound(c)) continue;
      if (!(await input.accepts(c))) {
        rejected.add(c);
        continue;
      }
      // Others' choices may have filled it while `accepts` awaited; the second pass may take it.
      if (!bounded || !overBound(c)) return c;
    }
  }
  return undefined;
}
