// Metrics of delegated authentication and authorization, under upstream's names
// (k8s.io/apiserver's delegated authn/authz request metrics and token cache metric), so a
// dashboard built for another controller manager's secure port reads ours too.
import { Counter, Histogram } from 'prom-client';
import type { Metric, Registry } from 'prom-client';

const buckets = [0.25, 0.5, 0.7, 1, 1.5, 3, 5, 10];

export const delegatedMetrics = {
  authnRequests: new Counter({
    name: 'apiserver_delegated_authn_request_total',
    help: 'Number of HTTP requests partitioned by status code.',
    labelNames: ['code'],
    registers: [],
  }),
  authnDuration: new Histogram({
    name: 'apiserver_delegated_authn_request_duration_seconds',
    help: 'Request latency in seconds. Broken down by status code.',
    labelNames: ['code'],
    buckets,
    registers: [],
  }),
  authzRequests: new Counter({
    name: 'apiserver_delegated_authz_request_total',
    help: 'Number of HTTP requests partitioned by status code.',
    labelNames: ['code'],
    registers: [],
  }),
  authzDuration: new Histogram({
    name: 'apiserver_delegated_authz_request_duration_seconds',
    help: 'Request latency in seconds. Broken down by status code.',
    labelNames: ['code'],
    buckets,
    registers: [],
  }),
  tokenCacheRequests: new Counter({
    name: 'authentication_token_cache_request_total',
    help: 'Token cache requests by status (hit, miss).',
    labelNames: ['status'],
    registers: [],
  }),
};

/** The families above, into the process's registry (called once, at the composition root). */
export function registerDelegatedMetrics(registry: Registry): void {
  const families: Metric<string>[] = Object.values(delegatedMetrics);
  for (const metric of families) registry.registerMetric(metric);
}

/** One TokenReview (authn) or SubjectAccessReview (authz) call and its HTTP status. */
export function observeReview(kind: 'authn' | 'authz', code: string, startedMs: number): void {
  const seconds = (performance.now() - startedMs) / 1000;
  if (kind === 'authn') {
    delegatedMetrics.authnRequests.inc({ code });
    delegatedMetrics.authnDuration.observe({ code }, seconds);
  } else {
    delegatedMetrics.authzRequests.inc({ code });
    delegatedMetrics.authzDuration.observe({ code }, seconds);
  }
}
