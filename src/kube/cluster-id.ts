// The cluster's identity: the UID of its kube-system namespace, unique by construction (the
// apiserver makes it at the cluster's birth; every namespace has one and kube-system is never
// deleted), so two clusters never share it unless one is a restore of the other's etcd. Read
// once at start, retried with capped backoff while the apiserver does not answer; /readyz says
// why until then. Forbidden (the Go CCM's ClusterRole, when only the image was swapped) is an
// answer, not an outage: the CCM runs without an identity, as v0.8 did, and says so
// (cloud/oxide/cluster.ts UNKNOWN_CLUSTER_ID).
import type { V1Namespace } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import { sleep } from '../util/async.ts';
import type { KubeClient } from './client.ts';
import { KubeApiError } from './client.ts';

export const IDENTITY_NAMESPACE = 'kube-system';

export interface ClusterIdBackoff {
  initialMs: number;
  maxMs: number;
}

export class ClusterIdReader {
  /** Undefined once read; else why not yet, for /readyz. */
  notReady: string | undefined =
    `cluster identity (namespace ${IDENTITY_NAMESPACE} UID) not read yet`;
  private readonly kube: KubeClient;
  private readonly log: Logger;
  private readonly backoff: ClusterIdBackoff;

  constructor(kube: KubeClient, log: Logger, backoff = { initialMs: 1_000, maxMs: 30_000 }) {
    this.kube = kube;
    this.log = log;
    this.backoff = backoff;
  }

  /**
   * The UID; `unknown` when RBAC forbids reading it; undefined when the signal ended the wait.
   */
  async read(signal: AbortSignal, unknown: string): Promise<string | undefined> {
    let delay = this.backoff.initialMs;
    let last: string | undefined;
    while (!signal.aborted) {
      try {
        const ns = await this.kube.get<V1Namespace>(`/api/v1/namespaces/${IDENTITY_NAMESPACE}`, {
          signal,
        });
        const uid = ns.metadata?.uid;
        if (!uid) throw new Error(`namespace ${IDENTITY_NAMESPACE} has no UID`);
        this.notReady = undefined;
        return uid;
      } catch (err) {
        if (signal.aborted) break;
        const reason = describe(err);
        if (err instanceof KubeApiError && err.status === 403) {
          this.notReady = undefined;
          this.log.warn(
            `${reason}. Running without a cluster identity: the Oxide objects it creates are ` +
              'marked as by v0.8, and none naming an identity is taken over (docs/clusters.md)',
          );
          return unknown;
        }
        this.notReady = `cannot read the cluster identity (retrying): ${reason}`;
        if (reason !== last) this.log.error(this.notReady);
        last = reason;
      }
      await sleep(delay, signal);
      delay = Math.min(this.backoff.maxMs, delay * 2);
    }
    return undefined;
  }
}

function describe(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  if (err instanceof KubeApiError && err.status === 403) {
    return (
      `${text}; the CCM needs "get" on namespaces/${IDENTITY_NAMESPACE} (its UID names this ` +
      'cluster in the Oxide objects it owns), or set --cluster-id'
    );
  }
  return text;
}
