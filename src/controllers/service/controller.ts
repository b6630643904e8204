// The service controller (upstream `service-lb-controller`): gives every `type: LoadBalancer`
// Service a load balancer from the cloud provider, keeps it pointed at healthy Nodes and deletes
// it with the Service. Cloud-agnostic: everything cloud-specific is behind LoadBalancer.
//
// One queue of Service keys. A reconcile takes one of three paths:
// - cleanup: the Service is being deleted or no longer wants a load balancer, and we own one
//   (our finalizer, or we ensured it in this process) → ensureLoadBalancerDeleted, clear status,
//   remove the finalizer;
// - ensure: first sight in this process, or anything the provider reads from the Service changed
//   → finalizer first, then ensureLoadBalancer, then status;
// - update: only the candidate Nodes can have changed (node-set change, endpoints moved for
//   externalTrafficPolicy Local, periodic resync) → updateLoadBalancer, and no cloud call at all
//   when the candidates are identical to the last successful sync (except on the periodic resync,
//   which always asks the provider so drift is repaired).
// Node changes schedule one debounced sweep that enqueues every load-balancer Service; the queue
// de-duplicates keys, so N Node changes cost at most one reconcile per Service.
// Warnings the provider returns with a status become Warning events once per Service: a
// warning is recorded again only after a sync without it, so a resync at rest writes nothing.
import { createHash } from 'node:crypto';
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import type {
  LoadBalancer,
  LoadBalancerIngress,
  LoadBalancerStatus,
  LoadBalancerWarning,
} from '../../cloud/provider.ts';
import { InvalidServiceConfigError } from '../../cloud/provider.ts';
import type { EventRecorder, EventType } from '../../kube/events.ts';
import { SERVICE_KIND } from '../../kube/events.ts';
import type { Informer } from '../../kube/informer.ts';
import { objectKey } from '../../kube/informer.ts';
import { ExponentialBackoff, WorkQueue } from '../../kube/workqueue.ts';
import type { Logger } from '../../log.ts';
import { V } from '../../log.ts';
import { serviceControllerMetrics } from './metrics.ts';
import { SERVICE_CONTROLLER } from '../../names.ts';
import type { Controller, ControllerContext } from '../controller.ts';
import { eventMessage, runWorkers } from '../runner.ts';
import { endpointNodeNames, LABEL_SERVICE_NAME } from './endpoints.ts';
import { FreshObjects } from '../../kube/fresh.ts';
import {
  hasFinalizer,
  isEligibleNode,
  isLocalTrafficPolicy,
  nodeFingerprint,
  sameIngress,
  serviceFingerprint,
  wantsLoadBalancer,
} from './predicates.ts';
import { countServices, reportServices } from '../state-metrics.ts';
import { addFinalizer, patchIngress, removeFinalizer } from './writes.ts';
import { compareNames } from '../../util/compare.ts';
import { Failover } from './failover/failover.ts';
import type { FailoverOptions } from './failover/failover.ts';
import { failoverMetrics } from './failover/metrics.ts';

export interface ServiceControllerOptions {
  /** --concurrent-service-syncs. */
  workers: number;
  /** Periodic resync of every load balancer against the current Nodes (upstream 100 s). */
  nodeSyncPeriodMs: number;
  /** Node changes within this window become one sweep. Default 200 ms. */
  nodeSyncDebounceMs?: number;
  /** Per-Service retry backoff; upstream 5 s doubling to 300 s. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Load-balancer failover on early signals (failover/failover.ts); default off. */
  failover?: FailoverOptions;
}

/** How one reconcile ended: the `result` field of its log line. */
export type ServiceSyncResult =
  | 'ensured'
  | 'updated'
  | 'resynced'
  | 'unchanged'
  | 'unavailable'
  | 'invalid'
  | 'deleted'
  | 'ignored';

