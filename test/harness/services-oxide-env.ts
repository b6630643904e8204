// The whole Service path as a cluster runs it: a dedicated kube-apiserver, the Oxide simulator
// over HTTP, the real Oxide provider, the node controller (so Nodes get `oxide://` providerIDs
// and InternalIPs from the simulator) and the service controller with short periods. Shared by
// the test/services-oxide-*.test.ts files; each file starts one environment of its own.
import assert from 'node:assert/strict';
import type {
  CoreV1Event,
  CoreV1EventList,
  V1EndpointSlice,
  V1Node,
  V1Service,
} from '@kubernetes/client-node';
import type { FloatingIp } from '@oxide/api';
import type { InstanceSeed, Simulator } from '../../sim/server.ts';
import { NodeController } from '../../src/controllers/node/controller.ts';
import { ServiceController } from '../../src/controllers/service/controller.ts';
import { LOAD_BALANCER_CLEANUP_FINALIZER } from '../../src/controllers/service/predicates.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { TAINT_UNINITIALIZED } from '../../src/kube/well-known.ts';
import { waitFor } from './context.ts';
import { testKube } from './kube.ts';
import { createKubeletNode, getNode } from './nodes.ts';
import { QUICK_RETRIES, startOxideEnv } from './oxide-env.ts';

export const CLUSTER = 'kubernetes';
export const DESCRIPTION = 'Managed by oxide-cloud-controller-manager.';
/** Periodic resync of every load balancer: "within one resync" is measured against this. */
export const RESYNC_MS = 1500;

export interface EnvOptions {
  /** Services live here; short, so FIP names stay under 63 characters and exact. */
  namespace: string;
  /** Instances in the simulator; a Node of the same name is registered for each. */
  instances: InstanceSeed[];
  workers?: number;
  /** Simulator latency per request (the issue measures failover at 50 ms). Default 0. */
  latencyMs?: number;
}

export interface Env {
  kube: KubeClient;
  sim: Simulator;
  ns: string;
  /** Tests wait on its resyncs and idle() rather than sleeping. */
  services: ServiceController;
  stop(): Promise<void>;
}

export async function startEnv(options: EnvOptions): Promise<Env> {
  const { client: kube } = await testKube({ dedicated: true });
  const oxide = await startOxideEnv({
    kube,
    seed: { project: 'k8s', instances: options.instances },
    latencyMs: options.latencyMs ?? 0,
    clientOptions: { timeoutMs: 2000, ...QUICK_RETRIES },
    inventoryTtlMs: 200,
    clusterName: CLUSTER,
  });
  const nodes = new NodeController(oxide.ctx, { workers: 4, statusUpdateFrequencyMs: 1000 });
  const services = new ServiceController(oxide.ctx, {
    workers: options.workers ?? 4,
    nodeSyncPeriodMs: RESYNC_MS,
    nodeSyncDebounceMs: 100,
    retryBaseMs: 200,
    retryMaxMs: 1000,
  });
  oxide.start(nodes, services);
  await kube.post('/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: options.namespace },
  });
  await Promise.all(options.instances.map((i) => createKubeletNode(kube, i.name)));
  await Promise.all(options.instances.map((i) => initializedNode(kube, i.name)));
  return { kube, sim: oxide.sim, ns: options.namespace, services, stop: () => oxide.stop() };
}

export async function initializedNode(kube: KubeClient, name: string): Promise<V1Node> {
  return waitFor(`node ${name} initialized`, async () => {
    const n = await getNode(kube, name);
    const tainted = (n.spec?.taints ?? []).some((t) => t.key === TAINT_UNINITIALIZED);
    const internal = (n.status?.addresses ?? []).some((a) => a.type === 'InternalIP');
    return !tainted && internal && n.spec?.providerID?.startsWith('oxide://') ? n : undefined;
  });
}

export interface ServiceOptions {
  annotations?: Record<string, string>;
  spec?: Partial<NonNullable<V1Service['spec']>>;
}

export function servicePath(env: Env, name: string): string {
  return `/api/v1/namespaces/${env.ns}/services/${name}`;
}

