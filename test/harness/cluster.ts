// A real cluster around the CCM, on top of a ControlPlane (etcd + kube-apiserver):
// kube-controller-manager with --cloud-provider=external (so it runs no cloud controllers: those
// are the CCM's), kube-scheduler, and kwok as every Node's kubelet. What each one does for the
// tests:
//
// - kube-controller-manager: node-lifecycle-controller (Ready → Unknown when a Node's Lease is
//   not renewed, not-ready/unreachable taints, removing not-ready once Ready), node-ipam-controller
//   (spec.podCIDRs, when a cluster CIDR is given), endpointslice-controller, the Deployment →
//   ReplicaSet → Pod chain, serviceaccount-controller (Pods need the default ServiceAccount),
//   garbage collection and pod GC, taint-based eviction.
// - kube-scheduler: binds Pods to Nodes (only initialized, untainted, schedulable ones).
// - kwok: Lease renewals, Ready condition, running Pods (see kwok.ts).
//
// Grace periods are shortened so a test sees a dead kubelet in seconds (production defaults in
// parentheses): Node Lease 6 s (40 s), renewed every 1.5 s (10 s); --node-monitor-grace-period
// 12 s (50 s); --node-monitor-period 1 s (5 s). Everything else runs with upstream defaults.
import { join } from 'node:path';
import { Component } from './component.ts';
import { startKwok } from './kwok.ts';
import { freePort } from './ports.ts';
import { testbin } from './testbin.ts';

export const LEASE_DURATION_SECONDS = 6;
export const NODE_MONITOR_GRACE_PERIOD = '12s';
export const NODE_MONITOR_PERIOD = '1s';

/** What the node-lifecycle, endpointslice and workload paths of the tests need, nothing more. */
const KCM_CONTROLLERS = [
  'node-lifecycle-controller',
  'endpointslice-controller',
  'serviceaccount-controller',
  'deployment-controller',
  'replicaset-controller',
  'garbage-collector-controller',
  'pod-garbage-collector-controller',
  'taint-eviction-controller',
];

export interface KubeClusterOptions {
  kubeconfig: string;
  /** Log files and the kwok config go here (the ControlPlane's dir is removed with it). */
  dir: string;
  /** --cluster-cidr for node IPAM (/24 per Node); omitted: no pod CIDRs are allocated. */
  clusterCIDR?: string;
  /** kwok's Node status re-post period; default kubelet's 5 m (the Lease is the heartbeat). */
  statusReportMs?: number;
  /** Node Lease duration; default LEASE_DURATION_SECONDS (benchmarks use kubelet's 40 s). */
  leaseDurationSeconds?: number;
  /**
   * --node-monitor-grace-period; default NODE_MONITOR_GRACE_PERIOD; null: kube-controller-
   * manager's own default (production timings).
   */
  nodeMonitorGracePeriod?: string | null;
  /** --node-monitor-period; default NODE_MONITOR_PERIOD; null: its own default (5 s). */
  nodeMonitorPeriod?: string | null;
  /** Container images each Node reports in status.images, as a kubelet does (size realism). */
  imagesPerNode?: number;
  detachFromProcess?: boolean;
}

export interface KubeCluster {
  kcm: Component;
  scheduler: Component;
  kwok: Component;
  stop(): Promise<void>;
  /** Synchronous SIGKILL for exit paths. */
  killNow(): void;
}

export async function startKubeCluster(options: KubeClusterOptions): Promise<KubeCluster> {
  const [kcmPort, schedulerPort] = [await freePort(), await freePort()];
  const kc = options.kubeconfig;
  const common = [
    `--kubeconfig=${kc}`,
    `--authentication-kubeconfig=${kc}`,
    `--authorization-kubeconfig=${kc}`,
    '--bind-address=127.0.0.1',
    '--leader-elect=false',
    '--v=2',
  ];
  const detach = options.detachFromProcess ? { detachFromProcess: true } : {};
  const kcm = new Component({
    name: 'kube-controller-manager',
    binary: testbin('kube-controller-manager'),
    args: [
      ...common,
      `--secure-port=${kcmPort}`,
      '--cloud-provider=external',
      `--controllers=${[
        ...KCM_CONTROLLERS,
        ...(options.clusterCIDR ? ['node-ipam-controller'] : []),
      ].join(',')}`,
      ...(options.nodeMonitorPeriod === null
        ? []
        : [`--node-monitor-period=${options.nodeMonitorPeriod ?? NODE_MONITOR_PERIOD}`]),
      ...(options.nodeMonitorGracePeriod === null
        ? []
        : [
            `--node-monitor-grace-period=${options.nodeMonitorGracePeriod ?? NODE_MONITOR_GRACE_PERIOD}`,
          ]),
      ...(options.clusterCIDR
        ? [
            '--allocate-node-cidrs=true',
            `--cluster-cidr=${options.clusterCIDR}`,
            '--node-cidr-mask-size=24',
            '--service-cluster-ip-range=10.96.0.0/16',
          ]
        : []),
    ],
    logFile: join(options.dir, 'kube-controller-manager.log'),
    ...detach,
  });
  const scheduler = new Component({
    name: 'kube-scheduler',
    binary: testbin('kube-scheduler'),
    args: [...common, `--secure-port=${schedulerPort}`],
    logFile: join(options.dir, 'kube-scheduler.log'),
    ...detach,
  });
  const kwok = startKwok({
    kubeconfig: kc,
    dir: options.dir,
    leaseDurationSeconds: options.leaseDurationSeconds ?? LEASE_DURATION_SECONDS,
    ...(options.statusReportMs !== undefined ? { statusReportMs: options.statusReportMs } : {}),
    ...(options.imagesPerNode !== undefined ? { imagesPerNode: options.imagesPerNode } : {}),
    ...detach,
  });
  const all = [kcm, scheduler, kwok];
  try {
    await Promise.all([kcm.waitHealthy(kcmPort), scheduler.waitHealthy(schedulerPort)]);
    if (!kwok.running) throw new Error(`kwok exited early:\n${kwok.logTail()}`);
  } catch (err) {
    for (const c of all) c.killNow();
    throw err;
  }
  return {
    kcm,
    scheduler,
    kwok,
    async stop() {
      await Promise.all(all.map((c) => c.stop()));
    },
    killNow() {
      for (const c of all) c.killNow();
    },
  };
}
