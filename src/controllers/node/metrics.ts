// The cloud-node controller's families, as upstream's cloud node controller declares them
// (k8s.io/cloud-provider/controllers/node): same names, help and buckets.
import { Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { exponentialBuckets } from '../../util/buckets.ts';

export const nodeMetrics = {
  taintRemovalDelay: new Histogram({
    name: 'node_controller_cloud_provider_taint_removal_delay_seconds',
    help: 'Number of seconds after node creation when NodeController removed the cloud-provider taint of a single node.',
    buckets: exponentialBuckets(1, 4, 6),
    registers: [],
  }),
  initialSyncDelay: new Histogram({
    name: 'node_controller_initial_node_sync_delay_seconds',
    help: 'Number of seconds after node creation when NodeController finished the initial synchronization of a single node.',
    buckets: exponentialBuckets(1, 4, 6),
    registers: [],
  }),
};

/** Upstream's registerMetrics, into the registry the composition root hands over. */
export function registerNodeControllerMetrics(registry: Registry): void {
  for (const metric of Object.values(nodeMetrics)) registry.registerMetric(metric);
}
