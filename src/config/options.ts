// Everything the command line configures, typed and with upstream's defaults (durations in ms).
// Where our default differs from upstream's, the flag table in flags.ts says why.
export interface CcmOptions {
  cloudProvider: string;
  cloudConfig: string;
  kubeconfig: string;
  master: string;
  clusterName: string;
  /** --cluster-id; empty: the kube-system namespace's UID (read at start). */
  clusterId: string;
  /** Raw --controllers entries; resolveControllers() turns them into controller names. */
  controllers: string[];
  leaderElect: boolean;
  leaderElectLeaseDurationMs: number;
  leaderElectRenewDeadlineMs: number;
  leaderElectRetryPeriodMs: number;
  leaderElectResourceLock: string;
  leaderElectResourceNamespace: string;
  leaderElectResourceName: string;
  concurrentNodeSyncs: number;
  concurrentServiceSyncs: number;
  nodeMonitorPeriodMs: number;
  nodeStatusUpdateFrequencyMs: number;
  configureCloudRoutes: boolean;
  allocateNodeCidrs: boolean;
  clusterCidr: string;
  routeReconciliationPeriodMs: number;
  kubeApiQps: number;
  kubeApiBurst: number;
  securePort: number;
  bindAddress: string;
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
  /** --tls-min-version, a Go name (VersionTLS12); empty: upstream's default, TLS 1.2. */
  tlsMinVersion: string;
  /** --tls-cipher-suites, Go names; empty: Go's default suites. */
  tlsCipherSuites: string[];
  metricsPlainHttp: boolean;
  // Delegated authentication and authorization of the secure port (k8s.io/apiserver's
  // DelegatingAuthenticationOptions / DelegatingAuthorizationOptions, with the CCM's defaults).
  authenticationKubeconfig: string;
  authenticationSkipLookup: boolean;
  authenticationTokenWebhookCacheTtlMs: number;
  authenticationTolerateLookupFailure: boolean;
  clientCaFile: string;
  requestheaderClientCaFile: string;
  requestheaderAllowedNames: string[];
  requestheaderUsernameHeaders: string[];
  requestheaderUidHeaders: string[];
  requestheaderGroupHeaders: string[];
  requestheaderExtraHeadersPrefix: string[];
  authorizationKubeconfig: string;
  authorizationAlwaysAllowPaths: string[];
  authorizationAlwaysAllowGroups: string[];
  authorizationWebhookCacheAuthorizedTtlMs: number;
  authorizationWebhookCacheUnauthorizedTtlMs: number;
  oxideLoadBalancerFirewall: boolean;
  oxideLoadBalancerNamedFloatingIps: string;
  /** --oxide-projects: every project holding Nodes, default first; empty: OXIDE_PROJECT. */
  oxideProjects: string[];
  /** --oxide-routes-vpc; empty: each Node's primary-NIC VPC. */
  oxideRoutesVpc: string;
  oxideRequestTimeoutMs: number;
  /** --lb-failover: early failover signals (health-check, instance-state, lease) or none. */
  lbFailover: string[];
  lbHealthCheckPort: number;
  lbHealthCheckIntervalMs: number;
  lbHealthCheckTimeoutMs: number;
  lbHealthCheckFailures: number;
  lbLeaseStaleAfterMs: number;
  lbInstancePollPeriodMs: number;
  lbFailoverSettleTimeMs: number;
  verbosity: number;
  /** --logging-format: text (klog) or json (klog's JSON schema). */
  loggingFormat: string;
  logJsonSplitStream: boolean;
  logTextSplitStream: boolean;
  version: boolean;
  help: boolean;
}

export const defaultOptions = (): CcmOptions => ({
  cloudProvider: '',
  cloudConfig: '',
  kubeconfig: '',
  master: '',
  clusterName: 'kubernetes',
  clusterId: '',
  controllers: ['*'],
  leaderElect: true,
  leaderElectLeaseDurationMs: 15_000,
  leaderElectRenewDeadlineMs: 10_000,
  leaderElectRetryPeriodMs: 2_000,
  leaderElectResourceLock: 'leases',
  leaderElectResourceNamespace: 'kube-system',
  leaderElectResourceName: 'cloud-controller-manager',
  concurrentNodeSyncs: 10,
  concurrentServiceSyncs: 10,
  nodeMonitorPeriodMs: 5_000,
  nodeStatusUpdateFrequencyMs: 300_000,
  configureCloudRoutes: true,
  allocateNodeCidrs: false,
  clusterCidr: '',
  routeReconciliationPeriodMs: 10_000,
  kubeApiQps: 20,
  kubeApiBurst: 30,
  securePort: 10258,
  bindAddress: '0.0.0.0',
  tlsCertFile: '',
  tlsPrivateKeyFile: '',
  tlsMinVersion: '',
  tlsCipherSuites: [],
  metricsPlainHttp: false,
  authenticationKubeconfig: '',
  authenticationSkipLookup: false,
  authenticationTokenWebhookCacheTtlMs: 10_000,
  authenticationTolerateLookupFailure: false,
  clientCaFile: '',
  requestheaderClientCaFile: '',
  requestheaderAllowedNames: [],
  requestheaderUsernameHeaders: ['x-remote-user'],
  requestheaderUidHeaders: [],
  requestheaderGroupHeaders: ['x-remote-group'],
  requestheaderExtraHeadersPrefix: ['x-remote-extra-'],
  authorizationKubeconfig: '',
  authorizationAlwaysAllowPaths: ['/healthz', '/readyz', '/livez'],
  authorizationAlwaysAllowGroups: ['system:masters'],
  authorizationWebhookCacheAuthorizedTtlMs: 10_000,
  authorizationWebhookCacheUnauthorizedTtlMs: 10_000,
  oxideLoadBalancerFirewall: false,
  oxideLoadBalancerNamedFloatingIps: 'marked',
  oxideProjects: [],
  oxideRoutesVpc: '',
  oxideRequestTimeoutMs: 10_000,
  // Chosen by measurement (bench/failover-cost.bench.ts, docs/operations.md): the Lease watch
  // costs the most at rest and adds least where health checks reach the Nodes, so it is opt-in;
  // checks every 3 s with 2 failures still move a hung data plane in under 10 s.
  lbFailover: ['health-check', 'instance-state'],
  lbHealthCheckPort: 10256,
  lbHealthCheckIntervalMs: 3_000,
  lbHealthCheckTimeoutMs: 2_000,
  lbHealthCheckFailures: 2,
  lbLeaseStaleAfterMs: 25_000,
  lbInstancePollPeriodMs: 60_000,
  lbFailoverSettleTimeMs: 20_000,
  verbosity: 0,
  loggingFormat: 'text',
  logJsonSplitStream: false,
  logTextSplitStream: false,
  version: false,
  help: false,
});
