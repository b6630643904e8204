// One Prometheus registry for the process. Where upstream (client-go, component-base,
// k8s.io/cloud-provider, k8s.io/controller-manager) has a metric for the same thing, ours has its
// name, labels, label values and buckets, so dashboards and alerts written for the Go CCM keep
// working; docs/metrics.md is generated from this registry (`make metrics-doc`) and says which
// upstream family each one mirrors. Ours carry the `oxide_` prefix.
import { readFileSync } from 'node:fs';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { releaseForApiVersion } from './oxide/api-version.ts';
import { VERSION } from './version.ts';
import { compareNames } from './util/compare.ts';

export const registry = new Registry();

/** prometheus.ExponentialBuckets. */
export const exponentialBuckets = (start: number, factor: number, count: number): number[] =>
  Array.from({ length: count }, (_, i) => start * factor ** i);

const secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

// ---- client-go rest client (component-base/metrics/prometheus/restclient) ----------------------

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
    registers: [registry],
  }),
  rateLimiterDuration: new Histogram({
    name: 'rest_client_rate_limiter_duration_seconds',
    help: 'Client side rate limiter latency in seconds. Broken down by verb, and host.',
    labelNames: ['verb', 'host'],
    buckets: restLatencyBuckets,
    registers: [registry],
  }),
  requestSize: new Histogram({
    name: 'rest_client_request_size_bytes',
    help: 'Request size in bytes. Broken down by verb and host.',
    labelNames: ['verb', 'host'],
    buckets: restSizeBuckets,
    registers: [registry],
  }),
  responseSize: new Histogram({
    name: 'rest_client_response_size_bytes',
    help: 'Response size in bytes. Broken down by verb and host.',
    labelNames: ['verb', 'host'],
    buckets: restSizeBuckets,
    registers: [registry],
  }),
  requests: new Counter({
    name: 'rest_client_requests_total',
    help: 'Number of HTTP requests, partitioned by status code, method, and host.',
    labelNames: ['code', 'method', 'host'],
    registers: [registry],
  }),
  retries: new Counter({
    name: 'rest_client_request_retries_total',
    help: 'Number of request retries, partitioned by status code, verb, and host.',
    labelNames: ['code', 'verb', 'host'],
    registers: [registry],
  }),
};

