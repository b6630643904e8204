// Everything the command line configures, typed and with upstream's defaults (durations in ms).
// Where our default differs from upstream's, the flag table in flags.ts says why.
export interface CcmOptions {
  cloudProvider: string;
  cloudConfig: string;
  kubeconfig: string;
  master: string;
  clusterName: string;
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
  metricsPlainHttp: boolean;
  oxideLoadBalancerFirewall: boolean;
  oxideRequestTimeoutMs: number;
  verbosity: number;
  version: boolean;
  help: boolean;
}

export const defaultOptions = (): CcmOptions => ({
  cloudProvider: '',
  cloudConfig: '',
  kubeconfig: '',
  master: '',
  clusterName: 'kubernetes',
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
  metricsPlainHttp: false,
  oxideLoadBalancerFirewall: false,
  oxideRequestTimeoutMs: 10_000,
  verbosity: 0,
  version: false,
  help: false,
});
