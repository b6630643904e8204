// Records core/v1 Events the way client-go's recorder and EventCorrelator do, so `kubectl
// describe` shows what happened without a failing object flooding etcd:
// - the involved object's kind and apiVersion come from the recorder (objects from list/watch do
//   not carry them, and an Event without a kind is invisible to `kubectl describe`);
// - an Event repeated with the same source, object, type, reason and message is one object whose
//   `count` and `lastTimestamp` are patched (EventLogger);
// - more than 10 different messages for the same source, object, type and reason within 10
//   minutes are combined into one Event "(combined from similar events): <latest message>"
//   (EventAggregator);
// - each source+object pair may write 25 Events at once, then one per 5 minutes (the spam
//   filter); counts keep accumulating meanwhile and the next admitted patch carries them.
// Writes are sent one at a time from a bounded queue (client-go's broadcaster drops when its
// 1000-slot channel is full): recording never blocks a controller and never piles up requests.
// A message is cut to 1024 characters (events.k8s.io's limit on `note`): messages quote what a
// tenant wrote, and a 100 KB annotation must not become a 100 KB Event in etcd.
import { createHash } from 'node:crypto';
import type { KubeClient } from './client.ts';
import { isNotFound, KubeApiError } from './client.ts';
import type { Logger } from '../log.ts';
import { cap } from '../util/quote.ts';

export type EventType = 'Normal' | 'Warning';

/** The type of the objects a recorder reports on: what client-go gets from the scheme. */
export interface InvolvedKind {
  apiVersion: string;
  kind: string;
}

export const NODE_KIND: InvolvedKind = { apiVersion: 'v1', kind: 'Node' };
export const SERVICE_KIND: InvolvedKind = { apiVersion: 'v1', kind: 'Service' };

/** core/v1 ObjectReference, as much as an Event names. */
export interface ObjectReference {
  apiVersion: string;
  kind: string;
  name?: string | undefined;
  namespace?: string | undefined;
  uid?: string | undefined;
  resourceVersion?: string | undefined;
}

/** core/v1 Event as this recorder writes it (plain data: timestamps are RFC 3339 strings). */
export interface EventBody {
  metadata: { name?: string; namespace: string };
  involvedObject: ObjectReference;
  type: EventType;
  reason: string;
  message: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string; host: string };
  reportingComponent: string;
  reportingInstance: string;
}

export interface EventObject {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface EventRecorder {
  event(obj: EventObject, type: EventType, reason: string, message: string): void;
}

/** client-go defaults (tools/record/events_cache.go). */
export const CORRELATOR_DEFAULTS = {
  lruCacheSize: 4096,
  maxEvents: 10,
  maxIntervalMs: 600_000,
  spamBurst: 25,
  spamQps: 1 / 300,
  queueSize: 1000,
};

export type CorrelatorOptions = typeof CORRELATOR_DEFAULTS;

/** events.k8s.io/v1 refuses a longer `note`; core/v1 has no limit, so the recorder keeps this one. */
export const MESSAGE_LIMIT = 1024;

/**
 * Map with least-recently-used eviction beyond `size` entries. Keys are kept as 144-bit digests:
 * a correlator key joins source, object, reason and message (~135 characters): with the caches
 * full (4096 Events, e.g. after 1000 Services churned) digests took them from 3.8 to 2.9 MiB.
 */
class Lru<V> {
  private readonly map = new Map<string, V>();
  private readonly size: number;

  constructor(size: number) {
    this.size = size;
  }

  get(key: string): V | undefined {
    const k = digest(key);
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }

  set(key: string, value: V): void {
    const k = digest(key);
    this.map.delete(k);
    this.map.set(k, value);
    if (this.map.size > this.size) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
  }

  delete(key: string): void {
    this.map.delete(digest(key));
  }
}

const digest = (key: string): string =>
  createHash('sha256').update(key).digest().toString('base64', 0, 18);

interface Aggregate {
  messages: Set<string>;
  lastMs: number;
}

interface Observed {
  name: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

/** What the correlator decided for one event: nothing, a create, or a patch of an existing one. */
export type Correlated =
  | { action: 'skip' }
  | { action: 'create'; key: string; event: EventBody }
  | { action: 'patch'; key: string; event: EventBody };

/** client-go's EventCorrelator: aggregation, deduplication and the spam filter. Pure and sync. */
export class EventCorrelator {
  private readonly options: CorrelatorOptions;
  private readonly aggregates: Lru<Aggregate>;
  private readonly observed: Lru<Observed>;
  private readonly buckets: Lru<Bucket>;
  private readonly now: () => number;

  constructor(options: Partial<CorrelatorOptions> = {}, now: () => number = Date.now) {
    this.options = { ...CORRELATOR_DEFAULTS, ...options };
    this.aggregates = new Lru(this.options.lruCacheSize);
    this.observed = new Lru(this.options.lruCacheSize);
    this.buckets = new Lru(this.options.lruCacheSize);
    this.now = now;
  }

  correlate(event: EventBody): Correlated {
    const nowMs = this.now();
    const { key, event: aggregated } = this.aggregate(event, nowMs);
    const prior = this.observed.get(key);
    let result: Correlated;
    if (prior) {
      prior.count += 1;
      result = {
        action: 'patch',
        key,
        event: {
          ...aggregated,
          metadata: { name: prior.name, namespace: prior.namespace },
          count: prior.count,
          firstTimestamp: prior.firstTimestamp,
        },
      };
    } else {
      const namespace = aggregated.metadata.namespace;
      const name = `${aggregated.involvedObject.name ?? 'unknown'}.${eventSuffix(nowMs)}`;
      const created = { ...aggregated, metadata: { name, namespace } };
      this.observed.set(key, {
        name,
        namespace,
        count: created.count,
        firstTimestamp: created.firstTimestamp,
      });
      result = { action: 'create', key, event: created };
    }
    return this.admit(event, nowMs) ? result : { action: 'skip' };
  }

