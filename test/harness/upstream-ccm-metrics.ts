// The metric families an upstream cloud-controller-manager (k8s.io/cloud-provider on client-go and
// component-base, as the Go Oxide CCM v0.7.1 is built) exposes, written down from the Kubernetes
// metrics reference (kubernetes.io/docs/reference/instrumentation/metrics) and the families a live
// Go CCM v0.7.1 serves: name, type, label names and, for histograms we mirror, the bucket bounds.
// `mirrored: false` families say why we have no equivalent. docs/metrics.md and
// test/metrics.test.ts read this list.

export type UpstreamFamily = {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** Where upstream defines it. */
  source: string;
} & (
  | { mirrored: true; labels: readonly string[]; buckets?: readonly number[] }
  | { mirrored: false; why: string }
);

const exp = (start: number, factor: number, count: number): number[] =>
  Array.from({ length: count }, (_, i) => start * factor ** i);

const CLIENT_GO = 'client-go (rest client)';
const WORKQUEUE = 'client-go (workqueue)';
const restLatency = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];
const restSize = [64, 256, 512, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216];
const noExecPlugin =
  'no exec credential plugin: the CCM authenticates with its service-account token or the kubeconfig user';
const noTransportCache =
  'client-go caches TLS transports per config; we hold one undici connection pool per client and nothing to cache';
// The k8s.io/apiserver libraries upstream links for its secure port register these; we serve
// the same port with delegated authentication and authorization of our own (src/server/), so
// each says what it counts and why ours has nothing to count or counts it another way.
const noAudit =
  'audit events of the k8s.io/apiserver libraries: the secure port keeps no audit log';
const noEncryption =
  "the apiserver's encryption at rest (KMS envelope, data keys): the CCM stores nothing";
const noApiObjects =
  'declarative validation of API objects the server stores: the secure port serves no API objects';
const noAggregation =
  'discovery of aggregated APIs: the secure port serves none (only health, readiness and metrics)';
const noCertExpiry =
  "the expiry of client certificates k8s.io/apiserver's x509 authenticator accepted; ours (src/server/authn.ts) verifies them but does not record their expiry";
const noWebhookX509 =
  'requests to (or connections refused by) webhooks whose serving certificate has a SHA-1 signature or no SAN; our TokenReview and SubjectAccessReview calls go through our Kubernetes client (src/kube/client.ts), which does not count them';
const noFilterMetrics =
  "counted by k8s.io/apiserver's authentication and authorization HTTP filters; our guard (src/server/delegation.ts) records the delegated review requests (apiserver_delegated_*) and the token cache (authentication_token_cache_request_total) instead";
const noComponentBaseRegistry =
  "component-base's metric registry bookkeeping (--disabled-metrics, --show-hidden-metrics-for-version, which we accept and ignore)";

