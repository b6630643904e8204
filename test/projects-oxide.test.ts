// Nodes in two Oxide projects of one silo (--oxide-projects a,b), the whole chain: the node,
// node-lifecycle, service and route controllers in-process with the real Oxide provider, against a
// dedicated kube-apiserver and the simulator, whose silo also holds a third project (c) that is
// not configured. Issue 19's proof: every Node initialized with its instance's providerID and
// addresses, whichever project holds it; a LoadBalancer Service per project served by Nodes of
// that project; deleting an instance in b deletes only its Node; a Service annotated with the
// unconfigured project gets a clear Warning and nothing is created. And routes: each Node's pod
// CIDR on the cluster router of its own project's VPC (a VPC does not span projects).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CoreV1EventList, V1Node, V1Service } from '@kubernetes/client-node';
import type { FloatingIp, Instance } from '@oxide/api';
import type { Simulator } from '../sim/server.ts';
import { NodeLifecycleController } from '../src/controllers/node-lifecycle/controller.ts';
import { NodeController } from '../src/controllers/node/controller.ts';
import { RouteController } from '../src/controllers/route/controller.ts';
import { ServiceController } from '../src/controllers/service/controller.ts';
import type { KubeClient } from '../src/kube/client.ts';
import { TAINT_UNINITIALIZED } from '../src/kube/well-known.ts';
import { waitFor } from './harness/context.ts';
import { testKube } from './harness/kube.ts';
import { createKubeletNode, getNode, setNodeReady } from './harness/nodes.ts';
import { QUICK_RETRIES, startOxideEnv } from './harness/oxide-env.ts';
import type { OxideEnv } from './harness/oxide-env.ts';

const NS = 'mp';
const CLUSTER = 'kubernetes';
let kube: KubeClient;
let env: OxideEnv;
let sim: Simulator;

/** Instances per project, with the v4 address of each one's primary NIC. */
const INSTANCES = [
  { name: 'a1', project: 'a', v4: '172.30.0.11', podCIDR: '10.244.1.0/24' },
  { name: 'a2', project: 'a', v4: '172.30.0.12', podCIDR: '10.244.2.0/24' },
  { name: 'b1', project: 'b', v4: '172.30.1.11', podCIDR: '10.244.3.0/24' },
  { name: 'b2', project: 'b', v4: '172.30.1.12', podCIDR: '10.244.4.0/24' },
  { name: 'b3', project: 'b', v4: '172.30.1.13', podCIDR: '10.244.5.0/24' },
] as const;

const instance = (name: string): Instance => {
  const found = sim.db.instances.find((i) => i.name === name);
  assert.ok(found, `instance ${name}`);
  return found;
};
const projectName = (id: string | null | undefined): string | undefined =>
  sim.db.projects.find((p) => p.id === id)?.name;
const instanceProject = (instanceId: string | null | undefined): string | undefined =>
  projectName(sim.db.instances.find((i) => i.id === instanceId)?.projectId);
const fipOf = (service: string): FloatingIp | undefined =>
  sim.db.floatingIps.find((f) => f.name === `${CLUSTER}-${NS}-${service}`);

before(async () => {
  ({ client: kube } = await testKube({ dedicated: true }));
  env = await startOxideEnv({
    kube,
    seed: { project: 'a' },
    projects: ['a', 'b'],
    clientOptions: { timeoutMs: 2000, ...QUICK_RETRIES },
    inventoryTtlMs: 200,
    clusterName: CLUSTER,
  });
  sim = env.sim;
  sim.db.addProject('b');
  sim.db.addProject('c');
  for (const i of INSTANCES) {
    sim.db.addInstance({
      name: i.name,
      project: i.project,
      nics: [{ primary: true, v4: i.v4, transitIps: [i.podCIDR] }],
    });
  }
  sim.db.addInstance({ name: 'c1', project: 'c', nics: [{ primary: true, v4: '172.30.2.11' }] });
  // One name in both configured projects.
  sim.db.addInstance({ name: 'twin', project: 'a', nics: [{ primary: true, v4: '172.30.0.99' }] });
  sim.db.addInstance({ name: 'twin', project: 'b', nics: [{ primary: true, v4: '172.30.1.99' }] });
  const nodes = new NodeController(env.ctx, { workers: 2, statusUpdateFrequencyMs: 1000 });
  const lifecycle = new NodeLifecycleController(env.ctx, { monitorPeriodMs: 300 });
  const services = new ServiceController(env.ctx, {
    workers: 2,
    nodeSyncPeriodMs: 1500,
    nodeSyncDebounceMs: 100,
    retryBaseMs: 200,
    retryMaxMs: 1000,
  });
  const routes = new RouteController(env.ctx, { clusterCIDRs: ['10.244.0.0/16'], periodMs: 300 });
  env.start(nodes, lifecycle, services, routes);
  await kube.post('/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NS },
  });
});

