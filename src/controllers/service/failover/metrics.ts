// Metrics of load-balancer failover (ours: upstream's service controller has no failover),
// registered into the process registry at the composition root (src/metrics-registry.ts);
// docs/metrics.md is generated from it.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

/** Why a load balancer left a Node: the `reason` label. */
export type FailoverReason = 'health_check' | 'instance_state' | 'lease' | 'not_ready' | 'other';

export const failoverMetrics = {
  failovers: new Counter({
    name: 'oxide_ccm_lb_failovers_total',
    help: 'Load balancers moved off a Node, by why the Node was left: health_check (its health check failed), instance_state (its instance is not running), lease (its kubelet Lease is stale), not_ready (kube-controller-manager marked it NotReady), other (deleted, excluded, cordoned).',
    labelNames: ['reason'],
    registers: [],
  }),
  detectionToAttach: new Histogram({
    name: 'oxide_ccm_lb_failover_seconds',
    help: 'Seconds from detecting that a load balancer target Node is out (by any signal) to the load balancer attached to another Node.',
    buckets: [0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120],
    registers: [],
  }),
  fullDisruption: new Gauge({
    name: 'oxide_ccm_lb_failover_full_disruption',
    help: '1 while most kubelet Leases look stale at once, so the Lease signal is ignored (our view of the apiserver is more likely broken than the kubelets); 0 otherwise.',
    registers: [],
  }),
  healthChecks: new Counter({
    name: 'oxide_ccm_lb_health_checks_total',
    help: 'Health checks of load balancer target Nodes, by result: pass (HTTP 200), fail (another HTTP status), unanswered (refused, reset or timed out).',
    labelNames: ['result'],
    registers: [],
  }),
};

/** The families above, into the process's registry (called once, at the composition root). */
export function registerFailoverMetrics(registry: Registry): void {
  const { failovers, detectionToAttach, fullDisruption, healthChecks } = failoverMetrics;
  registry.registerMetric(failovers);
  registry.registerMetric(detectionToAttach);
  registry.registerMetric(fullDisruption);
  registry.registerMetric(healthChecks);
}
