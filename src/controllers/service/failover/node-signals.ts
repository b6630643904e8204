// The Kubernetes and cloud signals about a Node, for load balancing only: its kubelet Lease in
// kube-node-lease (renewed every 10 s by default) and what the cloud says about its machine
// (LoadBalancer.nodesDown). A small state machine per Node, pure (time is passed in), so the
// rules are tested without clocks:
// - a Lease is stale when no renewal was seen for `leaseStaleAfterMs` by OUR clock (the time we
//   saw renewTime change, as kube-controller-manager's probeTimestamp): the kubelet's clock may
//   be skewed, ours is the one that measures. A Node first seen counts as just renewed.
// - never on one missed renewal: the default is 2.5 renew intervals;
// - a Lease ages only while the watch shows that it delivers: its age is measured up to the last
//   renewal seen of ANY Lease plus the gap expected between two renewals in the cluster (a
//   renew interval divided among the Nodes, three times over, between 2 s and one interval).
//   When the apiserver or our watch stalls, every Lease stops ageing at once instead of the
//   Nodes going stale one by one as their own timers run out, before "most" are;
// - full disruption (upstream node-lifecycle's rule): when more than `fullDisruptionFraction`
//   of the Nodes' Leases are stale by the plain clock at once (all kubelets dead, or a long
//   stall), the fault is more likely our view of the apiserver than the kubelets, so the Lease
//   signal is ignored until it clears, and then every Lease counts as just renewed (as upstream
//   resets its probe timestamps);
// - a Node out for any reason is a candidate again only after its signals have been good for
//   `settleMs` (no flapping back and forth on a Node that is coming and going).
// Nothing here writes Node conditions or taints: that stays kube-controller-manager's job.

export type OutSignal = 'lease' | 'instance';

export interface NodeSignalSettings {
  leaseStaleAfterMs: number;
  /** How often kubelets renew (10 s by default); bounds the expected gap between renewals. */
  renewIntervalMs: number;
  settleMs: number;
  /** Upstream's unhealthyZoneThreshold is 0.55. */
  fullDisruptionFraction: number;
}

export interface NodeOut {
  signal: OutSignal | 'settling';
  /** Event text: "Lease not renewed for 26s", "instance stopped", … */
  reason: string;
  /** When the Node went out (detection time, ours). */
  since: number;
}

interface NodeRecord {
  leaseSeenAt: number | undefined;
  instanceDown: string | undefined;
  out: NodeOut | undefined;
  /** All signals good again since then; out until it is settleMs old. */
  goodSince: number | undefined;
}

export interface Evaluation {
  /** Nodes that are not candidates now, with why. */
  out: Map<string, NodeOut>;
  /** Nodes whose out state changed in this evaluation (went out or came back). */
  changed: string[];
  fullDisruption: boolean;
  /** Full disruption started or ended in this evaluation. */
  disruptionChanged: boolean;
}

export class NodeSignals {
  private readonly settings: NodeSignalSettings;
  private readonly nodes = new Map<string, NodeRecord>();
  private disrupted = false;
  /** The last renewal seen of any Lease: the proof that the watch delivers. */
  private lastRenewal: number | undefined;

  constructor(settings: NodeSignalSettings) {
    this.settings = settings;
  }

  private record(name: string): NodeRecord {
    let r = this.nodes.get(name);
    if (!r) {
      r = { leaseSeenAt: undefined, instanceDown: undefined, out: undefined, goodSince: undefined };
      this.nodes.set(name, r);
    }
    return r;
  }

  /** The Node's Lease renewTime changed (or the Lease was first seen) at `now`. */
  leaseRenewed(name: string, now: number): void {
    this.record(name).leaseSeenAt = now;
    this.lastRenewal = now;
  }

  /** The Node (or its Lease) is gone: forget it. */
  forget(name: string): void {
    this.nodes.delete(name);
  }

  /**
   * The cloud's answer about `asked`: those in `down` (name → reason) cannot carry traffic, the
   * other asked ones can.
   */
  instancesChecked(asked: Iterable<string>, down: ReadonlyMap<string, string>): void {
    for (const name of asked) {
      const reason = down.get(name);
      if (reason !== undefined) this.record(name).instanceDown = reason;
      else {
        const r = this.nodes.get(name);
        if (r) r.instanceDown = undefined;
      }
    }
    for (const [name, reason] of down) this.record(name).instanceDown = reason;
  }

  /** Evaluates the Nodes in `names` (the eligible ones); records of others are left as they are. */
  evaluate(names: Iterable<string>, now: number): Evaluation {
    const { leaseStaleAfterMs, renewIntervalMs, settleMs, fullDisruptionFraction } = this.settings;
    const list = [...names];
    let withLease = 0;
    let stale = 0;
    for (const name of list) {
      const seen = this.nodes.get(name)?.leaseSeenAt;
      if (seen === undefined) continue;
      withLease++;
      if (now - seen > leaseStaleAfterMs) stale++;
    }
    const disrupted = stale >= 2 && stale / withLease > fullDisruptionFraction;
    const expectedGap = Math.min(
      renewIntervalMs,
      Math.max(MIN_EXPECTED_GAP_MS, (3 * renewIntervalMs) / Math.max(1, withLease)),
    );
    const leaseNow = Math.min(now, (this.lastRenewal ?? now) + expectedGap);
    const disruptionChanged = disrupted !== this.disrupted;
    if (disruptionChanged && !disrupted) {
      // Leaving full disruption: our view is back; every Lease gets a full period again.
      for (const r of this.nodes.values()) if (r.leaseSeenAt !== undefined) r.leaseSeenAt = now;
    }
    this.disrupted = disrupted;

    const out = new Map<string, NodeOut>();
    const changed: string[] = [];
    for (const name of list) {
      const r = this.nodes.get(name);
      if (!r) continue;
      const wasOut = r.out;
      const bad = this.badSignal(r, leaseNow, disrupted);
      if (bad) {
        if (!r.out || r.out.signal === 'settling') {
          r.out = { ...bad, since: r.out?.since ?? now };
        } else if (r.out.signal !== bad.signal) {
          r.out = { ...bad, since: r.out.since };
        }
        r.goodSince = undefined;
      } else if (r.out) {
        r.goodSince ??= now;
        if (now - r.goodSince >= settleMs) {
          r.out = undefined;
          r.goodSince = undefined;
        } else if (r.out.signal !== 'settling') {
          r.out = {
            signal: 'settling',
            reason: `back since ${secs(now - r.goodSince)}, settling`,
            since: r.out.since,
          };
        }
      }
      if (r.out) out.set(name, r.out);
      if (Boolean(wasOut) !== Boolean(r.out)) changed.push(name);
    }
    return { out, changed, fullDisruption: disrupted, disruptionChanged };
  }

  /** `leaseNow`: the clock Leases age by (see the top of the file). */
  private badSignal(
    r: NodeRecord,
    leaseNow: number,
    disrupted: boolean,
  ): { signal: OutSignal; reason: string } | undefined {
    if (r.instanceDown !== undefined) return { signal: 'instance', reason: r.instanceDown };
    if (disrupted || r.leaseSeenAt === undefined) return undefined;
    const age = leaseNow - r.leaseSeenAt;
    if (age > this.settings.leaseStaleAfterMs) {
      return { signal: 'lease', reason: `Lease not renewed for ${secs(age)}` };
    }
    return undefined;
  }
}

const MIN_EXPECTED_GAP_MS = 2_000;

const secs = (ms: number): string => `${Math.round(ms / 1000)}s`;