export function createService(env: Env, name: string, opts: ServiceOptions = {}) {
  return env.kube.post<V1Service>(`/api/v1/namespaces/${env.ns}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, annotations: opts.annotations ?? {} },
    spec: {
      type: 'LoadBalancer',
      selector: { app: name },
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
      ...opts.spec,
    },
  });
}

export const getService = (env: Env, name: string) =>
  env.kube.get<V1Service>(servicePath(env, name));

export async function deleteService(env: Env, name: string): Promise<void> {
  await env.kube.delete(servicePath(env, name));
}

export async function serviceGone(env: Env, name: string): Promise<boolean> {
  return getService(env, name).then(
    () => false,
    () => true,
  );
}

export const hasFinalizer = (svc: V1Service): boolean =>
  (svc.metadata?.finalizers ?? []).includes(LOAD_BALANCER_CLEANUP_FINALIZER);

export const fipName = (env: Env, service: string, suffix = ''): string =>
  `${CLUSTER}-${env.ns}-${service}${suffix}`;

export const fipsNamed = (env: Env, name: string): FloatingIp[] =>
  env.sim.db.floatingIps.filter((f) => f.name === name);

/** The one FIP of that name (fails on duplicates), or undefined. */
export function fip(env: Env, name: string): FloatingIp | undefined {
  const found = fipsNamed(env, name);
  assert.ok(found.length <= 1, `duplicate floating IPs named ${name}`);
  return found[0];
}

export const instanceName = (env: Env, id: string | null | undefined): string | undefined =>
  env.sim.db.instances.find((i) => i.id === id)?.name;

export async function internalIPs(env: Env, node: string): Promise<string[]> {
  const n = await getNode(env.kube, node);
  return (n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address);
}

/**
 * What status must say for these FIPs: each with ipMode Proxy, then the target Node's
 * InternalIPs, which the provider sends without ipMode and the apiserver defaults to VIP (so
 * kube-proxy accepts the NATed packets arriving at the Node's private address).
 */
export async function expectedIngress(
  env: Env,
  fips: readonly FloatingIp[],
): Promise<{ ip: string; ipMode?: string }[]> {
  const out: { ip: string; ipMode?: string }[] = fips.map((f) => ({ ip: f.ip, ipMode: 'Proxy' }));
  const seen = new Set<string>();
  for (const f of fips) {
    const node = instanceName(env, f.instanceId);
    assert.ok(node, `floating IP ${f.name} is attached`);
    for (const ip of await internalIPs(env, node)) {
      if (!seen.has(ip)) out.push({ ip, ipMode: 'VIP' });
      seen.add(ip);
    }
  }
  return out;
}

/** Waits until the Service's status is exactly what the FIPs in sim.db say. */
export async function settled(env: Env, service: string, fipNames: readonly string[]) {
  return waitFor(`${service} status matches the simulator`, async () => {
    const fips = fipNames.map((n) => fip(env, n));
    if (fips.some((f) => !f?.instanceId)) {
      throw new Error(`not attached: ${JSON.stringify(fips.map((f) => [f?.name, f?.ip]))}`);
    }
    const svc = await getService(env, service);
    const want = await expectedIngress(env, fips as FloatingIp[]);
    // Throws (and waitFor reports) the difference until they agree.
    assert.deepEqual(svc.status?.loadBalancer?.ingress ?? [], want);
    return { svc, fips: fips as FloatingIp[] };
  });
}

export async function events(env: Env, name: string): Promise<CoreV1Event[]> {
  const list = await env.kube.get<CoreV1EventList>(`/api/v1/namespaces/${env.ns}/events`, {
    query: { fieldSelector: `involvedObject.name=${name},involvedObject.kind=Service` },
  });
  return list.items;
}

export const reasons = async (env: Env, name: string): Promise<string[]> =>
  (await events(env, name)).map((e) => e.reason ?? '');

/** EndpointSlice of a Service with one ready endpoint per Node named. */
export async function putEndpoints(env: Env, service: string, nodes: string[]): Promise<void> {
  const name = `${service}-eps`;
  const slice: V1EndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: env.ns, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: nodes.map((nodeName, i) => ({
      addresses: [`10.244.${i}.10`],
      nodeName,
      conditions: { ready: true },
    })),
  };
  const path = `/apis/discovery.k8s.io/v1/namespaces/${env.ns}/endpointslices`;
  const existing = await env.kube.get<V1EndpointSlice>(`${path}/${name}`).catch(() => undefined);
  if (existing) {
    const resourceVersion = existing.metadata?.resourceVersion;
    if (slice.metadata && resourceVersion) slice.metadata.resourceVersion = resourceVersion;
    await env.kube.put(`${path}/${name}`, slice);
  } else {
    await env.kube.post(path, slice);
  }
}
