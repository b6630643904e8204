// The service controller against a real kube-apiserver and the fake cloud. Each test has its own
// namespace and controller (restricted to that namespace, since other test files share the
// apiserver); Nodes are cluster-scoped, so assertions only look at this test's Nodes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CoreV1Event, V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import type { LoadBalancerStatus } from '../src/cloud/provider.ts';
import { InvalidServiceConfigError } from '../src/cloud/provider.ts';
import { ServiceController } from '../src/controllers/service/controller.ts';
import type { ServiceControllerOptions } from '../src/controllers/service/controller.ts';
import { LOAD_BALANCER_CLEANUP_FINALIZER } from '../src/controllers/service/predicates.ts';
import { KubeClient, isNotFound } from '../src/kube/client.ts';
import type { PatchType, RequestOptions } from '../src/kube/client.ts';
import { LABEL_EXCLUDE_FROM_LB } from '../src/kube/well-known.ts';
import { registry } from '../src/metrics-registry.ts';
import { SERVICE_CONTROLLER } from '../src/names.ts';
import { FakeCloud } from './fake/cloud.ts';
import { testContext, waitFor as pollUntil } from './harness/context.ts';
import { testKube, uniqueName } from './harness/kube.ts';
import { createKubeletNode, deleteNode, setNodeReady } from './harness/nodes.ts';

/** The real client, counting the PATCHes that reach Service status. */
class CountingClient extends KubeClient {
  statusPatches: string[] = [];
  override patch<T>(
    path: string,
    patchType: PatchType,
    body: unknown,
    options?: RequestOptions,
  ): Promise<T> {
    if (/\/services\/[^/]+\/status$/.test(path)) this.statusPatches.push(path);
    return super.patch<T>(path, patchType, body, options);
  }
}

/**
 * The fake cloud with the Oxide status shape (FIP first with ipMode Proxy, then the target
 * Node's InternalIP; target = first candidate among this test's Nodes), and a check of what the
 * apiserver holds at the moment ensureLoadBalancer is called.
 */
class TargetingCloud extends FakeCloud {
  finalizerAtEnsure: boolean[] = [];
  readonly kube: KubeClient;
  readonly nodePrefix: string;

  constructor(kube: KubeClient, nodePrefix: string) {
    super();
    this.kube = kube;
    this.nodePrefix = nodePrefix;
  }

  private withTarget(status: LoadBalancerStatus, nodes: V1Node[]): LoadBalancerStatus {
    const target = nodes.find((n) => n.metadata?.name?.startsWith(this.nodePrefix));
    const ip = target?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    return { ingress: [status.ingress[0]!, ...(ip ? [{ ip }] : [])] };
  }

  override async ensureLoadBalancer(
    cluster: string,
    service: V1Service,
    nodes: V1Node[],
    signal?: AbortSignal,
  ): Promise<LoadBalancerStatus> {
    const live = await this.kube.get<V1Service>(
      `/api/v1/namespaces/${service.metadata?.namespace}/services/${service.metadata?.name}`,
    );
    this.finalizerAtEnsure.push(
      (live.metadata?.finalizers ?? []).includes(LOAD_BALANCER_CLEANUP_FINALIZER),
    );
    return this.withTarget(await super.ensureLoadBalancer(cluster, service, nodes, signal), nodes);
  }

  override async updateLoadBalancer(
    cluster: string,
    service: V1Service,
    nodes: V1Node[],
    signal?: AbortSignal,
  ): Promise<LoadBalancerStatus | void> {
    await super.updateLoadBalancer(cluster, service, nodes, signal);
    const lb = this.loadBalancers.get(`${service.metadata?.namespace}/${service.metadata?.name}`);
    return lb ? this.withTarget(lb.status, nodes) : undefined;
  }
}

let kube: KubeClient;
before(async () => {
  kube = (await testKube({ dedicated: true })).client;
});

const waitFor = <T>(what: string, fn: () => Promise<T> | T, timeoutMs = 15_000) =>
  pollUntil(what, fn, timeoutMs, 50);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Env {
  ns: string;
  controller: ServiceController;
  cloud: TargetingCloud;
  client: CountingClient;
  /** Names of this test's Nodes start with this. */
  nodePrefix: string;
  stop(): Promise<void>;
}

