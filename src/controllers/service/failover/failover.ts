// Load-balancer failover in seconds rather than after kube-controller-manager's Node grace period
// (40-50 s after the last heartbeat). Three early signals, each cheap at thousands of Nodes, feed
// one view of which Nodes the service controller offers to the provider:
// - health checks (health-check): the target Nodes of every load balancer, plus a spare or two,
//   are checked as a cloud load balancer checks them: kube-proxy's /healthz (port 10256) for
//   externalTrafficPolicy Cluster, the Service's healthCheckNodePort for Local. Only those
//   endpoints, never every Node;
// - the instance (instance-state): the provider's LoadBalancer.nodesDown about the same Nodes,
//   at once when a health check of one of them fails, else every poll period (on Oxide one
//   instance list for the project, whatever the number of Nodes; the list is most of what
//   failover costs at rest, so the period is long);
// - the kubelet's Lease (lease) in kube-node-lease, from a watch slimmed to name and renewTime.
// The decisions are node-signals.ts, probe-state.ts and candidates.ts (pure, unit-tested), the
// checks run in health-checks.ts; this file chooses what to watch, feeds the signals in and tells
// the controller which Nodes changed.
import type { V1Node, V1Service } from '@kubernetes/client-node';
import type { LoadBalancer } from '../../../cloud/provider.ts';
import type { FailoverSignal } from '../../../config/failover-signals.ts';
import type { Informer } from '../../../kube/informer.ts';
import type { NodeLease } from '../../../kube/informers.ts';
import { readyStatus } from '../../../kube/well-known.ts';
import type { Logger } from '../../../log.ts';
import { V } from '../../../log.ts';
import { failoverCandidates } from './candidates.ts';
import { failoverMetrics } from './metrics.ts';
import type { FailoverReason } from './metrics.ts';
import { NodeSignals } from './node-signals.ts';
import type { NodeOut } from './node-signals.ts';
import { endpointKey, HealthChecks } from './health-checks.ts';
import type { EndpointTarget } from './health-checks.ts';

export interface FailoverOptions {
  /** Signals in use (--lb-failover); empty: only NotReady moves a load balancer. */
  signals: ReadonlySet<FailoverSignal>;
  /** kube-proxy's healthz port, checked for externalTrafficPolicy Cluster. */
  healthCheckPort: number;
  healthCheckIntervalMs: number;
  healthCheckTimeoutMs: number;
  /** Consecutive failed checks that make a Node fail. */
  healthCheckFailures: number;
  leaseStaleAfterMs: number;
  instancePollMs: number;
  /** A Node that was out is offered again after its signals are good for this long. */
  settleMs: number;
}

/** What the controller gives the failover view. */
export interface FailoverHost {
  node(name: string): V1Node | undefined;
  /** The eligible Nodes, in the controller's order. */
  eligible(): readonly V1Node[];
  /** These Nodes went out or came back: re-sync the Services that target them. */
  changed(nodes: readonly string[]): void;
}

/** Why a load balancer left a Node, for its event and metric. */
export interface LeaveReason {
  label: FailoverReason;
  text: string;
  /** When it was detected (performance.now()), for the detection-to-attach latency. */
  since: number | undefined;
}

/** A spare is checked besides the targets, so a failing target has a known-good place to go. */
const SPARES = 2;
const TICK_MS = 1_000;
const FULL_DISRUPTION_FRACTION = 0.55;
/** kubelet renews its Lease every 10 s (a quarter of its 40 s duration) unless configured otherwise. */
const KUBELET_RENEW_INTERVAL_MS = 10_000;

interface ServiceTargets {
  nodes: readonly string[];
  /** The Service's health-check port (kube-proxy's, or its healthCheckNodePort). */
  port: number;
}

const nameOf = (n: V1Node): string => n.metadata?.name ?? '';

/** The first InternalIP: where kube-proxy listens for the load balancer's checks. */
const internalIp = (node: V1Node | undefined): string | undefined =>
  node?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;

export class Failover {
  private readonly options: FailoverOptions;
  private readonly host: FailoverHost;
  private readonly balancer: LoadBalancer;
  private readonly log: Logger;
  private readonly signals: NodeSignals;
  private readonly checks: HealthChecks | undefined;
  private readonly targets = new Map<string, ServiceTargets>();
  private out = new Map<string, NodeOut>();
  /** Bumped whenever `out` or a health verdict changes: the shared candidate list is rebuilt. */
  private epoch = 0;
  private shared: { base: readonly V1Node[]; epoch: number; result: V1Node[] } | undefined;
  private endpointsDirty = true;
  private running = false;
  private signal: AbortSignal | undefined;
  private polling = false;

