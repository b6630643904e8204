// Records core/v1 Events the way client-go's recorder does: one Event per (object, reason,
// message), with repeats folded into `count` instead of new objects, so a Node that fails every
// few seconds does not flood etcd.
import type { CoreV1Event, V1ObjectReference } from '@kubernetes/client-node';
import type { KubeClient } from './client.ts';
import { isNotFound, KubeApiError } from './client.ts';
import type { Logger } from '../log.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface EventRecorder {
  event(obj: EventObject, type: EventType, reason: string, message: string): void;
}

interface Folded {
  name: string;
  namespace: string;
  count: number;
}

export class KubeEventRecorder implements EventRecorder {
  private readonly client: KubeClient;
  private readonly component: string;
  private readonly host: string;
  private readonly log: Logger;
  private readonly folded = new Map<string, Folded>();

  constructor(client: KubeClient, component: string, host: string, log: Logger) {
    this.client = client;
    this.component = component;
    this.host = host;
    this.log = log;
  }

  event(obj: EventObject, type: EventType, reason: string, message: string): void {
    this.record(obj, type, reason, message).catch((err: unknown) => {
      this.log.warn({ err: String(err), reason }, 'could not record event');
    });
  }

  /** Awaitable form, for tests and shutdown paths. */
  async record(obj: EventObject, type: EventType, reason: string, message: string): Promise<void> {
    const involved: V1ObjectReference = {
      apiVersion: obj.apiVersion ?? 'v1',
      kind: obj.kind,
      name: obj.metadata?.name,
      namespace: obj.metadata?.namespace,
      uid: obj.metadata?.uid,
    };
    // Cluster-scoped objects (Nodes) get their Events in "default", as client-go does.
    const namespace = obj.metadata?.namespace || 'default';
    const foldKey = [
      involved.kind,
      namespace,
      involved.name,
      involved.uid,
      type,
      reason,
      message,
    ].join('\u0000');
    const now = new Date();
    const prior = this.folded.get(foldKey);
    if (prior) {
      prior.count += 1;
      try {
        await this.client.patch(
          `/api/v1/namespaces/${prior.namespace}/events/${prior.name}`,
          'merge',
          { count: prior.count, lastTimestamp: now.toISOString() },
        );
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.folded.delete(foldKey);
      }
    }
    const name = `${involved.name ?? 'unknown'}.${(now.getTime() * 1000 + Math.floor(Math.random() * 1000)).toString(16)}`;
    const event: CoreV1Event = {
      metadata: { name, namespace },
      involvedObject: involved,
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.component, host: this.host },
      reportingComponent: this.component,
      reportingInstance: this.host,
    };
    try {
      await this.client.post(`/api/v1/namespaces/${namespace}/events`, event);
      this.folded.set(foldKey, { name, namespace, count: 1 });
      if (this.folded.size > 4096) {
        const first = this.folded.keys().next().value;
        if (first !== undefined) this.folded.delete(first);
      }
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return; // namespace being deleted
      throw err;
    }
  }
}
