// One Prometheus registry for the process. Metric names follow upstream where upstream has them
// (workqueue_*, leader_election_master_status, node_controller_*), so existing dashboards work.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();

const secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const workqueueMetrics = {
  adds: new Counter({
    name: 'workqueue_adds_total',
    help: 'Total number of adds handled by workqueue',
    labelNames: ['name'],
    registers: [registry],
  }),
  depth: new Gauge({
    name: 'workqueue_depth',
    help: 'Current depth of workqueue',
    labelNames: ['name'],
    registers: [registry],
  }),
  retries: new Counter({
    name: 'workqueue_retries_total',
    help: 'Total number of retries handled by workqueue',
    labelNames: ['name'],
    registers: [registry],
  }),
  queueDuration: new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested',
    labelNames: ['name'],
    buckets: secondsBuckets,
    registers: [registry],
  }),
  workDuration: new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes',
    labelNames: ['name'],
    buckets: secondsBuckets,
    registers: [registry],
  }),
};

export const reconcileMetrics = {
  total: new Counter({
    name: 'oxide_ccm_reconcile_total',
    help: 'Reconciles by controller and result (success, error)',
    labelNames: ['controller', 'result'],
    registers: [registry],
  }),
  duration: new Histogram({
    name: 'oxide_ccm_reconcile_duration_seconds',
    help: 'Reconcile duration by controller',
    labelNames: ['controller'],
    buckets: secondsBuckets,
    registers: [registry],
  }),
};

export const oxideMetrics = {
  requests: new Counter({
    name: 'oxide_api_requests_total',
    help: 'Oxide API requests by operation and HTTP status (0 = no response)',
    labelNames: ['operation', 'status'],
    registers: [registry],
  }),
  duration: new Histogram({
    name: 'oxide_api_request_duration_seconds',
    help: 'Oxide API request latency by operation',
    labelNames: ['operation'],
    buckets: secondsBuckets,
    registers: [registry],
  }),
};

export const leaderMetrics = {
  masterStatus: new Gauge({
    name: 'leader_election_master_status',
    help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
    labelNames: ['name'],
    registers: [registry],
  }),
};

export const nodeMetrics = {
  taintRemovalDelay: new Histogram({
    name: 'node_controller_cloud_provider_taint_removal_delay_seconds',
    help: 'Seconds from Node creation to removal of the uninitialized taint',
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  }),
  initialSyncDelay: new Histogram({
    name: 'node_controller_initial_node_sync_delay_seconds',
    help: 'Seconds from Node creation to its first successful sync',
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  }),
};
