// Upstream cloud-controller-manager flags that we accept and ignore, so that manifests written for
// another CCM (or the Go Oxide CCM) keep working: each one logs a warning instead of crashing the
// Pod. The type matters: it says whether `--flag value` consumes the next argument.
export type IgnoredFlagType = 'bool' | 'value';

export const IGNORED_UPSTREAM_FLAGS: Readonly<Record<string, IgnoredFlagType>> = {
  // Generic controller-manager options we do not need or have no equivalent for.
  'allow-untagged-cloud': 'bool',
  'cidr-allocator-type': 'value',
  'controller-start-interval': 'value',
  'enable-leader-migration': 'bool',
  'leader-migration-config': 'value',
  'external-cloud-volume-plugin': 'value',
  'min-resync-period': 'value',
  'node-sync-period': 'value',
  'concurrent-node-route-syncs': 'value',
  'use-service-account-credentials': 'bool',
  'kube-api-content-type': 'value',
  'feature-gates': 'value',
  'emulated-version': 'value',
  webhooks: 'value',
  'webhook-bind-address': 'value',
  'webhook-secure-port': 'value',
  'webhook-cert-dir': 'value',
  // Debugging.
  profiling: 'bool',
  'contention-profiling': 'bool',
  'debug-socket-path': 'value',
  // Secure serving beyond the certificate pair we do implement.
  'cert-dir': 'value',
  'http2-max-streams-per-connection': 'value',
  'permit-address-sharing': 'bool',
  'permit-port-sharing': 'bool',
  'tls-sni-cert-key': 'value',
  'tls-curve-preferences': 'value',
  'disable-http2-serving': 'bool',
  // The webhook server (k8s.io/cloud-provider's --webhooks, off unless a provider has webhooks).
  'webhook-disable-http2-serving': 'bool',
  'webhook-tls-cert-file': 'value',
  'webhook-tls-cipher-suites': 'value',
  'webhook-tls-curve-preferences': 'value',
  'webhook-tls-min-version': 'value',
  'webhook-tls-private-key-file': 'value',
  'webhook-tls-sni-cert-key': 'value',
  // Upstream's node controller status workers; ours refreshes Nodes with --concurrent-node-syncs.
  'concurrent-node-status-updates': 'value',
  // Metrics options of component-base.
  'allow-metric-labels': 'value',
  'allow-metric-labels-manifest': 'value',
  'disabled-metrics': 'value',
  'show-hidden-metrics-for-version': 'value',
  // Logging (component-base and klog): -v, --logging-format and the split-stream flags are ours;
  // output is unbuffered, so flush frequency and buffer sizes have nothing to tune.
  'log-flush-frequency': 'value',
  'log-json-info-buffer-size': 'value',
  'log-text-info-buffer-size': 'value',
  vmodule: 'value',
  logtostderr: 'bool',
  alsologtostderr: 'bool',
  'log-dir': 'value',
  'log-file': 'value',
  'log-file-max-size': 'value',
  'log-backtrace-at': 'value',
  'skip-headers': 'bool',
  'skip-log-headers': 'bool',
  stderrthreshold: 'value',
  'one-output': 'bool',
  'add-dir-header': 'bool',
};
