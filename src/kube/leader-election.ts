// Lease-based leader election with client-go's leaderelection semantics, so that this CCM and a
// Go CCM on the same Lease never both lead:
// - a candidate takes the Lease only when it is unheld (holderIdentity "") or when the holder has
//   not changed it for leaseDurationSeconds *as observed on our own clock* (no trust in the
//   holder's clock);
// - every write is an update carrying the resourceVersion read, so two candidates cannot both
//   win (the loser gets 409 and tries again after the retry period);
// - the leader renews every retry period; if renewing keeps failing for the renew deadline it
//   stops leading (and the process exits), which is before any candidate may take over;
// - on shutdown the leader releases the Lease like ReleaseOnCancel: holderIdentity "" and
//   leaseDurationSeconds 1, so a standby takes over at its next retry instead of a lease later;
// - a lost Lease ends the leader's work at once, as upstream's OnStoppedLeading (klog.Fatalf
//   "leaderelection lost"): run() returns without waiting for it and the process exits. Until
//   then the LeaderFence, which every client the leader's work uses checks before each request
//   and whose signal aborts their requests in flight, refuses to act once the Lease may be
//   another's: after a renewal fails for the renew deadline, after another holder is seen, or
//   when the last successful renewal is a lease duration old on the monotonic clock (a process
//   frozen by SIGSTOP or a long pause wakes up refusing, before its elector has even run).
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient } from './client.ts';
import { isConflict, isNotFound } from './client.ts';
import { leaderMetrics } from './metrics.ts';
import type { Logger } from '../log.ts';

/** client-go's JitterFactor for the acquire loop. */
const JITTER_FACTOR = 1.2;
/** Upstream's controller-manager healthz tolerance beyond the lease duration. */
const MAX_TOLERABLE_EXPIRED_LEASE_MS = 20_000;

export interface LeaderElectionConfig {
  kube: KubeClient;
  namespace: string;
  name: string;
  /** Unique per process; `<hostname>_<uuid>` by default. */
  identity?: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Give the Lease up when the run signal aborts while leading (client-go ReleaseOnCancel). */
  releaseOnCancel: boolean;
  /** Shared with the clients of the leader's work; the elector trips it when leadership ends. */
  fence?: LeaderFence;
  log: Logger;
}

export interface LeaderCallbacks {
  /** Runs the leader's work; its signal aborts when leadership ends. Awaited before release. */
  onStartedLeading(signal: AbortSignal): Promise<void>;
  /**
   * The Lease was lost. Called at once, before run() returns and without waiting for the work
   * to end; the program should exit (it may not act any more).
   */
  onStoppedLeading?(): void;
  /** Another identity was observed holding the Lease. */
  onNewLeader?(identity: string): void;
}

/**
 * Whether the leader may still act. Clients built for the leader's work take one at
 * construction: assertLeading() before every request, `signal` aborts their requests in flight.
 */
export class LeaderFence {
  private readonly controller = new AbortController();
  /** Monotonic deadline; unbounded until leadership starts (startup checks run before it). */
  private validUntil = Number.POSITIVE_INFINITY;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Throws (and aborts everything in flight) when the Lease may no longer be ours. */
  assertLeading(): void {
    if (!this.signal.aborted && performance.now() > this.validUntil) {
      this.lose(new Error('leaderelection lost: lease not renewed within its duration'));
    }
    if (this.signal.aborted) throw this.signal.reason;
  }

  /** A renewal that started at `startedAt` succeeded: nobody else can hold the Lease before this. */
  renewed(validUntil: number): void {
    this.validUntil = validUntil;
  }

  lose(reason: Error): void {
    this.controller.abort(reason);
  }
}

/** Why run() returned: the caller's signal ("stopped"), or the Lease could not be renewed ("lost"). */
export type LeaderElectionOutcome = 'stopped' | 'lost';

export const defaultIdentity = (): string => `${hostname()}_${randomUUID()}`;

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits, UTC. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime strings: we read raw JSON, so client-node's Date conversion never happens. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** coordination.k8s.io/v1 Lease, as much of it as election touches. */
interface V1Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: LeaseSpec & Record<string, unknown>;
}

export class LeaderElector {
  readonly identity: string;
  private readonly config: LeaderElectionConfig;
  private readonly path: string;
  /** Last spec we saw (JSON) and when we first saw it, on the monotonic clock. */
  private observedRaw = '';
  private observedSpec: LeaseSpec = {};
  private observedAt = 0;
  private leading = false;
  private lastLeader = '';