// ---- client-go workqueue (component-base/metrics/prometheus/workqueue) -------------------------

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
    help: 'How long in seconds an item stays in workqueue before being requested.',
    labelNames: ['name'],
    buckets: workqueueBuckets,
    registers: [registry],
  }),
  workDuration: new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes.',
    labelNames: ['name'],
    buckets: workqueueBuckets,
    registers: [registry],
  }),
  unfinishedWork: new Gauge({
    name: 'workqueue_unfinished_work_seconds',
    help: "How many seconds of work has done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
    labelNames: ['name'],
    registers: [registry],
    collect(): void {
      this.reset();
      for (const q of workqueueProbes) this.inc({ name: q.name }, q.unfinishedWorkSeconds());
    },
  }),
  longestRunningProcessor: new Gauge({
    name: 'workqueue_longest_running_processor_seconds',
    help: 'How many seconds has the longest running processor for workqueue been running.',
    labelNames: ['name'],
    registers: [registry],
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

// ---- k8s.io/controller-manager and k8s.io/cloud-provider ---------------------------------------

/** The `manager` label of running_managed_controllers, as upstream's cloud-controller-manager. */
export const MANAGER_NAME = 'cloud-controller-manager';

export const controllerManagerMetrics = {
  running: new Gauge({
    name: 'running_managed_controllers',
    help: 'Indicates where instances of a controller are currently running',
    labelNames: ['name', 'manager'],
    registers: [registry],
  }),
};

/** Upstream's ControllerStarted/ControllerStopped; name is the controller's --controllers alias. */
export function controllerRunning(name: string, running: boolean): void {
  controllerManagerMetrics.running.set({ name, manager: MANAGER_NAME }, running ? 1 : 0);
}

// Buckets from 1 s to 16384 s, as upstream's service controller.
const serviceSyncBuckets = exponentialBuckets(1, 2, 15);

export const serviceControllerMetrics = {
  loadBalancerSync: new Counter({
    name: 'service_controller_loadbalancer_sync_total',
    help: 'A metric counting the amount of times any load balancer has been configured, as an effect of service/node changes on the cluster',
    registers: [registry],
  }),
  nodeSyncErrors: new Counter({
    name: 'service_controller_nodesync_error_total',
    help: 'A metric counting the amount of times any load balancer has been configured and errored, as an effect of node changes on the cluster',
    registers: [registry],
  }),
  nodeSyncLatency: new Histogram({
    name: 'service_controller_nodesync_latency_seconds',
    help: 'A metric measuring the latency for nodesync which updates loadbalancer hosts on cluster node updates.',
    buckets: serviceSyncBuckets,
    registers: [registry],
  }),
  updateHostLatency: new Histogram({
    name: 'service_controller_update_loadbalancer_host_latency_seconds',
    help: 'A metric measuring the latency for updating each load balancer hosts.',
    buckets: serviceSyncBuckets,
    registers: [registry],
  }),
};

export const nodeMetrics = {
  taintRemovalDelay: new Histogram({
    name: 'node_controller_cloud_provider_taint_removal_delay_seconds',
    help: 'Number of seconds after node creation when NodeController removed the cloud-provider taint of a single node.',
    buckets: exponentialBuckets(1, 4, 6),
    registers: [registry],
  }),
  initialSyncDelay: new Histogram({
    name: 'node_controller_initial_node_sync_delay_seconds',
    help: 'Number of seconds after node creation when NodeController finished the initial synchronization of a single node.',
    buckets: exponentialBuckets(1, 4, 6),
    registers: [registry],
  }),
};

// ---- client-go leader election -----------------------------------------------------------------

export const leaderMetrics = {
  masterStatus: new Gauge({
    name: 'leader_election_master_status',
    help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
    labelNames: ['name'],
    registers: [registry],
  }),
};

// ---- build info (component-base/metrics kubernetes_build_info, and ours) ------------------------

const [major = '0', minor = '0'] = VERSION.split('.');
const platform = `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`;

/** Set at build time by hack/bundle.ts (esbuild define); empty when run from source. */
declare const __OCCM_GIT_COMMIT__: string | undefined;
declare const __OCCM_BUILD_DATE__: string | undefined;
const gitCommit = typeof __OCCM_GIT_COMMIT__ === 'string' ? __OCCM_GIT_COMMIT__ : '';
const buildDate = typeof __OCCM_BUILD_DATE__ === 'string' ? __OCCM_BUILD_DATE__ : '';

export const buildInfoMetrics = {
  kubernetes: new Gauge({
    name: 'kubernetes_build_info',
    help: "A metric with a constant '1' value labeled by major, minor, git version, git commit, git tree state, build date, Go version, and compiler from which Kubernetes was built, and platform on which it is running.",
    labelNames: [
      'major',
      'minor',
      'git_version',
      'git_commit',
      'git_tree_state',
      'build_date',
      'go_version',
      'compiler',
      'platform',
    ],
    registers: [registry],
  }),
  ours: new Gauge({
    name: 'oxide_cloud_controller_manager_build_info',
    help: "A metric with a constant '1' value labeled by this program's version, git commit, the Node.js version running it and the Oxide API version it speaks.",
    labelNames: ['version', 'git_commit', 'nodejs_version', 'oxide_api_version'],
    registers: [registry],
  }),
};
// The CCM's own version, as third-party CCMs built with -ldflags report theirs; the runtime
// stands in for Go: go_version is the Node.js version, compiler "nodejs".
buildInfoMetrics.kubernetes.set(
  {
    major,
    minor,
    git_version: `v${VERSION}`,
    git_commit: gitCommit,
    git_tree_state: gitCommit ? 'clean' : '',
    build_date: buildDate,
    go_version: process.version,
    compiler: 'nodejs',
    platform,
  },
  1,
);
buildInfoMetrics.ours.set(
  {
    version: VERSION,
    git_commit: gitCommit,
    nodejs_version: process.version,
    oxide_api_version: releaseForApiVersion().apiVersion,
  },
  1,
);

// ---- ours --------------------------------------------------------------------------------------

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

/**
 * Lookups in the shared caches (src/util/ttl-cache.ts) by cache name; `status` as upstream's
 * authentication_token_cache_request_total (which the TokenReview cache keeps instead).
 */
export const cacheMetrics = {
  requests: new Counter({
    name: 'oxide_ccm_cache_requests_total',
    help: 'Shared cache lookups by cache and status (hit: answered without a new Oxide request, joining one in flight included; miss)',
    labelNames: ['cache', 'status'],
    registers: [registry],
  }),
};

/**
 * Oxide API calls. The Go CCM exposes none, so no dashboard depends on a name; we keep
 * `oxide_api_*` (a `_total` counter and a latency histogram, by OpenAPI operationId) rather than
 * the in-tree providers' `cloudprovider_<name>_api_request_duration_seconds{request}`, which
 * predates Prometheus naming rules and has no request counter.
 */
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

/**
 * The project-wide NIC walk of the instance inventory (src/oxide/inventory.ts): when Oxide
 * refuses it, NIC lookups fall back to one list per instance (docs/troubleshooting.md).
 */
export const inventoryMetrics = {
  nicWalkFallback: new Gauge({
    name: 'oxide_ccm_nic_walk_fallback',
    help: "1 while NIC lookups read each instance's own list because the walk of the project's VPC subnets (vpc_list, vpc_subnet_list, vpc_subnet_list_network_interfaces) failed; 0 while the walk answers",
    registers: [registry],
  }),
  nicWalkFailures: new Counter({
    name: 'oxide_ccm_nic_walk_failures_total',
    help: "Failed walks of the project's VPC subnets for NICs, by the failing operation and HTTP status (0 = no response)",
    labelNames: ['operation', 'status'],
    registers: [registry],
  }),
};

// ---- process (prometheus/client_golang's process collector, plus Node.js runtime) --------------

let processMetrics = false;

/**
 * process_* as client_golang's process collector has them (prom-client's defaults plus the
 * network and address-space families it lacks) and prom-client's nodejs_*; once per process.
 */
export function registerProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  // The event-loop delay histogram (nodejs_eventloop_lag_*) samples every 100 ms, not
  // prom-client's default 10 ms: waking the process 100 times a second cost ~1.5 s of CPU per 10
  // idle minutes on the 2-core bench machine, half of an idle CCM's budget (docs/benchmarks.md).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  new Gauge({
    name: 'process_virtual_memory_max_bytes',
    help: 'Maximum amount of virtual memory available in bytes.',
    registers: [registry],
    collect(): void {
      const limit = procLimit('Max address space');
      if (limit !== undefined) this.set(limit);
    },
  });
  new Counter({
    name: 'process_network_receive_bytes_total',
    help: 'Number of bytes received by the process over the network.',
    registers: [registry],
    collect(): void {
      const bytes = procNetDev()?.receive;
      if (bytes === undefined) return;
      this.reset();
      this.inc(bytes);
    },
  });
  new Counter({
    name: 'process_network_transmit_bytes_total',
    help: 'Number of bytes sent by the process over the network.',
    registers: [registry],
    collect(): void {
      const bytes = procNetDev()?.transmit;
      if (bytes === undefined) return;
      this.reset();
      this.inc(bytes);
    },
  });
}