const envs: Env[] = [];
after(async () => {
  for (const env of envs.splice(0)) await env.stop();
});

async function startEnv(options: Partial<ServiceControllerOptions> = {}): Promise<Env> {
  const ns = uniqueName('svc');
  await kube.post('/api/v1/namespaces', { metadata: { name: ns } });
  const client = new CountingClient(kube.config, { qps: 500, burst: 1000 });
  const nodePrefix = uniqueName('lbn');
  const cloud = new TargetingCloud(kube, nodePrefix);
  // The controller's requests go through the counting client; events through the shared one.
  const ctx = testContext(client, cloud, 'test', kube, { namespace: ns });
  const { informers } = ctx;
  const controller = new ServiceController(ctx, {
    workers: 2,
    nodeSyncPeriodMs: 60_000,
    nodeSyncDebounceMs: 20,
    retryBaseMs: 200,
    retryMaxMs: 1_000,
    ...options,
  });
  const abort = new AbortController();
  informers.start(abort.signal);
  const running = controller.run(abort.signal);
  const env: Env = {
    ns,
    controller,
    cloud,
    client,
    nodePrefix,
    stop: async () => {
      abort.abort();
      await running;
      await informers.stopped();
      const nodes = await kube.get<{ items: V1Node[] }>('/api/v1/nodes');
      for (const n of nodes.items) {
        const name = n.metadata?.name ?? '';
        if (name.startsWith(nodePrefix)) await deleteNode(kube, name);
      }
      await kube.delete(`/api/v1/namespaces/${ns}`).catch(() => {});
    },
  };
  envs.push(env);
  return env;
}

async function stopEnv(env: Env): Promise<void> {
  envs.splice(envs.indexOf(env), 1);
  await env.stop();
}

// Nodes as an initialized kubelet + node controller leave them: providerID, InternalIP, Ready.
async function createNode(
  env: Env,
  suffix: string,
  ip: string,
  labels: Record<string, string> = {},
): Promise<string> {
  const name = `${env.nodePrefix}-${suffix}`;
  await createKubeletNode(kube, name, { initialized: true, providerID: `fake://${name}`, labels });
  await setNodeReady(kube, name, true, [{ type: 'InternalIP', address: ip }]);
  return name;
}

const setReady = (name: string, ready: boolean): Promise<V1Node> => setNodeReady(kube, name, ready);

const svcPath = (ns: string, name: string): string => `/api/v1/namespaces/${ns}/services/${name}`;

async function createService(
  ns: string,
  name: string,
  spec: Partial<NonNullable<V1Service['spec']>> = {},
): Promise<V1Service> {
  return kube.post<V1Service>(`/api/v1/namespaces/${ns}/services`, {
    metadata: { name },
    spec: {
      type: 'LoadBalancer',
      selector: { app: name },
      ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
      ...spec,
    },
  });
}

const getService = (ns: string, name: string): Promise<V1Service> =>
  kube.get<V1Service>(svcPath(ns, name));

/** The events this controller recorded for a Service (not the apiserver's own, e.g. ClusterIPNotAllocated). */
async function events(ns: string, name: string): Promise<CoreV1Event[]> {
  const list = await kube.get<{ items: CoreV1Event[] }>(`/api/v1/namespaces/${ns}/events`);
  return list.items.filter(
    (e) => e.involvedObject.name === name && e.source?.component === SERVICE_CONTROLLER.eventSource,
  );
}

const reasons = async (ns: string, name: string): Promise<string[]> =>
  (await events(ns, name)).map((e) => e.reason ?? '');

/** This test's Nodes among the candidates the fake cloud last received for the Service. */
const lbNodes = (env: Env, name: string): string[] | undefined =>
  env.cloud.loadBalancers
    .get(`${env.ns}/${name}`)
    ?.nodes.filter((n) => n.startsWith(env.nodePrefix))
    .sort();

const ingressOf = (svc: V1Service): { ip?: string; ipMode?: string }[] =>
  (svc.status?.loadBalancer?.ingress ?? []).map((i) => ({ ip: i.ip, ipMode: i.ipMode }));