after(() => env.stop());

async function initialized(name: string): Promise<V1Node> {
  return waitFor(`Node ${name} initialized`, async () => {
    const n = await getNode(kube, name);
    const tainted = (n.spec?.taints ?? []).some((t) => t.key === TAINT_UNINITIALIZED);
    const internal = (n.status?.addresses ?? []).some((a) => a.type === 'InternalIP');
    return !tainted && internal ? n : undefined;
  });
}

function createService(name: string, annotations: Record<string, string> = {}) {
  return kube.post<V1Service>(`/api/v1/namespaces/${NS}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, annotations },
    spec: {
      type: 'LoadBalancer',
      selector: { app: name },
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
    },
  });
}

async function serviceEvents(name: string): Promise<string[]> {
  const list = await kube.get<CoreV1EventList>(`/api/v1/namespaces/${NS}/events`, {
    query: { fieldSelector: `involvedObject.name=${name},involvedObject.kind=Service` },
  });
  return list.items.map((e) => `${e.type} ${e.reason}: ${e.message}`);
}

test('every Node in either project initialized with its instance’s providerID, addresses and project', async () => {
  // As kubelet registers: by name only, except b3, whose kubelet was given --provider-id.
  for (const i of INSTANCES) {
    await createKubeletNode(
      kube,
      i.name,
      i.name === 'b3' ? { providerID: `oxide://${instance('b3').id}` } : {},
    );
  }
  for (const i of INSTANCES) {
    const node = await initialized(i.name);
    assert.equal(node.spec?.providerID, `oxide://${instance(i.name).id}`, i.name);
    assert.deepEqual(
      node.status?.addresses,
      [
        { type: 'Hostname', address: i.name },
        { type: 'InternalIP', address: i.v4 },
      ],
      i.name,
    );
    assert.equal(node.metadata?.labels?.['oxide.computer/project'], i.project, i.name);
    assert.equal(node.metadata?.labels?.['node.kubernetes.io/instance-type'], '2-8', i.name);
  }
});

test('a Node whose name matches instances in both projects: a Warning naming both, never a guess', async () => {
  await createKubeletNode(kube, 'twin');
  const warning = await waitFor('the Warning on the Node', async () => {
    const list = await kube.get<CoreV1EventList>('/api/v1/namespaces/default/events', {
      query: { fieldSelector: 'involvedObject.name=twin' },
    });
    return list.items.find((e) => e.type === 'Warning')?.message;
  });
  const [inA, inB] = ['a', 'b'].map(
    (p) =>
      sim.db.instances.find((i) => i.name === 'twin' && i.projectId === sim.db.project(p).id)?.id,
  );
  assert.match(warning, /Node twin is ambiguous/);
  assert.ok(warning.includes(`${inA} in project a`) && warning.includes(`${inB} in project b`));
  const node = await getNode(kube, 'twin');
  assert.ok((node.spec?.taints ?? []).some((t) => t.key === TAINT_UNINITIALIZED));
  assert.equal(node.spec?.providerID, undefined);
  await kube.delete('/api/v1/nodes/twin');
});

test('routes: each Node’s pod CIDR on the cluster router of its own project’s VPC', async () => {
  for (const i of INSTANCES) {
    await kube.patch(`/api/v1/nodes/${i.name}`, 'merge', {
      spec: { podCIDR: i.podCIDR, podCIDRs: [i.podCIDR] },
    });
  }
  const routerIn = (project: string) => {
    const vpc = sim.db.vpcs.find(
      (v) => v.projectId === sim.db.project(project).id && v.name === 'default',
    );
    return sim.db.routers.find((r) => r.vpcId === vpc?.id && r.name === `${CLUSTER}-pods`);
  };
  const held = (project: string): string[] => {
    const out: string[] = [];
    for (const r of sim.db.routes) {
      if (r.vpcRouterId !== routerIn(project)?.id || r.target.type !== 'instance') continue;
      if (r.destination.type === 'ip_net') out.push(`${r.target.value} ${r.destination.value}`);
    }
    return out.sort((x, y) => x.localeCompare(y));
  };
  const want = (project: string): string[] =>
    INSTANCES.filter((i) => i.project === project).map((i) => `${i.name} ${i.podCIDR}`);
  await waitFor('every route on its project’s router', () =>
    ['a', 'b'].every((p) => JSON.stringify(held(p)) === JSON.stringify(want(p))),
  );
  for (const i of INSTANCES) {
    await waitFor(`${i.name} NetworkUnavailable False`, async () => {
      const n = await getNode(kube, i.name);
      const c = n.status?.conditions?.find((x) => x.type === 'NetworkUnavailable');
      return c?.status === 'False' && c.reason === 'RouteCreated';
    });
  }
  // Each router attached to its own project's subnet.
  for (const p of ['a', 'b']) {
    const subnet = sim.db.subnets.find((s) => s.customRouterId === routerIn(p)?.id);
    assert.ok(subnet, `project ${p}'s subnet carries its router`);
  }
});

