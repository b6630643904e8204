// Several clusters in one Oxide project: each a control plane of its own (etcd + kube-apiserver),
// its Nodes already initialized on instances of the one simulator project, and the CCM run
// in-process (runApp, as main.ts runs it) with a token of its own, so the simulator's request
// log tells the clusters' requests apart (Simulator.addToken). Used by test/clusters-oxide.test.ts
// and bench/clusters-churn.bench.ts.
import { PassThrough } from 'node:stream';
import type { V1Namespace, V1Service } from '@kubernetes/client-node';
import { fetch } from 'undici';
import type { Simulator } from '../../sim/server.ts';
import { runApp } from '../../src/app.ts';
import { resolveControllers } from '../../src/config/controllers.ts';
import { defaultOptions } from '../../src/config/options.ts';
import type { CcmOptions } from '../../src/config/options.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { createLogger } from '../../src/log.ts';
import { ControlPlane } from './controlplane.ts';
import { createKubeletNode } from './nodes.ts';
import { freePort } from './ports.ts';

export interface Cluster {
  /** The simulator principal of its CCM's token. */
  principal: string;
  kube: KubeClient;
  kubeconfig: string;
  /** The kube-system namespace's UID: the identity its CCM writes into records. */
  uid: string;
  /** Its instances' ids (its Nodes). */
  instances: Set<string>;
  controlPlane: ControlPlane;
}

export async function startCluster(
  sim: Simulator,
  principal: string,
  nodes: readonly string[],
): Promise<Cluster> {
  const controlPlane = new ControlPlane({ detachFromProcess: true });
  const info = await controlPlane.start();
  const kube = KubeClient.load(info.kubeconfig, { qps: 500, burst: 1000 });
  const ns = await kube.get<V1Namespace>('/api/v1/namespaces/kube-system');
  const instances = new Set<string>();
  for (const name of nodes) {
    const instance = sim.db.findInstance(name);
    instances.add(instance.id);
    await createKubeletNode(kube, name, {
      initialized: true,
      providerID: `oxide://${instance.id}`,
    });
  }
  return {
    principal,
    kube,
    kubeconfig: info.kubeconfig,
    uid: ns.metadata?.uid ?? '',
    instances,
    controlPlane,
  };
}

export interface RunningCcm {
  port: number;
  /** Its klog output so far. */
  logs(): string;
  /** /readyz?verbose: status and body. */
  ready(): Promise<{ status: number; body: string }>;
  stop(): Promise<number>;
}

/** The cluster's CCM: the service controller by default, its own Oxide token, no leader election. */
export async function runCcm(
  sim: Simulator,
  cluster: Cluster,
  options: Partial<CcmOptions> = {},
  controllers: readonly string[] = ['service'],
): Promise<RunningCcm> {
  const port = await freePort();
  const token = sim.addToken(cluster.principal);
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  const stop = new AbortController();
  const exited = runApp(
    {
      options: {
        ...defaultOptions(),
        cloudProvider: 'oxide',
        kubeconfig: cluster.kubeconfig,
        leaderElect: false,
        bindAddress: '127.0.0.1',
        securePort: port,
        metricsPlainHttp: true,
        ...options,
      },
      controllers: resolveControllers([...controllers]).enabled,
      oxide: { host: sim.url, token, project: sim.project, region: '', zone: '' },
      sharedNameRecheckMs: 500,
    },
    createLogger({ verbosity: 2, errorStream: stream }),
    stop.signal,
  );
  return {
    port,
    logs: () => text,
    async ready() {
      const res = await fetch(`http://127.0.0.1:${port}/readyz?verbose`);
      return { status: res.status, body: await res.text() };
    },
    async stop() {
      stop.abort();
      return exited;
    },
  };
}

export function loadBalancer(
  name: string,
  namespace: string,
  annotations: Record<string, string> = {},
): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, annotations },
    spec: {
      type: 'LoadBalancer',
      selector: { app: name },
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    },
  };
}

export async function ensureNamespace(kube: KubeClient, name: string): Promise<void> {
  await kube
    .post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } })
    .catch((err: unknown) => {
      if (!(err instanceof Error && /409|already exists/i.test(err.message))) throw err;
    });
}

export const ingressIp = async (
  kube: KubeClient,
  namespace: string,
  name: string,
): Promise<string | undefined> =>
  (await kube.get<V1Service>(`/api/v1/namespaces/${namespace}/services/${name}`)).status
    ?.loadBalancer?.ingress?.[0]?.ip;
