// Metrics of delegated authentication and authorization, under upstream's names
// (k8s.io/apiserver's delegated authn/authz request metrics and token cache metric), so a
// dashboard built for another controller manager's secure port reads ours too.
import { Counter, Histogram } from 'prom-client';
import { registry } from '../metrics.ts';

const buckets = [0.25, 0.5, 0.7, 1, 1.5, 3, 5, 10];

export const delegatedMetrics = {
  authnRequests: new Counter({
    name: 'apiserver_delegated_authn_request_total',
    help: 'Number of HTTP requests partitioned by status code.',
    labelNames: ['code'],
    registers: [registry],
  }),
  authnDuration: new Histogram({
    name: 'apiserver_delegated_authn_request_duration_seconds',
    help: 'Request latency in seconds. Broken down by status code.',
    labelNames: ['code'],
    buckets,
    registers: [registry],
  }),
  authzRequests: new Counter({
    name: 'apiserver_delegated_authz_request_total',
    help: 'Number of HTTP requests partitioned by status code.',
    labelNames: ['code'],
    registers: [registry],
  }),
  authzDuration: new Histogram({
    name: 'apiserver_delegated_authz_request_duration_seconds',
    help: 'Request latency in seconds. Broken down by status code.',
    labelNames: ['code'],
    buckets,
    registers: [registry],
  }),
  tokenCacheRequests: new Counter({
    name: 'authentication_token_cache_request_total',
    help: 'Token cache requests by status (hit, miss).',
    labelNames: ['status'],
    registers: [registry],
  }),
};

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