  constructor(config: LeaderElectionConfig) {
    this.config = config;
    this.identity = config.identity ?? defaultIdentity();
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(config.namespace)}/leases`;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder we last observed ('' when unheld or not read yet). */
  leader(): string {
    return this.observedSpec.holderIdentity ?? '';
  }

  /** For /healthz: fails when we think we lead but have not renewed for far too long. */
  check(): string | undefined {
    if (!this.leading) return undefined;
    const sinceRenew = performance.now() - this.observedAt;
    if (sinceRenew > this.config.leaseDurationMs + MAX_TOLERABLE_EXPIRED_LEASE_MS)
      return `leader election: lease ${this.config.namespace}/${this.config.name} not renewed for ${Math.round(sinceRenew / 1000)}s`;
    return undefined;
  }

  /**
   * Campaigns until leading, runs callbacks.onStartedLeading, renews until signal aborts or
   * renewing fails for the renew deadline. Never rejects on API errors (they are retried).
   */
  async run(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<LeaderElectionOutcome> {
    const { log, namespace, name } = this.config;
    const lease = `${namespace}/${name}`;
    const labels = { name };
    leaderMetrics.masterStatus.set(labels, 0);
    log.info({ lease, identity: this.identity }, 'attempting to acquire leader lease');
    if (!(await this.acquire(signal, callbacks))) return 'stopped';

    log.info({ lease, identity: this.identity }, 'successfully acquired lease');
    leaderMetrics.masterStatus.set(labels, 1);
    const work = new AbortController();
    const onAbort = (): void => work.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const running = callbacks.onStartedLeading(work.signal).catch((err: unknown) => {
      log.error({ err: String(err) }, 'leader work failed');
    });

    const outcome = await this.renew(signal);
    signal.removeEventListener('abort', onAbort);
    if (outcome === 'lost') {
      // Stop acting now: every request in flight aborts, none starts, and nobody waits for the
      // work to wind down (it could retry Oxide calls for many seconds while another leads).
      const reason = new Error('leaderelection lost');
      this.config.fence?.lose(reason);
      work.abort(reason);
      this.leading = false;
      leaderMetrics.masterStatus.set(labels, 0);
      log.error({ lease, identity: this.identity }, 'leaderelection lost');
      callbacks.onStoppedLeading?.();
      return outcome;
    }
    work.abort(new Error(`leader election ${outcome}`));
    // Controllers stop before the Lease is given up, so the next leader never overlaps them.
    await running;
    this.config.fence?.lose(new Error('leader election stopped'));
    leaderMetrics.masterStatus.set(labels, 0);
    if (this.config.releaseOnCancel) {
      await this.release();
    }
    this.leading = false;
    return outcome;
  }

  private async acquire(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<boolean> {
    while (!signal.aborted) {
      const attempt = AbortSignal.any([signal, AbortSignal.timeout(this.config.renewDeadlineMs)]);
      if (await this.tryAcquireOrRenew(attempt)) return true;
      const holder = this.leader();
      if (holder !== '' && holder !== this.lastLeader) {
        this.lastLeader = holder;
        this.config.log.info({ leader: holder }, 'new leader elected');
        callbacks.onNewLeader?.(holder);
      }
      const jittered = this.config.retryPeriodMs * (1 + Math.random() * JITTER_FACTOR);
      await sleep(jittered, undefined, { signal }).catch(() => undefined);
    }
    return false;
  }

  /** client-go renew(): each round retries every retry period until the renew deadline. */
  private async renew(signal: AbortSignal): Promise<LeaderElectionOutcome> {
    const fence = this.config.fence?.signal;
    const wake = fence ? AbortSignal.any([signal, fence]) : signal;
    while (!signal.aborted) {
      await sleep(this.config.retryPeriodMs, undefined, { signal: wake }).catch(() => undefined);
      if (signal.aborted) break;
      if (fence?.aborted) return 'lost';
      const deadline = AbortSignal.timeout(this.config.renewDeadlineMs);
      let renewed = false;
      while (!renewed && !deadline.aborted && !signal.aborted) {
        renewed = await this.tryAcquireOrRenew(AbortSignal.any([signal, deadline]));
        // Another holder has it (they waited out our lease): lost now, not at the deadline.
        if (!renewed && this.heldByOther()) return 'lost';
        if (!renewed) {
          await sleep(this.config.retryPeriodMs, undefined, {
            signal: AbortSignal.any([signal, deadline]),
          }).catch(() => undefined);
        }
      }
      if (signal.aborted) break;
      if (!renewed) return 'lost';
    }
    return 'stopped';
  }

  private heldByOther(): boolean {
    const holder = this.observedSpec.holderIdentity ?? '';
    return holder !== '' && holder !== this.identity;
  }

  private observe(spec: LeaseSpec): void {
    const raw = JSON.stringify([
      spec.holderIdentity ?? '',
      spec.leaseDurationSeconds ?? 0,
      spec.acquireTime ?? '',
      spec.renewTime ?? '',
      spec.leaseTransitions ?? 0,
    ]);
    if (raw !== this.observedRaw) {
      this.observedRaw = raw;
      this.observedSpec = spec;
      this.observedAt = performance.now();
    }
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const started = performance.now();
    const now = new Date();
    const mine: LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.max(1, Math.round(this.config.leaseDurationMs / 1000)),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    const { kube, name, namespace, log } = this.config;
    let current: V1Lease;
    try {
      current = await kube.get<V1Lease>(`${this.path}/${encodeURIComponent(name)}`, { signal });
    } catch (err) {
      if (!isNotFound(err)) {
        if (stopping(signal)) log.debug({ err: String(err) }, 'leader lease read cut by shutdown');
        else log.warn({ err: String(err) }, 'error retrieving leader lease');
        return false;
      }
      try {
        const created = await kube.post<V1Lease>(
          this.path,
          {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace },
            spec: mine,
          },
          { signal },
        );
        this.observe(toSpec(created));
        this.succeeded(started);
        return true;
      } catch (createErr) {
        log.debug({ err: String(createErr) }, 'error creating leader lease');
        return false;
      }
    }

    const old = toSpec(current);
    this.observe(old);
    const heldByOther = (old.holderIdentity ?? '') !== '' && old.holderIdentity !== this.identity;
    const validFor = (old.leaseDurationSeconds ?? 0) * 1000;
    if (heldByOther && performance.now() < this.observedAt + validFor) {
      this.leading = false;
      return false;
    }
    if (old.holderIdentity === this.identity) {
      mine.acquireTime = old.acquireTime ?? mine.acquireTime;
      mine.leaseTransitions = old.leaseTransitions ?? 0;
    } else {
      mine.leaseTransitions = (old.leaseTransitions ?? 0) + 1;
    }
    try {
      const updated = await this.update(current, mine, signal);
      this.observe(toSpec(updated));
      this.succeeded(started);
      return true;
    } catch (err) {
      if (isConflict(err)) log.debug({ err: String(err) }, 'leader lease changed concurrently');
      else if (stopping(signal))
        log.debug({ err: String(err) }, 'leader lease update cut by shutdown');
      else log.warn({ err: String(err) }, 'error updating leader lease');
      return false;
    }
  }

  /**
   * A write of ours that started at `started` succeeded: no candidate can take the Lease before
   * it has seen it unchanged for a lease duration, which is after started + leaseDuration.
   */
  private succeeded(started: number): void {
    this.leading = true;
    this.config.fence?.renewed(started + this.config.leaseDurationMs);
  }

  private update(current: V1Lease, spec: LeaseSpec, signal: AbortSignal): Promise<V1Lease> {
    const body: V1Lease = { ...current, spec: { ...current.spec, ...spec } };
    return this.config.kube.put<V1Lease>(
      `${this.path}/${encodeURIComponent(this.config.name)}`,
      body,
      { signal },
    );
  }

  /** client-go release(): keep the transitions count, clear the holder, 1 s duration. */
  private async release(): Promise<void> {
    const { kube, name, log } = this.config;
    const signal = AbortSignal.timeout(this.config.renewDeadlineMs);
    try {
      const current = await kube.get<V1Lease>(`${this.path}/${encodeURIComponent(name)}`, {
        signal,
      });
      if (toSpec(current).holderIdentity !== this.identity) return;
      const now = microTime(new Date());
      await this.update(
        current,
        {
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: current.spec?.leaseTransitions ?? 0,
        },
        signal,
      );
      log.info({ lease: `${this.config.namespace}/${name}` }, 'released leader lease');
    } catch (err) {
      log.error({ err: String(err) }, 'failed to release leader lease');
    }
  }
}

/**
 * The attempt was aborted by shutdown, not by the renew deadline (a TimeoutError): a request
 * cut short by SIGTERM is expected and is no warning.
 */
function stopping(signal: AbortSignal): boolean {
  return (
    signal.aborted && (signal.reason as { name?: unknown } | undefined)?.name !== 'TimeoutError'
  );
}

function toSpec(lease: V1Lease): LeaseSpec {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: spec.acquireTime ?? '',
    renewTime: spec.renewTime ?? '',
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
}