/** What the last successful ensure/update of a Service gave the provider. */
interface Synced {
  /** The Service as last ensured; used to clean up if the object vanishes without us. */
  service: V1Service;
  fingerprint: string;
  /** Candidate Nodes passed last, or undefined to force the next update through to the cloud. */
  nodes: string | undefined;
  /** Periodic sweep number of the last provider call. */
  sweep: number;
  /**
   * The provider rejected this version of the Service (InvalidServiceConfigError): retry only
   * when the Service changes or on the next periodic sweep (the fault may be in the cloud, e.g.
   * a pool that does not exist yet), not on every Node change.
   */
  invalid?: boolean;
}

const EMPTY_NODES = '[]';

/** How long a Node's leaving is remembered for the NotReady path's failover latency. */
const LEFT_AT_KEPT_MS = 600_000;

/** Failover off (only NotReady moves a load balancer); the thresholds are then unused. */
const NO_FAILOVER: FailoverOptions = {
  signals: new Set(),
  healthCheckPort: 10256,
  healthCheckIntervalMs: 3_000,
  healthCheckTimeoutMs: 2_000,
  healthCheckFailures: 2,
  leaseStaleAfterMs: 25_000,
  instancePollMs: 60_000,
  settleMs: 20_000,
};

/** A sweep (upstream's node sync) in progress: done when each Service it queued was reconciled. */
interface NodeSync {
  started: number;
  services: number;
  pending: Set<string>;
  errors: number;
}

export class ServiceController implements Controller {
  readonly name = SERVICE_CONTROLLER;
  private readonly balancer: LoadBalancer;
  private readonly clusterName: string;
  private readonly kube: ControllerContext['kube'];
  private readonly recorder: EventRecorder;
  private readonly log: Logger;
  private readonly services: Informer<V1Service>;
  private readonly nodes: Informer<V1Node>;
  private readonly slices: Informer<V1EndpointSlice>;
  private readonly queue: WorkQueue;
  private readonly options: Required<Omit<ServiceControllerOptions, 'failover'>>;
  private readonly failover: Failover;
  /** When an eligible Node was seen to become ineligible or deleted (NotReady path latency). */
  private readonly leftAt = new Map<string, number>();
  private readonly synced = new Map<string, Synced>();
  /** Per Service key, the provider warnings of its last sync (reason + message), each recorded once. */
  private readonly warned = new Map<string, Set<string>>();
  private readonly fresh: FreshObjects<V1Service>;
  private readonly nodeFingerprints = new Map<string, string>();
  private eligible: V1Node[] | undefined;
  /** nodesKey per candidate list; the shared eligible list is rebuilt (new array) on any change. */
  private readonly nodesKeys = new WeakMap<readonly V1Node[], string>();
  private sweeps = 0;
  private started = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly nodeSyncs = new Set<NodeSync>();