/** A soft limit from /proc/self/limits; "unlimited" as Go's procfs reports it (2^64-1). */
function procLimit(name: string): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(name));
    const soft = line?.slice(name.length).trim().split(/\s+/)[0];
    if (soft === undefined) return undefined;
    return soft === 'unlimited' ? 2 ** 64 - 1 : Number(soft);
  } catch {
    return undefined;
  }
}

/** Bytes over all interfaces of the process's network namespace, as procfs NetDev().Total(). */
function procNetDev(): { receive: number; transmit: number } | undefined {
  try {
    let receive = 0;
    let transmit = 0;
    for (const line of readFileSync('/proc/self/net/dev', 'utf8').split('\n').slice(2)) {
      const [, counters] = line.split(':');
      const f = counters?.trim().split(/\s+/).map(Number);
      if (!f || f.length < 9) continue;
      receive += f[0] ?? 0;
      transmit += f[8] ?? 0;
    }
    return { receive, transmit };
  } catch {
    return undefined;
  }
}

// ---- introspection (docs/metrics.md and the parity test) ----------------------------------------

export interface FamilyDescription {
  name: string;
  type: string;
  help: string;
  /** Sorted. */
  labels: string[];
  /** Histogram upper bounds, without +Inf. */
  buckets?: number[];
}

/** Every family in the registry, sorted by name. */
export function describeFamilies(): FamilyDescription[] {
  return registry
    .getMetricsAsArray()
    .map((m) => {
      const raw = m as unknown as {
        labelNames?: readonly string[];
        upperBounds?: readonly number[];
      };
      const d: FamilyDescription = {
        name: m.name,
        type: String(m.type),
        help: m.help,
        labels: [...(raw.labelNames ?? [])].sort(),
      };
      if (d.type === 'histogram' && raw.upperBounds) d.buckets = [...raw.upperBounds];
      return d;
    })
    .sort((a, b) => compareNames(a.name, b.name));
}
