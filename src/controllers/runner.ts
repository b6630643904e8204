// The skeleton every controller shares: N workers take keys from the one WorkQueue and call
// reconcile(key). A reconcile that throws is retried with the queue's per-key exponential
// backoff; one that returns resets the backoff. Each reconcile gets the run's signal: on shutdown
// it aborts the reconcile's cloud and apiserver requests in flight instead of waiting them out.
import type { Logger } from '../log.ts';
import { reconcileMetrics } from './metrics.ts';
import type { WorkQueue } from '../kube/workqueue.ts';

export interface Reconciler {
  /** Metric/log name: the controller's canonical name. */
  readonly name: string;
  /** `signal` aborts when the controller stops: the reconcile's requests then end at once. */
  reconcile(key: string, signal?: AbortSignal): Promise<void>;
}

export const errorMessage = (err: unknown): string =>
  err instanceof Error ? err.message : String(err);

/**
 * An error as an Event message: without the per-request ids cloud errors carry ("request id
 * …"), which belong in the log. Every retry of the same failure then has the same message, so
 * the event correlator folds them into one Event's count instead of one Event per attempt.
 */
export const eventMessage = (err: unknown): string =>
  errorMessage(err)
    .replace(/,? ?request id [\w-]+/gi, '')
    .replace(/ \(\)/g, '');

/**
 * Runs `workers` workers until the queue shuts down; resolves when they all have stopped. The
 * caller shuts the queue down when `signal` aborts; reconciles then in flight are aborted too.
 */
export async function runWorkers(
  queue: WorkQueue,
  reconciler: Reconciler,
  workers: number,
  log: Logger,
  signal?: AbortSignal,
): Promise<void> {
  const worker = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const started = performance.now();
      try {
        await reconciler.reconcile(key, signal);
        queue.forget(key);
        reconcileMetrics.total.inc({ controller: reconciler.name, result: 'success' });
      } catch (err) {
        reconcileMetrics.total.inc({ controller: reconciler.name, result: 'error' });
        if (signal?.aborted) {
          // Stopped by shutdown, not failed: the next leader reconciles the key again.
          log.info({ controller: reconciler.name, key }, 'reconcile aborted: shutting down');
          continue;
        }
        log.error(
          {
            controller: reconciler.name,
            key,
            retries: queue.retries(key),
            err: errorMessage(err),
          },
          'reconcile failed',
        );
        queue.addRateLimited(key);
      } finally {
        const seconds = (performance.now() - started) / 1000;
        reconcileMetrics.duration.observe({ controller: reconciler.name }, seconds);
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, workers) }, worker));
}