  constructor(
    options: FailoverOptions,
    host: FailoverHost,
    balancer: LoadBalancer,
    leases: Informer<NodeLease> | undefined,
    log: Logger,
  ) {
    this.options = options;
    this.host = host;
    this.balancer = balancer;
    this.log = log;
    this.signals = new NodeSignals({
      leaseStaleAfterMs: options.leaseStaleAfterMs,
      renewIntervalMs: KUBELET_RENEW_INTERVAL_MS,
      settleMs: options.settleMs,
      fullDisruptionFraction: FULL_DISRUPTION_FRACTION,
    });
    if (options.signals.has('health-check')) {
      this.checks = new HealthChecks(
        {
          intervalMs: options.healthCheckIntervalMs,
          timeoutMs: options.healthCheckTimeoutMs,
          failures: options.healthCheckFailures,
          settleMs: options.settleMs,
        },
        log,
        (node, failingChanged) => {
          // A first pass changes which Nodes pass now (the candidates of a failing target's
          // Service), a change to or from failing changes who is offered at all.
          this.epoch++;
          if (failingChanged) this.host.changed([node]);
        },
        // The first failed check of a Node that answered before: ask the cloud now whether its
        // instance still runs, rather than wait for the next poll or the remaining failures.
        options.signals.has('instance-state') ? () => void this.pollInstances() : undefined,
      );
    }
    // Per event: a Map write when renewTime moved, nothing else (100 events/s at 1000 Nodes).
    leases?.addHandlers({
      add: (lease) => this.signals.leaseRenewed(lease.metadata?.name ?? '', performance.now()),
      update: (old, lease) => {
        if (old.spec?.renewTime !== lease.spec?.renewTime) {
          this.signals.leaseRenewed(lease.metadata?.name ?? '', performance.now());
        }
      },
      // The Node is gone (its Lease is garbage-collected with it): nothing to remember.
      delete: (lease) => this.signals.forget(lease.metadata?.name ?? ''),
    });
  }

  get enabled(): boolean {
    return this.options.signals.size > 0;
  }