describe('service controller', { timeout: 60_000 }, () => {
  it('adds the finalizer before ensuring, writes status once, records events', async () => {
    const env = await startEnv({ nodeSyncPeriodMs: 300 });
    const a = await createNode(env, 'a', '10.9.0.1');
    await createService(env.ns, 'web');
    const svc = await waitFor('status', async () => {
      const s = await getService(env.ns, 'web');
      return ingressOf(s).length > 0 ? s : undefined;
    });
    assert.deepEqual(ingressOf(svc)[0], { ip: '192.0.2.1', ipMode: 'Proxy' });
    assert.ok(svc.metadata?.finalizers?.includes(LOAD_BALANCER_CLEANUP_FINALIZER));
    assert.deepEqual(env.cloud.finalizerAtEnsure, [true]);
    // The run's signal reaches the provider, so shutdown can abort the call.
    assert.ok(env.cloud.callsOf('ensureLoadBalancer')[0]?.signal instanceof AbortSignal);
    assert.ok(lbNodes(env, 'web')?.includes(a));
    await waitFor('events', async () => {
      const r = await reasons(env.ns, 'web');
      return r.includes('EnsuringLoadBalancer') && r.includes('EnsuredLoadBalancer');
    });
    const ensured = (await events(env.ns, 'web')).find((e) => e.reason === 'EnsuredLoadBalancer');
    assert.equal(ensured?.source?.component, SERVICE_CONTROLLER.eventSource);
    assert.equal(ensured?.type, 'Normal');

    // Periodic resyncs (every 300 ms here) ask the provider again but write nothing.
    const rv = svc.metadata?.resourceVersion;
    const patches = env.client.statusPatches.length;
    await waitFor(
      'two periodic resyncs',
      () => env.cloud.callsOf('updateLoadBalancer').length >= 2,
    );
    assert.equal(env.client.statusPatches.length, patches);
    assert.equal(patches, 1);
    assert.equal((await getService(env.ns, 'web')).metadata?.resourceVersion, rv);

    // An annotation change re-ensures; the same answer means no status write either.
    await kube.patch(svcPath(env.ns, 'web'), 'merge', {
      metadata: { annotations: { 'example.com/touched': 'yes' } },
    });
    await waitFor('re-ensure', () => env.cloud.callsOf('ensureLoadBalancer').length === 2);
    await waitFor('re-ensure finished', () => env.controller.idle());
    assert.equal(env.client.statusPatches.length, 1);
    await stopEnv(env);
  });

  it('oxide_ccm_load_balancer_services counts its Services with and without an address', async () => {
    const env = await startEnv();
    await createNode(env, 'a', '10.9.9.1');
    await createService(env.ns, 'web');
    await waitFor('ingress', async () => ingressOf(await getService(env.ns, 'web')).length > 0);
    env.cloud.failNext(
      'ensureLoadBalancer',
      new InvalidServiceConfigError('annotation oxide.computer/floating-ip-version: "v5"'),
    );
    await createService(env.ns, 'bad');
    // Neither another class's Service nor a ClusterIP one is this controller's.
    await createService(env.ns, 'other', { loadBalancerClass: 'example.com/other' });
    await createService(env.ns, 'plain', { type: 'ClusterIP' });
    await waitFor('the invalid Service refused', async () => (await reasons(env.ns, 'bad')).length);
    const gauge = registry.getSingleMetric('oxide_ccm_load_balancer_services');
    assert.ok(gauge);
    const counts = async () =>
      Object.fromEntries(
        (await gauge.get()).values.map((v) => [String(v.labels['state']), v.value]),
      );
    assert.deepEqual(await counts(), { ingress: 1, pending: 1 });
    await stopEnv(env);
    assert.deepEqual(await counts(), {}, 'a stopped controller reports nothing');
  });

  it('handles its own loadBalancerClass and ignores other classes and types', async () => {
    const env = await startEnv();
    await createNode(env, 'a', '10.9.1.1');
    await createService(env.ns, 'other-class', { loadBalancerClass: 'example.com/other' });
    await createService(env.ns, 'cluster-ip', { type: 'ClusterIP' });
    await createService(env.ns, 'ours', { loadBalancerClass: env.cloud.loadBalancerClass });
    await waitFor(
      'own class ensured',
      async () => ingressOf(await getService(env.ns, 'ours')).length > 0,
    );
    // The other Services were created first, so their events were seen first: once everything
    // seen is acted on, anything done about them would show.
    await waitFor('controller idle', () => env.controller.idle());
    const targets = env.cloud.calls.map((c) => c.target);
    assert.ok(!targets.includes(`${env.ns}/other-class`));
    assert.ok(!targets.includes(`${env.ns}/cluster-ip`));
    for (const name of ['other-class', 'cluster-ip']) {
      const s = await getService(env.ns, name);
      assert.deepEqual(s.metadata?.finalizers ?? [], []);
      assert.deepEqual(ingressOf(s), []);
      assert.deepEqual(await reasons(env.ns, name), []);
    }
    await stopEnv(env);
  });

  it('cleans up when the type changes away from LoadBalancer', async () => {
    const env = await startEnv();
    await createNode(env, 'a', '10.9.2.1');
    await createService(env.ns, 'web');
    await waitFor('ensured', async () => ingressOf(await getService(env.ns, 'web')).length > 0);
    await kube.patch(svcPath(env.ns, 'web'), 'merge', { spec: { type: 'ClusterIP' } });
    const svc = await waitFor('finalizer removed', async () => {
      const s = await getService(env.ns, 'web');
      return (s.metadata?.finalizers ?? []).length === 0 ? s : undefined;
    });
    assert.equal(env.cloud.callsOf('ensureLoadBalancerDeleted').length, 1);
    assert.equal(env.cloud.loadBalancers.has(`${env.ns}/web`), false);
    assert.deepEqual(ingressOf(svc), []);
    await waitFor('events', async () => {
      const r = await reasons(env.ns, 'web');
      return r.includes('DeletingLoadBalancer') && r.includes('DeletedLoadBalancer');
    });
    await stopEnv(env);
  });

  it('deletes the load balancer before the Service goes away', async () => {
    const env = await startEnv();
    await createNode(env, 'a', '10.9.3.1');
    await createService(env.ns, 'web');
    await waitFor('ensured', async () => ingressOf(await getService(env.ns, 'web')).length > 0);
    env.cloud.failNext('ensureLoadBalancerDeleted', new Error('cloud says no'));
    await kube.delete(svcPath(env.ns, 'web'));
    // The first attempt fails: the Service must still exist, held by our finalizer.
    await waitFor('delete failure event', async () =>
      (await reasons(env.ns, 'web')).includes('DeleteLoadBalancerFailed'),
    );
    await waitFor('service gone', async () => {
      try {
        await getService(env.ns, 'web');
        return false;
      } catch (err) {
        return isNotFound(err);
      }
    });
    assert.equal(env.cloud.callsOf('ensureLoadBalancerDeleted').length, 2);
    assert.equal(env.cloud.loadBalancers.size, 0);
    await stopEnv(env);
  });

  it('reports provider errors, retries with backoff, and does not retry invalid Services', async () => {
    const env = await startEnv();
    await createNode(env, 'a', '10.9.4.1');
    env.cloud.failNext('ensureLoadBalancer', new Error('quota exceeded'), 2);
    await createService(env.ns, 'web');
    await waitFor(
      'ensured after retries',
      async () => ingressOf(await getService(env.ns, 'web')).length > 0,
    );
    assert.equal(env.cloud.callsOf('ensureLoadBalancer').length, 3);
    const failed = await waitFor('warning', async () =>
      (await events(env.ns, 'web')).find((e) => e.reason === 'SyncLoadBalancerFailed'),
    );
    assert.equal(failed.type, 'Warning');
    assert.match(failed.message ?? '', /Error syncing load balancer: quota exceeded/);

    env.cloud.failNext(
      'ensureLoadBalancer',
      new InvalidServiceConfigError(
        'annotation oxide.computer/floating-ip-version: "v5" is not v4 or v6',
      ),
    );
    await createService(env.ns, 'bad');
    await waitFor('invalid warning', async () =>
      (await events(env.ns, 'bad')).some((e) => /floating-ip-version/.test(e.message ?? '')),
    );
    // Neither the backoff (several periods pass) nor a Node change retries an unchanged
    // invalid Service.
    const b = await createNode(env, 'b', '10.9.4.2');
    await waitFor('the Node change acted on', () => lbNodes(env, 'web')?.includes(b));
    await waitFor('controller idle', () => env.controller.idle());
    assert.equal(
      env.cloud.callsOf('ensureLoadBalancer').filter((c) => c.target === `${env.ns}/bad`).length,
      1,
    );
    await kube.patch(svcPath(env.ns, 'bad'), 'merge', {
      metadata: { annotations: { 'oxide.computer/floating-ip-version': 'v4' } },
    });
    await waitFor('fixed', async () => ingressOf(await getService(env.ns, 'bad')).length > 0);
    await stopEnv(env);
  });

  it('fails over when the target Node turns NotReady or is deleted, honours exclusion', async () => {
    const env = await startEnv();
    const a = await createNode(env, 'a', '10.9.5.1');
    const b = await createNode(env, 'b', '10.9.5.2');
    const c = await createNode(env, 'c', '10.9.5.3');
    await createService(env.ns, 'web');
    await waitFor('ensured on a,b,c', () => lbNodes(env, 'web')?.length === 3);
    const svc = await waitFor('status', async () => {
      const s = await getService(env.ns, 'web');
      return ingressOf(s).length === 2 ? s : undefined;
    });
    assert.equal(ingressOf(svc)[0]?.ipMode, 'Proxy');

    const t0 = performance.now();
    await setReady(a, false);
    await waitFor('a dropped', () => lbNodes(env, 'web')?.join() === [b, c].join());
    const failoverMs = performance.now() - t0;
    await waitFor('UpdatedLoadBalancer', async () =>
      (await reasons(env.ns, 'web')).includes('UpdatedLoadBalancer'),
    );

    await deleteNode(kube, b);
    await waitFor('b dropped', () => lbNodes(env, 'web')?.join() === c);

    const d = await createNode(env, 'd', '10.9.5.4');
    await waitFor('d added', () => lbNodes(env, 'web')?.join() === [c, d].join());
    await kube.patch(`/api/v1/nodes/${d}`, 'merge', {
      metadata: { labels: { [LABEL_EXCLUDE_FROM_LB]: 'true' } },
    });
    await waitFor('d excluded', () => lbNodes(env, 'web')?.join() === c);
    console.log(`# failover: candidate set updated ${failoverMs.toFixed(0)} ms after NotReady`);
    await stopEnv(env);
  });

  it('status follows the provider when re-targeting changes it', async () => {
    const env = await startEnv();
    const a = await createNode(env, 'a', '10.9.6.1');
    await createNode(env, 'b', '10.9.6.2');
    await createService(env.ns, 'web', { externalTrafficPolicy: 'Local' });
    await kube.post(`/apis/discovery.k8s.io/v1/namespaces/${env.ns}/endpointslices`, {
      metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: [
        { addresses: ['10.244.0.1'], nodeName: a, conditions: { ready: true } },
        { addresses: ['10.244.0.2'], nodeName: `${env.nodePrefix}-b`, conditions: { ready: true } },
      ],
      ports: [{ port: 8080, protocol: 'TCP' }],
    });
    await waitFor(
      'status on a',
      async () => ingressOf(await getService(env.ns, 'web'))[1]?.ip === '10.9.6.1',
    );
    await setReady(a, false);
    await waitFor(
      'status on b',
      async () => ingressOf(await getService(env.ns, 'web'))[1]?.ip === '10.9.6.2',
    );
    await stopEnv(env);
  });

  it('externalTrafficPolicy Local passes only Nodes with ready endpoints and follows them', async () => {
    const env = await startEnv();
    const a = await createNode(env, 'a', '10.9.7.1');
    const b = await createNode(env, 'b', '10.9.7.2');
    const c = await createNode(env, 'c', '10.9.7.3');
    await createService(env.ns, 'web', { externalTrafficPolicy: 'Local' });
    const slicePath = `/apis/discovery.k8s.io/v1/namespaces/${env.ns}/endpointslices`;
    const slice = (nodeName: string, ready: boolean): V1EndpointSlice => ({
      metadata: { name: 'web-abc', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.244.1.1'], nodeName, conditions: { ready } }],
      ports: [{ port: 8080, protocol: 'TCP' }],
    });
    // No endpoints yet: every eligible Node is a candidate.
    await waitFor('ensured on all', () => lbNodes(env, 'web')?.join() === [a, b, c].join());
    await kube.post(slicePath, slice(b, true));
    await waitFor('only b', () => lbNodes(env, 'web')?.join() === b);
    await kube.patch(`${slicePath}/web-abc`, 'merge', { endpoints: slice(c, true).endpoints });
    await waitFor('moved to c', () => lbNodes(env, 'web')?.join() === c);
    // The endpoint's Node goes NotReady: back to every eligible Node rather than none.
    await setReady(c, false);
    await waitFor('fallback', () => lbNodes(env, 'web')?.join() === [a, b].join());
    await stopEnv(env);
  });

  it('re-syncs nothing for Node changes no load balancer reads (ExternalIP, Hostname, labels)', async () => {
    // No debounce: each Node change would be a sweep of its own.
    const env = await startEnv({ nodeSyncDebounceMs: 0 });
    const node = await createNode(env, 'a', '10.9.7.1');
    await createService(env.ns, 's0');
    await waitFor('ensured', () => lbNodes(env, 's0')?.length === 1);
    await waitFor('controller idle', () => env.controller.idle());
    const updates = (): number =>
      env.cloud.callsOf('updateLoadBalancer').filter((c) => c.target === `${env.ns}/s0`).length;
    const before = updates();
    // What an address refresh writes after the floating IP was attached, and a label it sets.
    await setNodeReady(kube, node, true, [
      { type: 'InternalIP', address: '10.9.7.1' },
      { type: 'ExternalIP', address: '203.0.113.5' },
      { type: 'Hostname', address: node },
    ]);
    await kube.patch(`/api/v1/nodes/${node}`, 'merge', {
      metadata: { labels: { 'node.kubernetes.io/instance-type': '4-16' } },
    });
    // An InternalIP change (published in the Service's status) does re-sync: once it has, the
    // changes before it have been seen too.
    await setNodeReady(kube, node, true, [{ type: 'InternalIP', address: '10.9.7.2' }]);
    const svc = await waitFor('status follows the new InternalIP', async () => {
      const s = await getService(env.ns, 's0');
      return ingressOf(s).some((i) => i.ip === '10.9.7.2') ? s : undefined;
    });
    assert.ok(svc);
    await waitFor('controller idle', () => env.controller.idle());
    assert.equal(updates() - before, 1, 'one update: the InternalIP change only');
    await stopEnv(env);
  });

  it('folds a burst of Node changes into one update per Service', async () => {
    const env = await startEnv({ nodeSyncDebounceMs: 300 });
    const nodes: string[] = [];
    for (let i = 0; i < 5; i++) nodes.push(await createNode(env, `n${i}`, `10.9.8.${i + 1}`));
    for (let i = 0; i < 5; i++) await createService(env.ns, `s${i}`);
    await waitFor('all ensured', () =>
      [0, 1, 2, 3, 4].every((i) => lbNodes(env, `s${i}`)?.length === 5),
    );
    const before = env.cloud.callsOf('updateLoadBalancer').length;
    // Spread over ~150 ms, inside the 300 ms debounce window but far apart for the queue.
    for (const n of nodes.slice(0, 4)) {
      await setReady(n, false);
      await sleep(50);
    }
    await waitFor('all updated', () =>
      [0, 1, 2, 3, 4].every((i) => lbNodes(env, `s${i}`)?.join() === nodes[4]),
    );
    await waitFor('controller idle', () => env.controller.idle());
    // One sweep: one update per Service. Nodes of tests running beside this one may add one
    // more sweep; without debouncing, 4 changes x 5 Services would be up to 20.
    const updates = env.cloud.callsOf('updateLoadBalancer').length - before;
    assert.ok(updates >= 5 && updates <= 10, `${updates} updates`);
    await stopEnv(env);
  });
});