  constructor(ctx: ControllerContext, options: ServiceControllerOptions) {
    const balancer = ctx.cloud.loadBalancer();
    if (!balancer) throw new Error(`${ctx.cloud.providerName()} provider has no load balancers`);
    this.balancer = balancer;
    this.clusterName = ctx.clusterName;
    this.kube = ctx.kube;
    this.recorder = ctx.recorder(SERVICE_CONTROLLER.eventSource, SERVICE_KIND);
    this.log = ctx.log.child({ controller: SERVICE_CONTROLLER.name });
    this.options = {
      workers: options.workers,
      nodeSyncPeriodMs: options.nodeSyncPeriodMs,
      nodeSyncDebounceMs: options.nodeSyncDebounceMs ?? 200,
      retryBaseMs: options.retryBaseMs ?? 5_000,
      retryMaxMs: options.retryMaxMs ?? 300_000,
    };
    this.queue = new WorkQueue({
      name: SERVICE_CONTROLLER.workqueue ?? SERVICE_CONTROLLER.name,
      backoff: new ExponentialBackoff(this.options.retryBaseMs, this.options.retryMaxMs),
    });
    this.services = ctx.informers.services();
    this.fresh = new FreshObjects(this.services.transform);
    this.nodes = ctx.informers.nodes();
    // The provider tells a Node's instance from any other machine by this (a copied owner
    // record on a machine outside the cluster is never acted on); candidates alone would not
    // do, since a failed Node is not one but its floating IP must move.
    balancer.setNodeLister?.(() => this.nodes.list());
    this.slices = ctx.informers.endpointSlices();
    const failover = options.failover ?? NO_FAILOVER;
    this.failover = new Failover(
      failover,
      {
        node: (name) => this.nodes.get(name),
        eligible: () => this.eligibleNodes(),
        changed: (names) => this.failoverChanged(names),
      },
      balancer,
      failover.signals.has('lease') ? ctx.informers.nodeLeases() : undefined,
      this.log.named('failover'),
    );
    this.services.addHandlers({
      add: (svc) => {
        if (this.relevant(svc)) this.queue.add(objectKey(svc));
      },
      update: (old, svc) => {
        if (!this.relevant(old) && !this.relevant(svc)) return;
        // Status-only and finalizer-only updates (our own writes among them) change nothing
        // the provider reads.
        const changed =
          serviceFingerprint(old) !== serviceFingerprint(svc) ||
          Boolean(old.metadata?.deletionTimestamp) !== Boolean(svc.metadata?.deletionTimestamp);
        if (changed) this.queue.add(objectKey(svc));
      },
      delete: (svc) => {
        const key = objectKey(svc);
        this.fresh.forget(key);
        if (this.synced.has(key)) this.queue.add(key);
      },
    });
    this.nodes.addHandlers({
      add: (node) => this.nodeChanged(node.metadata?.name ?? '', nodeFingerprint(node)),
      update: (_old, node) => this.nodeChanged(node.metadata?.name ?? '', nodeFingerprint(node)),
      delete: (node) => this.nodeChanged(node.metadata?.name ?? '', undefined),
    });
    const onSlice = (slice: V1EndpointSlice): void => {
      const name = slice.metadata?.labels?.[LABEL_SERVICE_NAME];
      if (!name) return;
      const key = `${slice.metadata?.namespace ?? ''}/${name}`;
      const svc = this.services.get(key);
      if (svc && this.relevant(svc) && isLocalTrafficPolicy(svc)) this.queue.add(key);
    };
    this.slices.addHandlers({
      add: onSlice,
      update: (_old, slice) => onSlice(slice),
      delete: onSlice,
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    try {
      await Promise.all([this.services, this.nodes, this.slices].map((i) => i.waitForSync(signal)));
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    this.started = true;
    reportServices(
      () => countServices(this.services.list().filter((svc) => this.serves(svc))),
      signal,
    );
    const periodic = setInterval(() => {
      this.sweeps += 1;
      this.sweep();
    }, this.options.nodeSyncPeriodMs);
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(periodic);
        clearTimeout(this.sweepTimer);
        this.queue.shutDown();
      },
      { once: true },
    );
    this.sweep();
    this.log.info({ workers: this.options.workers }, 'starting service controller');
    await Promise.all([
      runWorkers(
        this.queue,
        { name: SERVICE_CONTROLLER.name, reconcile: (key, s) => this.reconcile(key, s) },
        this.options.workers,
        this.log,
        signal,
      ),
      this.failover.run(signal),
    ]);
  }

  /** One Service key; throws to be retried with backoff. `signal`: the controller stops. */
  async reconcile(key: string, signal?: AbortSignal): Promise<void> {
    const started = performance.now();
    let result: ServiceSyncResult;
    try {
      result = await this.sync(key, signal);
    } finally {
      this.nodeSyncProgress(key, started);
    }
    const fields = {
      service: key,
      result,
      durationMs: Math.round(performance.now() - started),
    };
    // Upstream's levels: changes at 0, the periodic re-send of unchanged hosts is steady state
    // (2), reconciles that did nothing are debug (4).
    if (result === 'unchanged' || result === 'ignored') this.log.debug(fields, 'service synced');
    else if (result === 'resynced') this.log.v(V.steadyState).info(fields, 'service synced');
    else this.log.info(fields, 'service synced');
  }

  private async sync(key: string, signal: AbortSignal | undefined): Promise<ServiceSyncResult> {
    const cached = this.services.get(key);
    if (!cached) {
      this.fresh.forget(key);
      // Gone without our cleanup (someone removed the finalizer): delete what we created.
      const last = this.synced.get(key);
      if (!last) return 'ignored';
      return this.cleanup(key, last.service, false, signal);
    }
    const svc = this.fresh.read(key, cached);
    const deleting = Boolean(svc.metadata?.deletionTimestamp);
    if (deleting || !wantsLoadBalancer(svc, this.balancer.loadBalancerClass)) {
      if (!hasFinalizer(svc) && !this.synced.has(key)) return 'ignored';
      return this.cleanup(key, svc, !deleting, signal);
    }
    const prior = this.synced.get(key);
    const fingerprint = serviceFingerprint(svc);
    if (prior && prior.fingerprint === fingerprint && hasFinalizer(svc)) {
      if (!prior.invalid) return this.update(key, svc, prior, signal);
      if (prior.sweep === this.sweeps) return 'invalid';
    }
    return this.ensure(key, svc, fingerprint, signal);
  }

  private async ensure(
    key: string,
    svc: V1Service,
    fingerprint: string,
    signal: AbortSignal | undefined,
  ): Promise<ServiceSyncResult> {
    this.event(svc, 'Normal', 'EnsuringLoadBalancer', 'Ensuring load balancer');
    this.synced.delete(key);
    const nodes = this.candidateNodes(svc);
    if (nodes.length === 0) {
      this.event(
        svc,
        'Warning',
        'UnAvailableLoadBalancer',
        'There are no available nodes for LoadBalancer',
      );
    }
    let current = svc;
    let ingress: LoadBalancerIngress[];
    try {
      // The finalizer goes first: a load balancer must never exist that the Service's
      // deletion could skip.
      current = await this.write(key, current, addFinalizer(this.kube, current, signal));
      const status = await this.balancer.ensureLoadBalancer(
        this.clusterName,
        current,
        nodes,
        signal,
      );
      ingress = status.ingress;
      this.warn(key, svc, status.warnings);
      this.targetsNow(key, current, status);
      current = await this.writeIngress(key, current, ingress, signal);
    } catch (err) {
      if (signal?.aborted) throw err; // stopped, not failed: nothing to tell the Service
      this.event(
        current,
        'Warning',
        'SyncLoadBalancerFailed',
        `Error syncing load balancer: ${eventMessage(err)}`,
      );
      // Retrying an invalid Service unchanged cannot help; editing it re-queues it.
      if (err instanceof InvalidServiceConfigError) {
        const entry = { service: current, fingerprint, nodes: undefined, sweep: this.sweeps };
        this.synced.set(key, { ...entry, invalid: true });
        return 'invalid';
      }
      throw err;
    }
    this.event(current, 'Normal', 'EnsuredLoadBalancer', 'Ensured load balancer');
    this.synced.set(key, {
      service: current,
      fingerprint,
      nodes: this.nodesKey(nodes),
      sweep: this.sweeps,
    });
    return 'ensured';
  }

  private async update(
    key: string,
    svc: V1Service,
    prior: Synced,
    signal: AbortSignal | undefined,
  ): Promise<ServiceSyncResult> {
    const nodes = this.candidateNodes(svc);
    const nodesKey = this.nodesKey(nodes);
    if (nodes.length === 0) {
      // Nothing healthy to move to: keep the current target rather than detach to nowhere.
      if (prior.nodes !== EMPTY_NODES) {
        this.event(
          svc,
          'Warning',
          'UnAvailableLoadBalancer',
          'There are no available nodes for LoadBalancer',
        );
        prior.nodes = EMPTY_NODES;
      }
      return 'unavailable';
    }
    const nodesChanged = prior.nodes !== nodesKey;
    if (!nodesChanged && prior.sweep === this.sweeps) return 'unchanged';
    let current = svc;
    // Upstream's node-sync metrics: this path is the one a Node change or the periodic sync takes.
    serviceControllerMetrics.loadBalancerSync.inc();
    const updateStarted = performance.now();
    try {
      const status = await this.balancer
        .updateLoadBalancer(this.clusterName, svc, nodes, signal)
        .finally(() =>
          serviceControllerMetrics.updateHostLatency.observe(
            (performance.now() - updateStarted) / 1000,
          ),
        );
      if (status) {
        this.warn(key, svc, status.warnings);
        this.targetsNow(key, svc, status);
        current = await this.writeIngress(key, current, status.ingress, signal);
      }
    } catch (err) {
      if (signal?.aborted) {
        prior.nodes = undefined; // not known to be done: the next leader updates again
        throw err;
      }
      serviceControllerMetrics.nodeSyncErrors.inc();
      for (const sync of this.nodeSyncs) if (sync.pending.has(key)) sync.errors += 1;
      prior.nodes = undefined;
      const names = nodes.map((n) => n.metadata?.name ?? '').join(', ');
      this.event(
        svc,
        'Warning',
        'UpdateLoadBalancerFailed',
        `Error updating load balancer with new hosts [${names}]: ${eventMessage(err)}`,
      );
      throw err;
    }
    if (nodesChanged)
      this.event(current, 'Normal', 'UpdatedLoadBalancer', 'Updated load balancer with new hosts');
    this.synced.set(key, { ...prior, service: current, nodes: nodesKey, sweep: this.sweeps });
    return nodesChanged ? 'updated' : 'resynced';
  }

  /** clearStatus: the Service lives on as another type, so its load-balancer status must go. */
  private async cleanup(
    key: string,
    svc: V1Service,
    clearStatus: boolean,
    signal: AbortSignal | undefined,
  ): Promise<ServiceSyncResult> {
    this.event(svc, 'Normal', 'DeletingLoadBalancer', 'Deleting load balancer');
    let current = svc;
    try {
      const warnings = await this.balancer.ensureLoadBalancerDeleted(this.clusterName, svc, signal);
      // Each recorded: the Service is going, there is no later sync to repeat them at.
      this.warned.delete(key);
      this.warn(key, svc, warnings ?? undefined);
      this.warned.delete(key);
      this.synced.delete(key);
      this.failover.forget(key);
      if (clearStatus) current = await this.writeIngress(key, current, [], signal);
      if (this.services.get(key))
        current = await this.write(key, current, removeFinalizer(this.kube, current, signal));
    } catch (err) {
      if (signal?.aborted) throw err;
      this.event(
        current,
        'Warning',
        'DeleteLoadBalancerFailed',
        `Error deleting load balancer: ${eventMessage(err)}`,
      );
      throw err;
    }
    this.event(current, 'Normal', 'DeletedLoadBalancer', 'Deleted load balancer');
    return 'deleted';
  }

  /** Patches status only when the ingress list differs (ip, ipMode, order). */
  private async writeIngress(
    key: string,
    svc: V1Service,
    ingress: readonly LoadBalancerIngress[],
    signal: AbortSignal | undefined,
  ): Promise<V1Service> {
    if (sameIngress(svc.status?.loadBalancer?.ingress ?? [], ingress)) return svc;
    return this.write(key, svc, patchIngress(this.kube, svc, ingress, signal));
  }

  private async write(
    key: string,
    before: V1Service,
    written: Promise<V1Service>,
  ): Promise<V1Service> {
    const after = await written;
    if (after !== before) this.fresh.wrote(key, before, after);
    return after;
  }

  /**
   * Eligible Nodes (see isEligibleNode), sorted by name so the provider sees a stable order.
   * For externalTrafficPolicy Local only those with a ready endpoint of the Service; when no
   * eligible Node has one (pods starting, or all unready), every eligible Node, so the provider
   * keeps its current healthy target instead of churning the address, and moves it as soon as
   * an endpoint becomes ready (the EndpointSlice change re-queues the Service).
   */
  private candidateNodes(svc: V1Service): V1Node[] {
    return this.failover.candidates(objectKey(svc), svc, this.eligibleFor(svc));
  }

  /** Eligible Nodes in name order, the one shared list until a Node change rebuilds it. */
  private eligibleNodes(): V1Node[] {
    this.eligible ??= this.nodes
      .list()
      .filter(isEligibleNode)
      .sort((a, b) => compareNames(a.metadata?.name ?? '', b.metadata?.name ?? ''));
    return this.eligible;
  }

  private eligibleFor(svc: V1Service): V1Node[] {
    const eligible = this.eligibleNodes();
    if (!isLocalTrafficPolicy(svc) || eligible.length === 0) return eligible;
    const hosts = endpointNodeNames(
      this.slices.list(),
      svc.metadata?.namespace ?? '',
      svc.metadata?.name ?? '',
    );
    const local = eligible.filter((n) => hosts.has(n.metadata?.name ?? ''));
    return local.length > 0 ? local : eligible;
  }

  /**
   * The provider says where the load balancer sends traffic now. When that left a Node, one
   * Normal event per move names from, to and why, and the move is counted and timed.
   */
  private targetsNow(key: string, svc: V1Service, status: LoadBalancerStatus): void {
    const now = status.targetNodes;
    if (!now) return;
    const before = this.failover.targetsOf(key);
    const left = before.filter((n) => !now.includes(n));
    if (left.length > 0 && now.length > 0) {
      const to = now.filter((n) => !before.includes(n));
      const attached = performance.now();
      for (const from of left) {
        const why = this.failover.whyLeft(from, svc);
        failoverMetrics.failovers.inc({ reason: why.label });
        const since = why.since ?? this.leftAt.get(from);
        if (since !== undefined) {
          failoverMetrics.detectionToAttach.observe(Math.max(0, attached - since) / 1000);
        }
        this.event(
          svc,
          'Normal',
          'MovedLoadBalancer',
          `Moved load balancer from node ${from} to ${to.length > 0 ? `node ${to.join(', ')}` : 'its other target'}: ${why.text}`,
        );
        this.log.info(
          { service: key, from, to: to.join(','), reason: why.label, detail: why.text },
          'moved load balancer',
        );
      }
    }
    this.failover.setTargets(key, svc, now);
  }

  /** The failover view took these Nodes out or gave them back: re-sync who targets them. */
  private failoverChanged(names: readonly string[]): void {
    const set = new Set(names);
    for (const key of this.synced.keys()) {
      if (this.failover.targetsOf(key).some((n) => set.has(n))) this.queue.add(key);
    }
  }

  /**
   * A digest of the candidate Nodes and their fingerprints, kept per Service to tell whether its
   * Nodes changed. A digest, not the list itself: with 5000 Nodes the list is ~1 MB, and kept
   * for each of 1000 Services it was a gigabyte. The shared eligible list is digested once.
   */
  private nodesKey(nodes: readonly V1Node[]): string {
    const cached = this.nodesKeys.get(nodes);
    if (cached !== undefined) return cached;
    const hash = createHash('sha256');
    for (const n of nodes) {
      const name = n.metadata?.name ?? '';
      hash.update(JSON.stringify([name, this.nodeFingerprints.get(name) ?? nodeFingerprint(n)]));
    }
    const key = hash.digest('base64');
    this.nodesKeys.set(nodes, key);
    return key;
  }

  /** A Service this controller gives a load balancer now: its class, not deleting. */
  private serves(svc: V1Service): boolean {
    return (
      !svc.metadata?.deletionTimestamp && wantsLoadBalancer(svc, this.balancer.loadBalancerClass)
    );
  }

  private relevant(svc: V1Service): boolean {
    return (
      wantsLoadBalancer(svc, this.balancer.loadBalancerClass) ||
      hasFinalizer(svc) ||
      this.synced.has(objectKey(svc))
    );
  }

  /** fingerprint undefined: the Node was deleted. */
  private nodeChanged(name: string, fingerprint: string | undefined): void {
    const prev = this.nodeFingerprints.get(name);
    if (fingerprint === undefined) this.nodeFingerprints.delete(name);
    else this.nodeFingerprints.set(name, fingerprint);
    // An ineligible Node appearing or disappearing changes no candidate set.
    if ((prev ?? '') === (fingerprint ?? '')) return;
    if (prev && !fingerprint) this.leftAt.set(name, performance.now());
    else this.leftAt.delete(name);
    this.eligible = undefined;
    this.failover.nodesChanged();
    if (!this.started || this.sweepTimer) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      this.sweep();
    }, this.options.nodeSyncDebounceMs);
  }

  /**
   * Nothing queued, processing, scheduled for retry or waiting for a debounced sweep: every
   * change seen so far has been acted on. Tests wait for this instead of sleeping.
   */
  idle(): boolean {
    return this.started && this.sweepTimer === undefined && this.queue.idle();
  }

  /** Periodic resyncs so far (tests wait for one to have happened). */
  get resyncs(): number {
    return this.sweeps;
  }

  /** Enqueue every Service that has or wants a load balancer. */
  private sweep(): void {
    const keys = new Set<string>();
    for (const svc of this.services.list()) {
      if (this.relevant(svc)) keys.add(objectKey(svc));
    }
    for (const key of this.synced.keys()) {
      if (!this.services.get(key)) keys.add(key);
    }
    this.log
      .v(V.steadyState)
      .info({ services: keys.size }, 'syncing load balancers for all Services');
    const old = performance.now() - LEFT_AT_KEPT_MS;
    for (const [name, at] of this.leftAt) if (at < old) this.leftAt.delete(name);
    const sync: NodeSync = {
      started: performance.now(),
      services: keys.size,
      pending: keys,
      errors: 0,
    };
    this.nodeSyncs.add(sync);
    for (const key of keys) this.queue.add(key);
    this.nodeSyncProgress(undefined, sync.started);
  }

  /**
   * A reconcile of key that started at `started` ended: sweeps begun before it no longer wait
   * for key. A sweep with nothing left is one node sync, observed as upstream's nodesync latency.
   */
  private nodeSyncProgress(key: string | undefined, started: number): void {
    for (const sync of this.nodeSyncs) {
      if (key !== undefined && sync.started <= started) sync.pending.delete(key);
      if (sync.pending.size > 0) continue;
      this.nodeSyncs.delete(sync);
      const seconds = (performance.now() - sync.started) / 1000;
      serviceControllerMetrics.nodeSyncLatency.observe(seconds);
      this.log.v(V.steadyState).info(
        {
          services: sync.services,
          failed: sync.errors,
          seconds: Math.round(seconds * 1000) / 1000,
        },
        'synced load balancers for all Services',
      );
    }
  }

  /** Records the warnings not recorded at this Service's last sync; forgets the ones gone since. */
  private warn(key: string, svc: V1Service, warnings: LoadBalancerWarning[] | undefined): void {
    const before = this.warned.get(key);
    const now = new Set<string>();
    for (const w of warnings ?? []) {
      const id = `${w.reason}\n${w.message}`;
      now.add(id);
      if (before?.has(id)) continue;
      this.log.warn(
        { service: key, reason: w.reason, message: w.message },
        'load balancer warning',
      );
      this.event(svc, 'Warning', w.reason, w.message);
    }
    if (now.size > 0) this.warned.set(key, now);
    else this.warned.delete(key);
  }

  private event(svc: V1Service, type: EventType, reason: string, message: string): void {
    this.recorder.event(svc, type, reason, message);
  }
}