export const UPSTREAM_CCM_FAMILIES: readonly UpstreamFamily[] = [
  // client-go rest client
  {
    name: 'rest_client_requests_total',
    type: 'counter',
    labels: ['code', 'host', 'method'],
    source: CLIENT_GO,
    mirrored: true,
  },
  {
    name: 'rest_client_request_duration_seconds',
    type: 'histogram',
    labels: ['host', 'verb'],
    buckets: restLatency,
    source: CLIENT_GO,
    mirrored: true,
  },
  {
    name: 'rest_client_rate_limiter_duration_seconds',
    type: 'histogram',
    labels: ['host', 'verb'],
    buckets: restLatency,
    source: CLIENT_GO,
    mirrored: true,
  },
  {
    name: 'rest_client_request_size_bytes',
    type: 'histogram',
    labels: ['host', 'verb'],
    buckets: restSize,
    source: CLIENT_GO,
    mirrored: true,
  },
  {
    name: 'rest_client_response_size_bytes',
    type: 'histogram',
    labels: ['host', 'verb'],
    buckets: restSize,
    source: CLIENT_GO,
    mirrored: true,
  },
  {
    name: 'rest_client_request_retries_total',
    type: 'counter',
    labels: ['code', 'host', 'verb'],
    source: CLIENT_GO,
    mirrored: true,
  },
  {
    name: 'rest_client_exec_plugin_ttl_seconds',
    type: 'gauge',
    source: CLIENT_GO,
    mirrored: false,
    why: noExecPlugin,
  },
  {
    name: 'rest_client_exec_plugin_certificate_rotation_age',
    type: 'histogram',
    source: CLIENT_GO,
    mirrored: false,
    why: noExecPlugin,
  },
  {
    name: 'rest_client_transport_cache_entries',
    type: 'gauge',
    source: CLIENT_GO,
    mirrored: false,
    why: noTransportCache,
  },
  {
    name: 'rest_client_transport_create_calls_total',
    type: 'counter',
    source: CLIENT_GO,
    mirrored: false,
    why: noTransportCache,
  },
  {
    name: 'rest_client_transport_cert_rotation_gc_calls_total',
    type: 'counter',
    source: CLIENT_GO,
    mirrored: false,
    why: noTransportCache,
  },
  // client-go workqueue: one series set per queue, `name` = the queue's name
  {
    name: 'workqueue_adds_total',
    type: 'counter',
    labels: ['name'],
    source: WORKQUEUE,
    mirrored: true,
  },
  { name: 'workqueue_depth', type: 'gauge', labels: ['name'], source: WORKQUEUE, mirrored: true },
  {
    name: 'workqueue_retries_total',
    type: 'counter',
    labels: ['name'],
    source: WORKQUEUE,
    mirrored: true,
  },
  {
    name: 'workqueue_queue_duration_seconds',
    type: 'histogram',
    labels: ['name'],
    buckets: exp(1e-8, 10, 12),
    source: WORKQUEUE,
    mirrored: true,
  },
  {
    name: 'workqueue_work_duration_seconds',
    type: 'histogram',
    labels: ['name'],
    buckets: exp(1e-8, 10, 12),
    source: WORKQUEUE,
    mirrored: true,
  },
  {
    name: 'workqueue_unfinished_work_seconds',
    type: 'gauge',
    labels: ['name'],
    source: WORKQUEUE,
    mirrored: true,
  },
  {
    name: 'workqueue_longest_running_processor_seconds',
    type: 'gauge',
    labels: ['name'],
    source: WORKQUEUE,
    mirrored: true,
  },
  // client-go leader election
  {
    name: 'leader_election_master_status',
    type: 'gauge',
    labels: ['name'],
    source: 'client-go (leader election)',
    mirrored: true,
  },
  // k8s.io/controller-manager and component-base
  {
    name: 'running_managed_controllers',
    type: 'gauge',
    labels: ['manager', 'name'],
    source: 'k8s.io/controller-manager',
    mirrored: true,
  },
  {
    name: 'kubernetes_build_info',
    type: 'gauge',
    labels: [
      'build_date',
      'compiler',
      'git_commit',
      'git_tree_state',
      'git_version',
      'go_version',
      'major',
      'minor',
      'platform',
    ],
    source: 'component-base (version)',
    mirrored: true,
  },
  {
    name: 'registered_metrics_total',
    type: 'counter',
    source: 'component-base (metrics registry)',
    mirrored: false,
    why: noComponentBaseRegistry,
  },
  {
    name: 'disabled_metrics_total',
    type: 'counter',
    source: 'component-base (metrics registry)',
    mirrored: false,
    why: noComponentBaseRegistry,
  },
  {
    name: 'hidden_metrics_total',
    type: 'counter',
    source: 'component-base (metrics registry)',
    mirrored: false,
    why: noComponentBaseRegistry,
  },
  {
    name: 'cardinality_enforcement_unexpected_categorizations_total',
    type: 'counter',
    source: 'component-base (metrics registry)',
    mirrored: false,
    why: noComponentBaseRegistry,
  },
  // k8s.io/cloud-provider controllers
  {
    name: 'node_controller_cloud_provider_taint_removal_delay_seconds',
    type: 'histogram',
    labels: [],
    buckets: exp(1, 4, 6),
    source: 'k8s.io/cloud-provider (node controller)',
    mirrored: true,
  },
  {
    name: 'node_controller_initial_node_sync_delay_seconds',
    type: 'histogram',
    labels: [],
    buckets: exp(1, 4, 6),
    source: 'k8s.io/cloud-provider (node controller)',
    mirrored: true,
  },
  {
    name: 'service_controller_loadbalancer_sync_total',
    type: 'counter',
    labels: [],
    source: 'k8s.io/cloud-provider (service controller)',
    mirrored: true,
  },
  {
    name: 'service_controller_nodesync_error_total',
    type: 'counter',
    labels: [],
    source: 'k8s.io/cloud-provider (service controller)',
    mirrored: true,
  },
  {
    name: 'service_controller_nodesync_latency_seconds',
    type: 'histogram',
    labels: [],
    buckets: exp(1, 2, 15),
    source: 'k8s.io/cloud-provider (service controller)',
    mirrored: true,
  },
  {
    name: 'service_controller_update_loadbalancer_host_latency_seconds',
    type: 'histogram',
    labels: [],
    buckets: exp(1, 2, 15),
    source: 'k8s.io/cloud-provider (service controller)',
    mirrored: true,
  },
  // client_golang's process collector
  ...(
    [
      ['process_cpu_seconds_total', 'counter'],
      ['process_max_fds', 'gauge'],
      ['process_open_fds', 'gauge'],
      ['process_resident_memory_bytes', 'gauge'],
      ['process_start_time_seconds', 'gauge'],
      ['process_virtual_memory_bytes', 'gauge'],
      ['process_virtual_memory_max_bytes', 'gauge'],
      ['process_network_receive_bytes_total', 'counter'],
      ['process_network_transmit_bytes_total', 'counter'],
    ] as const
  ).map(([name, type]): UpstreamFamily => ({
    name,
    type,
    labels: [],
    source: 'prometheus client_golang (process collector)',
    mirrored: true,
  })),
  // k8s.io/apiserver libraries of upstream's secure port
  ...(
    [
      ['apiserver_audit_event_total', 'counter', noAudit],
      ['apiserver_audit_requests_rejected_total', 'counter', noAudit],
      ['apiserver_client_certificate_expiration_seconds', 'histogram', noCertExpiry],
      ['apiserver_envelope_encryption_dek_cache_fill_percent', 'gauge', noEncryption],
      ['apiserver_storage_data_key_generation_duration_seconds', 'histogram', noEncryption],
      ['apiserver_storage_data_key_generation_failures_total', 'counter', noEncryption],
      ['apiserver_storage_envelope_transformation_cache_misses_total', 'counter', noEncryption],
      ['apiserver_validation_declarative_validation_mismatch_total', 'counter', noApiObjects],
      ['apiserver_validation_declarative_validation_panic_total', 'counter', noApiObjects],
      ['apiserver_validation_duplicate_validation_error_total', 'counter', noApiObjects],
      ['apiserver_webhooks_x509_insecure_sha1_total', 'counter', noWebhookX509],
      ['apiserver_webhooks_x509_missing_san_total', 'counter', noWebhookX509],
      ['aggregator_discovery_aggregation_count_total', 'counter', noAggregation],
      ['aggregator_discovery_nopeer_requests_total', 'counter', noAggregation],
      ['aggregator_discovery_peer_aggregated_cache_hits_total', 'counter', noAggregation],
      ['aggregator_discovery_peer_aggregated_cache_misses_total', 'counter', noAggregation],
      ['authenticated_user_requests', 'counter', noFilterMetrics],
      ['authentication_attempts', 'counter', noFilterMetrics],
      ['authentication_duration_seconds', 'histogram', noFilterMetrics],
      ['authorization_attempts_total', 'counter', noFilterMetrics],
      ['authorization_duration_seconds', 'histogram', noFilterMetrics],
    ] as const
  ).map(([name, type, why]): UpstreamFamily => ({
    name,
    type,
    source: 'k8s.io/apiserver (secure serving libraries)',
    mirrored: false,
    why,
  })),
];

/**
 * Families of the Go runtime (go_*): the Node.js runtime's equivalents are prom-client's
 * nodejs_* families, which have different names and meanings, so none is mirrored.
 */
export const GO_RUNTIME_PREFIX = 'go_';

/** Upstream's work-queue names for the CCM's queues (the `name` label of workqueue_*). */
export const UPSTREAM_QUEUE_NAMES = { node: 'Nodes', service: 'service' } as const;

/** running_managed_controllers: manager and controller names as upstream's CCM sets them. */
export const UPSTREAM_MANAGED_CONTROLLERS = {
  manager: 'cloud-controller-manager',
  names: ['cloud-node', 'cloud-node-lifecycle', 'service', 'route'],
} as const;
