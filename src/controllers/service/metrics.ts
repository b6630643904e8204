// The service controller's families, as upstream's service controller declares them
// (k8s.io/cloud-provider/controllers/service/metrics.go): same names, help and buckets.
import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { exponentialBuckets } from '../../util/buckets.ts';

// Buckets from 1 s to 16384 s, as upstream's service controller.
const serviceSyncBuckets = exponentialBuckets(1, 2, 15);

export const serviceControllerMetrics = {
  loadBalancerSync: new Counter({
    name: 'service_controller_loadbalancer_sync_total',
    help: 'A metric counting the amount of times any load balancer has been configured, as an effect of service/node changes on the cluster',
    registers: [],
  }),
  nodeSyncErrors: new Counter({
    name: 'service_controller_nodesync_error_total',
    help: 'A metric counting the amount of times any load balancer has been configured and errored, as an effect of node changes on the cluster',
    registers: [],
  }),
  nodeSyncLatency: new Histogram({
    name: 'service_controller_nodesync_latency_seconds',
    help: 'A metric measuring the latency for nodesync which updates loadbalancer hosts on cluster node updates.',
    buckets: serviceSyncBuckets,
    registers: [],
  }),
  updateHostLatency: new Histogram({
    name: 'service_controller_update_loadbalancer_host_latency_seconds',
    help: 'A metric measuring the latency for updating each load balancer hosts.',
    buckets: serviceSyncBuckets,
    registers: [],
  }),
};

/** Upstream's registerMetrics, into the registry the composition root hands over. */
export function registerServiceControllerMetrics(registry: Registry): void {
  for (const metric of Object.values(serviceControllerMetrics)) registry.registerMetric(metric);
}