  async run(signal: AbortSignal): Promise<void> {
    if (!this.enabled) return;
    this.signal = signal;
    this.running = true;
    const tick = setInterval(() => this.evaluate(), TICK_MS);
    const poll = this.options.signals.has('instance-state')
      ? setInterval(() => void this.pollInstances(), this.options.instancePollMs)
      : undefined;
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        clearInterval(tick);
        clearInterval(poll);
        this.running = false;
        this.checks?.stop();
        resolve();
      };
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    });
  }

  /** The Nodes the provider may target for this Service, from its eligible ones. */
  candidates(key: string, svc: V1Service, eligible: V1Node[]): V1Node[] {
    if (!this.enabled || eligible.length === 0) return eligible;
    const port = this.portOf(svc);
    const targets = this.targets.get(key)?.nodes ?? [];
    const verdict = (n: string) => this.checks?.health(n, port)?.verdict;
    // A Local Service's spare is known by kube-proxy's own check on that Node; the controller
    // already offers only Nodes with a ready endpoint of the Service.
    const passing = (n: string) =>
      this.checks?.health(n, port)?.passingNow ??
      this.checks?.health(n, this.options.healthCheckPort)?.passingNow ??
      false;
    const targetFails = targets.some((t) => verdict(t) === 'failing');
    if (!targetFails && port === this.options.healthCheckPort && !isLocal(svc)) {
      // Every Cluster Service whose target is fine gets the same list: built once per change.
      const s = this.shared;
      if (s?.base === eligible && s.epoch === this.epoch) return s.result;
      const result = failoverCandidates({ eligible, targets: [], out: this.out, verdict, passing });
      this.shared = { base: eligible, epoch: this.epoch, result };
      return result;
    }
    return failoverCandidates({ eligible, targets, out: this.out, verdict, passing });
  }

  /** Where the Service's load balancer sends traffic now (from the provider's status). */
  setTargets(key: string, svc: V1Service, nodes: readonly string[]): void {
    const prev = this.targets.get(key);
    const port = this.portOf(svc);
    if (prev && prev.port === port && sameList(prev.nodes, nodes)) return;
    this.targets.set(key, { nodes: [...nodes], port });
    this.endpointsDirty = true;
    if (this.running) this.syncEndpoints();
  }

  targetsOf(key: string): readonly string[] {
    return this.targets.get(key)?.nodes ?? [];
  }

  forget(key: string): void {
    if (this.targets.delete(key)) {
      this.endpointsDirty = true;
      if (this.running) this.syncEndpoints();
    }
  }

  /** The eligible Nodes changed (the controller's list was rebuilt). */
  nodesChanged(): void {
    this.endpointsDirty = true;
  }

  /** Why a load balancer on `name` would leave it now; undefined when nothing says so. */
  whyLeft(name: string, svc: V1Service | undefined): LeaveReason {
    const out = this.out.get(name);
    if (out && out.signal !== 'settling') {
      return {
        label: out.signal === 'lease' ? 'lease' : 'instance_state',
        text: out.reason,
        since: out.since,
      };
    }
    const port = svc ? this.portOf(svc) : this.options.healthCheckPort;
    const health = this.checks?.health(name, port);
    if (health?.verdict === 'failing') {
      return { label: 'health_check', text: 'health check failed', since: health.failingSince };
    }
    const node = this.host.node(name);
    if (node && readyStatus(node) !== 'True') {
      return { label: 'not_ready', text: 'Node not Ready', since: undefined };
    }
    let text = 'Node deleted';
    if (node) {
      text = this.host.eligible().some((n) => nameOf(n) === name)
        ? 'no ready endpoint of the Service on the Node'
        : 'Node no longer eligible';
    }
    return { label: 'other', text, since: undefined };
  }

  /** Endpoints (Node × port) are their health; a Service names its port. */
  private portOf(svc: V1Service): number {
    if (isLocal(svc) && svc.spec?.healthCheckNodePort) return svc.spec.healthCheckNodePort;
    return this.options.healthCheckPort;
  }

  /** The Nodes watched: every target and the spares. */
  private watched(): Set<string> {
    const names = new Set<string>();
    for (const t of this.targets.values()) for (const n of t.nodes) names.add(n);
    let spares = 0;
    for (const n of this.host.eligible()) {
      if (spares >= SPARES) break;
      const name = nameOf(n);
      if (names.has(name) || this.out.has(name)) continue;
      names.add(name);
      spares++;
    }
    return names;
  }

  private evaluate(): void {
    if (this.endpointsDirty) this.syncEndpoints();
    const now = performance.now();
    const eligible = this.host.eligible().map(nameOf);
    const e = this.signals.evaluate(eligible, now);
    if (e.disruptionChanged) {
      failoverMetrics.fullDisruption.set(e.fullDisruption ? 1 : 0);
      if (e.fullDisruption) {
        this.log.warn(
          { nodes: eligible.length, staleAfter: `${this.options.leaseStaleAfterMs / 1000}s` },
          'most kubelet Leases are stale at once: taking this as our view of the apiserver being broken, not the kubelets; load balancers are not moved for stale Leases until it clears',
        );
      } else {
        this.log.info('kubelet Leases are renewed again: the Lease signal is back');
      }
    }
    this.out = e.out;
    if (e.changed.length > 0) {
      this.epoch++;
      for (const name of e.changed) {
        const out = e.out.get(name);
        this.log
          .v(V.steadyState)
          .info(
            { node: name, state: out ? out.signal : 'in', reason: out?.reason ?? '' },
            'load-balancer failover: Node state changed',
          );
      }
      this.endpointsDirty = true;
      this.host.changed(e.changed);
    }
  }

  private async pollInstances(): Promise<void> {
    if (this.polling || !this.balancer.nodesDown || this.targets.size === 0) return;
    if (!this.running) return;
    this.polling = true;
    try {
      const names = [...this.watched()];
      const nodes = names.map((n) => this.host.node(n)).filter((n) => n !== undefined);
      const down = await this.balancer.nodesDown(nodes, this.signal);
      this.signals.instancesChecked(names, new Map(down.map((d) => [d.node, d.reason])));
      // At once, not at the next tick: an instance that stopped is an outage now.
      if (down.length > 0 || this.out.size > 0) this.evaluate();
    } catch (err) {
      if (!this.signal?.aborted) {
        this.log.v(V.steadyState).info({ err: String(err) }, 'instance state poll failed');
      }
    } finally {
      this.polling = false;
    }
  }

  /** Checks the endpoints now watched: every target's on its Service's port, the spares'. */
  private syncEndpoints(): void {
    this.endpointsDirty = false;
    if (!this.checks) return;
    const want = new Map<string, EndpointTarget>();
    const add = (node: string, port: number): void => {
      const k = endpointKey(node, port);
      if (want.has(k)) return;
      const host = internalIp(this.host.node(node));
      if (host) want.set(k, { node, host, port });
    };
    for (const t of this.targets.values()) for (const n of t.nodes) add(n, t.port);
    for (const name of this.watched()) add(name, this.options.healthCheckPort);
    this.checks.sync(want);
  }
}

const isLocal = (svc: V1Service): boolean => svc.spec?.externalTrafficPolicy === 'Local';

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