  /** The Event was not found when patched (expired, deleted): the next one starts afresh. */
  forget(key: string): void {
    this.observed.delete(key);
  }

  private aggregate(event: EventBody, nowMs: number): { key: string; event: EventBody } {
    const aggregateKey = join(sourceKey(event), event.type, event.reason);
    const message = event.message ?? '';
    let record = this.aggregates.get(aggregateKey);
    if (!record || nowMs - record.lastMs > this.options.maxIntervalMs) {
      record = { messages: new Set(), lastMs: nowMs };
    }
    record.messages.add(message);
    record.lastMs = nowMs;
    this.aggregates.set(aggregateKey, record);
    if (record.messages.size < this.options.maxEvents) {
      return { key: join(aggregateKey, message), event };
    }
    // Too many different messages: one Event for all of them, keyed without the message.
    return {
      key: aggregateKey,
      event: {
        ...event,
        message: cap(`(combined from similar events): ${message}`, MESSAGE_LIMIT),
      },
    };
  }

  private admit(event: EventBody, nowMs: number): boolean {
    const key = sourceKey(event);
    const { spamBurst, spamQps } = this.options;
    const bucket = this.buckets.get(key) ?? { tokens: spamBurst, atMs: nowMs };
    bucket.tokens = Math.min(spamBurst, bucket.tokens + ((nowMs - bucket.atMs) / 1000) * spamQps);
    bucket.atMs = nowMs;
    const ok = bucket.tokens >= 1;
    if (ok) bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    return ok;
  }
}

const join = (...parts: (string | undefined)[]): string => parts.map((p) => p ?? '').join('\u0000');

function sourceKey(event: EventBody): string {
  const o = event.involvedObject;
  return join(
    event.source?.component,
    event.source?.host,
    o.kind,
    o.namespace,
    o.name,
    o.uid,
    o.apiVersion,
  );
}

/** client-go names Events `<object>.<hex unix nanoseconds>`. */
function eventSuffix(nowMs: number): string {
  return (BigInt(nowMs) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000))).toString(16);
}

export interface KubeEventRecorderOptions {
  /** The type of every object passed to event(). */
  kind: InvolvedKind;
  correlator?: EventCorrelator;
  queueSize?: number;
}

export class KubeEventRecorder implements EventRecorder {
  private readonly client: KubeClient;
  private readonly component: string;
  private readonly host: string;
  private readonly log: Logger;
  private readonly kind: InvolvedKind;
  private readonly correlator: EventCorrelator;
  private readonly queueSize: number;
  private readonly queue: Extract<Correlated, { key: string }>[] = [];
  private draining: Promise<void> | undefined;

  constructor(
    client: KubeClient,
    component: string,
    host: string,
    log: Logger,
    options: KubeEventRecorderOptions,
  ) {
    this.client = client;
    this.component = component;
    this.host = host;
    this.log = log;
    this.kind = options.kind;
    this.correlator = options.correlator ?? new EventCorrelator();
    this.queueSize = options.queueSize ?? CORRELATOR_DEFAULTS.queueSize;
  }

  event(obj: EventObject, type: EventType, reason: string, message: string): void {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const involved: ObjectReference = {
      apiVersion: this.kind.apiVersion,
      kind: this.kind.kind,
      name: obj.metadata?.name,
      namespace: obj.metadata?.namespace,
      uid: obj.metadata?.uid,
      resourceVersion: obj.metadata?.resourceVersion,
    };
    const correlated = this.correlator.correlate({
      // Cluster-scoped objects (Nodes) get their Events in "default", as client-go does.
      metadata: { namespace: obj.metadata?.namespace || 'default' },
      involvedObject: involved,
      type,
      reason,
      message: cap(message, MESSAGE_LIMIT),
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.component, host: this.host },
      reportingComponent: this.component,
      reportingInstance: this.host,
    });
    if (correlated.action === 'skip') {
      this.log.debug({ reason, object: involved.name }, 'event dropped by the spam filter');
      return;
    }
    if (this.queue.length >= this.queueSize) {
      this.log.warn({ reason, object: involved.name }, 'event queue full; dropping event');
      return;
    }
    this.queue.push(correlated);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  /** Resolves once every event recorded so far has been written (or failed). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    for (let item = this.queue.shift(); item; item = this.queue.shift()) {
      try {
        await this.write(item);
      } catch (err) {
        this.log.warn(
          { err: String(err), reason: item.event.reason, object: item.event.involvedObject.name },
          'could not record event',
        );
      }
    }
  }

  private async write(item: Extract<Correlated, { key: string }>): Promise<void> {
    const { event } = item;
    const namespace = event.metadata.namespace;
    if (item.action === 'patch') {
      try {
        await this.client.patch(
          `/api/v1/namespaces/${namespace}/events/${event.metadata.name ?? ''}`,
          'strategic',
          { message: event.message, count: event.count, lastTimestamp: event.lastTimestamp },
        );
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        // Gone (expired after the apiserver's event TTL): record it as a new Event.
      }
    }
    try {
      await this.client.post(`/api/v1/namespaces/${namespace}/events`, event);
    } catch (err) {
      this.correlator.forget(item.key);
      if (err instanceof KubeApiError && err.status === 404) return; // namespace being deleted
      throw err;
    }
  }
}
