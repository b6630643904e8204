// A small cluster under faults, shared by the fault matrix (test/faults.test.ts) and the soak
// (hack/soak.ts): a dedicated etcd + kube-apiserver, the Oxide simulator, and every controller
// in this process with the real provider. It tracks what should exist (Nodes backed by
// instances, LoadBalancer Services) and checks the invariants the issue names:
// - safety, at every moment: no Node deleted whose instance exists; no floating IP, route or
//   firewall rule duplicated; no unhandled rejection;
// - convergence, once faults clear: every Node initialized, every Service with an address backed
//   by exactly one floating IP, no floating IP, route or firewall rule left for what is gone.
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { startSimulator } from '../../sim/server.ts';
import type { Simulator } from '../../sim/server.ts';
import { OxideCloudProvider } from '../../src/cloud/oxide/provider.ts';
import { NodeLifecycleController } from '../../src/controllers/node-lifecycle/controller.ts';
import { NodeController } from '../../src/controllers/node/controller.ts';
import { RouteController } from '../../src/controllers/route/controller.ts';
import { ServiceController } from '../../src/controllers/service/controller.ts';
import { KubeClient, isNotFound } from '../../src/kube/client.ts';
import { TAINT_UNINITIALIZED } from '../../src/kube/well-known.ts';
import { OxideClient } from '../../src/oxide/client.ts';
import { testContext } from './context.ts';
import { ControlPlane } from './controlplane.ts';
import { createKubeletNode, deleteNode, setNodeReady } from './nodes.ts';

export const CLUSTER = 'faults';
const ROUTER = `${CLUSTER}-pods`;
export const CLUSTER_CIDR = '10.244.0.0/16';

export interface WorldOptions {
  /** Oxide client timeout per attempt. */
  timeoutMs?: number;
  /** Items per list page (small, so lists have several pages). */
  pageSize?: number;
}

interface NodeRecord {
  instance: string;
  uid: string;
  podCIDR: string;
}

export class World {
  readonly cp: ControlPlane;
  readonly kube: KubeClient;
  readonly sim: Simulator;
  readonly client: OxideClient;
  readonly ns = 'faults';
  /** Nodes that must exist while their instance does, by name. */
  readonly nodes = new Map<string, NodeRecord>();
  /** LoadBalancer Services that must have an address. */
  readonly services = new Set<string>();
  /** Services deleted: their floating IP and firewall rules must go. */
  readonly deletedServices = new Set<string>();
  readonly rejections: unknown[] = [];
  private readonly abort = new AbortController();
  private readonly running: Promise<void>[] = [];
  private counter = 0;
  private readonly onRejection = (err: unknown): void => {
    this.rejections.push(err);
  };

  private constructor(cp: ControlPlane, kube: KubeClient, sim: Simulator, client: OxideClient) {
    this.cp = cp;
    this.kube = kube;
    this.sim = sim;
    this.client = client;
  }

  static async start(options: WorldOptions = {}): Promise<World> {
    const cp = new ControlPlane({ detachFromProcess: true });
    const info = await cp.start();
    const kube = KubeClient.load(info.kubeconfig, { qps: 500, burst: 1000 });
    const sim = await startSimulator({ seed: { project: 'k8s' } });
    const client = new OxideClient({
      host: sim.url,
      token: sim.token,
      project: sim.project,
      timeoutMs: options.timeoutMs ?? 1500,
      pageSize: options.pageSize ?? 3,
      retry: { baseDelayMs: 20, maxDelayMs: 200, maxRetryAfterMs: 2000 },
    });
    const world = new World(cp, kube, sim, client);
    process.on('unhandledRejection', world.onRejection);
    const cloud = new OxideCloudProvider({
      cluster: { name: 'kubernetes', id: 'cluster-a' },
      client,
      loadBalancerFirewall: true,
      inventory: { ttlMs: 500 },
    });
    const ctx = testContext(kube, cloud, CLUSTER);
    const controllers = [
      new NodeController(ctx, { workers: 4, statusUpdateFrequencyMs: 2000 }),
      new NodeLifecycleController(ctx, { monitorPeriodMs: 500 }),
      new ServiceController(ctx, {
        workers: 4,
        nodeSyncPeriodMs: 2000,
        nodeSyncDebounceMs: 100,
        retryBaseMs: 100,
        retryMaxMs: 2000,
      }),
      new RouteController(ctx, { clusterCIDRs: [CLUSTER_CIDR], periodMs: 1000 }),
    ];
    ctx.informers.start(world.abort.signal);
    world.running.push(
      ...controllers.map((c) => c.run(world.abort.signal)),
      ctx.informers.stopped(),
    );
    await kube.post('/api/v1/namespaces', { metadata: { name: world.ns } });
    return world;
  }