test('a LoadBalancer Service per project, each served by a Node of its own project', async () => {
  await createService('web-a');
  await createService('web-b', { 'oxide.computer/project': 'b' });
  for (const [service, project] of [
    ['web-a', 'a'],
    ['web-b', 'b'],
  ] as const) {
    const svc = await waitFor(`${service} has its floating IP in status`, async () => {
      const s = await kube.get<V1Service>(`/api/v1/namespaces/${NS}/services/${service}`);
      const fip = fipOf(service);
      return fip?.instanceId && s.status?.loadBalancer?.ingress?.[0]?.ip === fip.ip ? s : undefined;
    });
    const fip = fipOf(service);
    assert.ok(fip);
    assert.equal(projectName(fip.projectId), project, `${service}'s floating IP project`);
    assert.equal(instanceProject(fip.instanceId), project, `${service}'s target instance project`);
    // Status: the FIP, then the target Node's InternalIP (a Node of that project).
    const target = INSTANCES.find((i) => instance(i.name).id === fip.instanceId);
    assert.equal(target?.project, project);
    assert.deepEqual(svc.status?.loadBalancer?.ingress?.[1]?.ip, target?.v4);
  }
});

test('a Service annotated with an unconfigured project: a clear Warning, nothing created', async () => {
  const creates = sim.requests.count('floating_ip_create');
  await createService('web-c', { 'oxide.computer/project': 'c' });
  const warning = await waitFor('the Warning', async () =>
    (await serviceEvents('web-c')).find((e) => e.startsWith('Warning SyncLoadBalancerFailed')),
  );
  assert.equal(
    warning,
    'Warning SyncLoadBalancerFailed: Error syncing load balancer: annotation oxide.computer/project: project "c" is not one of the projects this cloud controller manager serves (a, b)',
  );
  assert.equal(fipOf('web-c'), undefined);
  assert.equal(sim.requests.count('floating_ip_create'), creates);
  assert.equal(sim.db.floatingIps.filter((f) => projectName(f.projectId) === 'c').length, 0);
  const svc = await kube.get<V1Service>(`/api/v1/namespaces/${NS}/services/web-c`);
  assert.deepEqual(svc.status?.loadBalancer ?? {}, {});
});

test('deleting an instance in b deletes only its Node; b’s Service moves to another Node of b', async () => {
  const victim = fipOf('web-b')?.instanceId;
  const name = INSTANCES.find((i) => instance(i.name).id === victim)?.name;
  assert.ok(name && name.startsWith('b'), `web-b is on a Node of b (${name})`);
  // A NotReady Node in a whose instance exists: asked about on every pass, never deleted.
  await setNodeReady(kube, 'a2', false);
  // The VM goes away and its kubelet with it.
  await setNodeReady(kube, name, false);
  sim.db.deleteInstance(instance(name).id);
  await waitFor(
    `Node ${name} deleted`,
    async () =>
      (await getNode(kube, name).then(
        () => false,
        () => true,
      )) || undefined,
  );
  // Later lifecycle passes over a2 (each lists project a's instances) still keep it.
  const listsOfA = () =>
    sim.requests.entries.filter(
      (e) => e.operationId === 'instance_list' && e.query.startsWith('?project=a&'),
    ).length;
  const seen = listsOfA();
  await waitFor('more lifecycle passes', () => listsOfA() >= seen + 3);
  for (const i of INSTANCES) {
    if (i.name === name) continue;
    const node = await getNode(kube, i.name);
    assert.equal(node.metadata?.deletionTimestamp, undefined, i.name);
  }
  const moved = await waitFor('web-b on another Node of b', () => {
    const fip = fipOf('web-b');
    return fip?.instanceId && fip.instanceId !== victim ? fip : undefined;
  });
  assert.equal(instanceProject(moved.instanceId), 'b');
  const deletions = (
    await kube.get<CoreV1EventList>('/api/v1/namespaces/default/events', {
      query: { fieldSelector: 'reason=DeletingNode' },
    })
  ).items.map((e) => e.involvedObject.name);
  assert.deepEqual(deletions, [name]);
});
