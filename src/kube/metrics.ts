// client-go's metrics, under upstream's names, labels and buckets (component-base's restclient,
// workqueue and leader-election adapters), so dashboards and alerts written for the Go CCM keep
// working. Declared here beside the code that observes them; the composition root registers them
// (src/metrics-registry.ts).
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { exponentialBuckets } from '../util/buckets.ts';

// ---- rest client (component-base/metrics/prometheus/restclient) --------------------------------

const restLatencyBuckets = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];
const restSizeBuckets = [
  64, 256, 512, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
];

export const restClientMetrics = {
  requestDuration: new Histogram({
    name: 'rest_client_request_duration_seconds',
    help: 'Request latency in seconds. Broken down by verb, and host.',
    labelNames: ['verb', 'host'],
    buckets: restLatencyBuckets,
    registers: [],
  }),
  rateLimiterDuration: new Histogram({
    name: 'rest_client_rate_limiter_duration_seconds',
    help: 'Client side rate limiter latency in seconds. Broken down by verb, and host.',
    labelNames: ['verb', 'host'],
    buckets: restLatencyBuckets,
    registers: [],
  }),
  requestSize: new Histogram({
    name: 'rest_client_request_size_bytes',
    help: 'Request size in bytes. Broken down by verb and host.',
    labelNames: ['verb', 'host'],
    buckets: restSizeBuckets,
    registers: [],
  }),
  responseSize: new Histogram({
    name: 'rest_client_response_size_bytes',
    help: 'Response size in bytes. Broken down by verb and host.',
    labelNames: ['verb', 'host'],
    buckets: restSizeBuckets,
    registers: [],
  }),
  requests: new Counter({
    name: 'rest_client_requests_total',
    help: 'Number of HTTP requests, partitioned by status code, method, and host.',
    labelNames: ['code', 'method', 'host'],
    registers: [],
  }),
  retries: new Counter({
    name: 'rest_client_request_retries_total',
    help: 'Number of request retries, partitioned by status code, verb, and host.',
    labelNames: ['code', 'verb', 'host'],
    registers: [],
  }),
};

// ---- workqueue (component-base/metrics/prometheus/workqueue) -----------------------------------

/** What the two scrape-time workqueue gauges read from a live queue. */
export interface WorkqueueProbe {
  readonly name: string;
  /** Seconds of work in progress that has not been observed in work_duration yet. */
  unfinishedWorkSeconds(): number;
  /** Seconds the longest-running item has been processing. */
  longestRunningProcessorSeconds(): number;
}

/**
 * Live queues: workqueue.ts adds a queue when built and removes it on shutdown. Held weakly, so
 * a queue dropped without shutdown (tests, benchmarks) is not kept alive by its metrics.
 */
const probes = new Set<WeakRef<WorkqueueProbe>>();
const probeRefs = new WeakMap<WorkqueueProbe, WeakRef<WorkqueueProbe>>();

export const workqueueProbes = {
  add(probe: WorkqueueProbe): void {
    const ref = new WeakRef(probe);
    probeRefs.set(probe, ref);
    probes.add(ref);
  },
  delete(probe: WorkqueueProbe): void {
    const ref = probeRefs.get(probe);
    if (ref) probes.delete(ref);
    probeRefs.delete(probe);
  },
  *[Symbol.iterator](): IterableIterator<WorkqueueProbe> {
    for (const ref of probes) {
      const probe = ref.deref();
      if (probe) yield probe;
      else probes.delete(ref);
    }
  },
};

// Upstream: ExponentialBuckets(10e-9, 10, 12), 10 ns to 1000 s.
const workqueueBuckets = exponentialBuckets(10e-9, 10, 12);

export const workqueueMetrics = {
  adds: new Counter({
    name: 'workqueue_adds_total',
    help: 'Total number of adds handled by workqueue',
    labelNames: ['name'],
    registers: [],
  }),
  depth: new Gauge({
    name: 'workqueue_depth',
    help: 'Current depth of workqueue',
    labelNames: ['name'],
    registers: [],
  }),
  retries: new Counter({
    name: 'workqueue_retries_total',
    help: 'Total number of retries handled by workqueue',
    labelNames: ['name'],
    registers: [],
  }),
  queueDuration: new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested.',
    labelNames: ['name'],
    buckets: workqueueBuckets,
    registers: [],
  }),
  workDuration: new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes.',
    labelNames: ['name'],
    buckets: workqueueBuckets,
    registers: [],
  }),
  unfinishedWork: new Gauge({
    name: 'workqueue_unfinished_work_seconds',
    help: "How many seconds of work has done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
    labelNames: ['name'],
    registers: [],
    collect(): void {
      this.reset();
      for (const q of workqueueProbes) this.inc({ name: q.name }, q.unfinishedWorkSeconds());
    },
  }),
  longestRunningProcessor: new Gauge({
    name: 'workqueue_longest_running_processor_seconds',
    help: 'How many seconds has the longest running processor for workqueue been running.',
    labelNames: ['name'],
    registers: [],
    collect(): void {
      const longest = new Map<string, number>();
      for (const q of workqueueProbes) {
        longest.set(q.name, Math.max(longest.get(q.name) ?? 0, q.longestRunningProcessorSeconds()));
      }
      this.reset();
      for (const [name, seconds] of longest) this.set({ name }, seconds);
    },
  }),
};

// ---- leader election ---------------------------------------------------------------------------

export const leaderMetrics = {
  masterStatus: new Gauge({
    name: 'leader_election_master_status',
    help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
    labelNames: ['name'],
    registers: [],
  }),
};

/** Every family above, into the process's registry (called once, at the composition root). */
export function registerKubeMetrics(registry: Registry): void {
  for (const group of [restClientMetrics, workqueueMetrics, leaderMetrics])
    for (const metric of Object.values(group)) registry.registerMetric(metric);
}