  /** Stops the controllers and informers (as on SIGTERM); resolves once every run() returned. */
  async stopControllers(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.running);
  }

  async stop(): Promise<void> {
    await this.stopControllers();
    process.off('unhandledRejection', this.onRejection);
    await this.client.close();
    await this.sim.stop();
    await this.cp.stop();
  }

  private next(): number {
    this.counter += 1;
    return this.counter;
  }

  /** An instance and its kubelet-registered Node with a pod CIDR. */
  async addNode(): Promise<string> {
    const n = this.next();
    const name = `node-${n}`;
    // A pod CIDR no Node and no route has: a route of a deleted Node may still be there.
    const taken = new Set([
      ...[...this.nodes.values()].map((r) => r.podCIDR),
      ...this.ourRoutes().map((r) => (r.destination.type === 'ip_net' ? r.destination.value : '')),
    ]);
    let index = 1;
    while (taken.has(`10.244.${index}.0/24`)) index += 1;
    const podCIDR = `10.244.${index}.0/24`;
    this.sim.db.addInstance({ name, nics: [{ primary: true, v4: 'auto' }] });
    const node = await createKubeletNode(this.kube, name);
    await this.kube.patch(`/api/v1/nodes/${name}`, 'merge', {
      spec: { podCIDR, podCIDRs: [podCIDR] },
    });
    this.nodes.set(name, { instance: name, uid: node.metadata?.uid ?? '', podCIDR });
    return name;
  }

  /**
   * The machine goes away: its instance is deleted and its kubelet stops reporting, so the
   * lifecycle controller must delete the Node.
   */
  async removeMachine(name: string): Promise<void> {
    const rec = this.nodes.get(name);
    if (!rec) return;
    this.nodes.delete(name);
    this.sim.db.deleteInstance(rec.instance);
    const node = await this.setReady(name, false).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
      return undefined;
    });
    // A Node never initialized is left to the operator (the lifecycle controller skips it).
    if (node?.spec?.taints?.some((t) => t.key === TAINT_UNINITIALIZED)) await this.deleteNode(name);
  }

  /** Deletes a Node (as kubectl would); it may be mid-reconcile. */
  async deleteNode(name: string): Promise<void> {
    this.nodes.delete(name);
    await deleteNode(this.kube, name).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  /** A Node whose kubelet stopped reporting: NotReady, instance still there. */
  setReady(name: string, ready: boolean): Promise<V1Node> {
    return setNodeReady(this.kube, name, ready);
  }

  async addService(): Promise<string> {
    const name = `svc-${this.next()}`;
    await this.kube.post(`/api/v1/namespaces/${this.ns}/services`, {
      metadata: { name },
      spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    });
    this.services.add(name);
    return name;
  }

  async deleteService(name: string): Promise<void> {
    this.services.delete(name);
    this.deletedServices.add(name);
    await this.kube
      .delete(`/api/v1/namespaces/${this.ns}/services/${name}`)
      .catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
  }

  private fipName(service: string): string {
    return `${CLUSTER}-${this.ns}-${service}`;
  }

  private ourRoutes() {
    const routers = new Set(this.sim.db.routers.filter((r) => r.name === ROUTER).map((r) => r.id));
    return this.sim.db.routes.filter((r) => routers.has(r.vpcRouterId));
  }

  private ourRules() {
    return this.sim.db.firewallRules().filter((r) => r.name.startsWith('k8s-lb-'));
  }

  /** Safety violations, which must never be seen, even while faults are active. */
  async violations(): Promise<string[]> {
    const out: string[] = [];
    const nodes = await this.listNodes();
    for (const [name, rec] of this.nodes) {
      if (!this.sim.db.instances.some((i) => i.name === rec.instance)) continue;
      const node = nodes.get(name);
      if (!node) out.push(`Node ${name} deleted although instance ${rec.instance} exists`);
      else if (node.metadata?.uid !== rec.uid) out.push(`Node ${name} was deleted and recreated`);
    }
    const dup = (what: string, keys: string[]): void => {
      const seen = new Set<string>();
      for (const k of keys) {
        if (seen.has(k)) out.push(`duplicate ${what} ${k}`);
        seen.add(k);
      }
    };
    dup(
      'floating IP',
      this.sim.db.floatingIps.map((f) => f.name),
    );
    dup(
      'route',
      this.ourRoutes().map((r) => `${r.vpcRouterId}/${JSON.stringify(r.destination)}`),
    );
    dup(
      'firewall rule',
      this.ourRules().map((r) => r.name),
    );
    if (this.rejections.length > 0) {
      out.push(`unhandled rejection: ${this.rejections.map((e) => String(e)).join('; ')}`);
    }
    return out;
  }

  /** What is not yet as it should be once faults clear (empty when converged). */
  async pending(): Promise<string[]> {
    const out: string[] = [];
    const nodes = await this.listNodes();
    for (const [name] of this.nodes) {
      const node = nodes.get(name);
      if (!node) continue; // a safety violation, reported by violations()
      if ((node.spec?.taints ?? []).some((t) => t.key === TAINT_UNINITIALIZED)) {
        out.push(`Node ${name} not initialized`);
      }
    }
    for (const name of nodes.keys()) {
      if (!this.nodes.has(name)) out.push(`Node ${name} should be gone`);
    }
    const services = await this.kube.get<{ items: V1Service[] }>(
      `/api/v1/namespaces/${this.ns}/services`,
    );
    const byName = new Map(services.items.map((s) => [s.metadata?.name ?? '', s]));
    for (const name of this.services) {
      const ip = byName.get(name)?.status?.loadBalancer?.ingress?.[0]?.ip;
      const fips = this.sim.db.floatingIps.filter((f) => f.name === this.fipName(name));
      if (!ip) out.push(`Service ${name} has no address`);
      else if (fips.length !== 1 || fips[0]?.ip !== ip) {
        out.push(`Service ${name} address ${ip} is not its one floating IP`);
      }
    }
    for (const name of this.deletedServices) {
      if (byName.has(name)) out.push(`Service ${name} not finalized`);
      if (this.sim.db.floatingIps.some((f) => f.name === this.fipName(name))) {
        out.push(`floating IP of deleted Service ${name} leaked`);
      }
    }
    const rules = this.ourRules().length;
    if (rules !== this.services.size) {
      out.push(`${rules} firewall rules for ${this.services.size} Services`);
    }
    const wantRoutes = new Set([...this.nodes.values()].map((n) => n.podCIDR));
    const routes = this.ourRoutes().map((r) =>
      r.destination.type === 'ip_net' ? r.destination.value : '',
    );
    for (const cidr of wantRoutes) {
      if (!routes.includes(cidr)) out.push(`route for ${cidr} missing`);
    }
    for (const cidr of routes) {
      if (!wantRoutes.has(cidr)) out.push(`route for ${cidr} leaked`);
    }
    return out;
  }

  private async listNodes(): Promise<Map<string, V1Node>> {
    const list = await this.kube.get<{ items: V1Node[] }>('/api/v1/nodes');
    return new Map(list.items.map((n) => [n.metadata?.name ?? '', n]));
  }

  /**
   * Polls until converged, failing at once on a safety violation; resolves with the time it
   * took. Rejects after timeoutMs with what is still pending.
   */
  async converge(timeoutMs: number): Promise<number> {
    const started = performance.now();
    let last: string[] = [];
    while (performance.now() - started < timeoutMs) {
      const bad = await this.violations();
      if (bad.length > 0) throw new Error(`invariant violated: ${bad.join('; ')}`);
      last = await this.pending().catch((err: unknown) => [`cannot check: ${String(err)}`]);
      if (last.length === 0) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`not converged after ${timeoutMs} ms: ${last.join('; ')}`);
  }

  /** Checks safety every 100 ms for durationMs (while a fault is active). */
  async watchSafety(durationMs: number): Promise<void> {
    const until = performance.now() + durationMs;
    while (performance.now() < until) {
      const bad = await this.violations().catch(() => []);
      if (bad.length > 0) throw new Error(`invariant violated: ${bad.join('; ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
