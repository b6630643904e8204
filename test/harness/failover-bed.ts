// The real-cluster bed for load-balancer failover, with PRODUCTION timings: kubelet Leases of
// 40 s renewed every 10 s (kwok, as kubelet), kube-controller-manager with its default node
// monitor period and grace period, the CCM as a process against the Oxide simulator. Every
// instance gets a loopback address (127.A.B.x: all of 127/8 is loopback on Linux), so each
// Node's InternalIP is an address this process can serve on: each Node gets a small
// kube-proxy-like /healthz server the test can stop, as a hung data plane stops answering.
// Used by test/cluster-failover.test.ts, bench/failover.bench.ts and hack/failover-soak.ts.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { CoreV1EventList, V1Lease, V1Node, V1Service } from '@kubernetes/client-node';
import type { FloatingIp } from '@oxide/api';
import { startSimulator } from '../../sim/server.ts';
import type { Simulator } from '../../sim/server.ts';
import { CcmProcess } from '../../hack/demo/ccm.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { TAINT_UNINITIALIZED } from '../../src/kube/well-known.ts';
import { startKubeCluster } from './cluster.ts';
import type { KubeCluster } from './cluster.ts';
import { waitFor } from './context.ts';
import { ControlPlane } from './controlplane.ts';
import { createLoadBalancer, registerKwokNode, KWOK_LABEL } from './kwok.ts';
import { freePort } from './ports.ts';
import { repoRoot } from './testbin.ts';

export const CLUSTER = 'kubernetes';
/** kubelet's defaults: Lease of 40 s, renewed every quarter of it. */
export const LEASE_DURATION_SECONDS = 40;
export const RENEW_INTERVAL_MS = 10_000;
const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
const SUBNET = 'loopback';

export interface FailoverBedOptions {
  /** Instances created in the simulator (Nodes are registered later, by the scenarios). */
  instances: readonly string[];
  /** More CCM flags (e.g. --lb-failover=none, thresholds). */
  ccmArgs?: readonly string[];
  /** Bound of every wait. */
  waitMs?: number;
  detachFromProcess?: boolean;
}

/** A Node's kube-proxy /healthz stand-in, on the Node's InternalIP. */
class HealthServer {
  private server: Server | undefined;
  private readonly ip: string;
  private readonly port: number;

  constructor(ip: string, port: number) {
    this.ip = ip;
    this.port = port;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      const ok = req.url === '/healthz';
      res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' });
      const now = new Date().toISOString();
      res.end(ok ? JSON.stringify({ lastUpdated: now, currentTime: now }) : '');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.ip, () => resolve());
    });
    this.server = server;
  }

  /** Stops answering at once: listener closed, open (kept-alive) connections cut. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export class FailoverBed {
  readonly cp: ControlPlane;
  readonly kube: KubeClient;
  readonly sim: Simulator;
  readonly cluster: KubeCluster;
  ccm: CcmProcess;
  readonly healthPort: number;
  readonly metricsPort: number;
  readonly dir: string;
  readonly kubeconfig: string;
  /** The admin token: /metrics needs an authorized identity. */
  private readonly token: string;
  private readonly waitMs: number;
  private readonly ips = new Map<string, string>();
  private readonly health = new Map<string, HealthServer>();

  private constructor(parts: {
    cp: ControlPlane;
    kube: KubeClient;
    sim: Simulator;
    cluster: KubeCluster;
    ccm: CcmProcess;
    healthPort: number;
    metricsPort: number;
    dir: string;
    kubeconfig: string;
    token: string;
    waitMs: number;
    ips: Map<string, string>;
  }) {
    this.token = parts.token;
    this.cp = parts.cp;
    this.kube = parts.kube;
    this.sim = parts.sim;
    this.cluster = parts.cluster;
    this.ccm = parts.ccm;
    this.healthPort = parts.healthPort;
    this.metricsPort = parts.metricsPort;
    this.dir = parts.dir;
    this.kubeconfig = parts.kubeconfig;
    this.waitMs = parts.waitMs;
    this.ips = parts.ips;
  }

  static async start(options: FailoverBedOptions): Promise<FailoverBed> {
    const waitMs = options.waitMs ?? 120_000;
    const detach = options.detachFromProcess ?? true;
    const cp = new ControlPlane({ detachFromProcess: detach });
    const info = await cp.start();
    const kube = KubeClient.load(info.kubeconfig, { qps: 500, burst: 1000 });
    const sim = await startSimulator({ seed: { project: 'k8s' } });
    // A /24 of loopback per process, so two beds on one machine do not share addresses.
    const net = `127.${100 + (process.pid % 100)}.${1 + (Math.floor(process.pid / 100) % 250)}`;
    sim.db.addSubnet({ name: SUBNET, ipv4Block: `${net}.0/24` });
    const ips = new Map<string, string>();
    options.instances.forEach((name, i) => {
      const ip = `${net}.${10 + i}`;
      sim.db.addInstance({ name, nics: [{ primary: true, subnet: SUBNET, v4: ip }] });
      ips.set(name, ip);
    });
    const cluster = await startKubeCluster({
      kubeconfig: info.kubeconfig,
      dir: info.dir,
      leaseDurationSeconds: LEASE_DURATION_SECONDS,
      nodeMonitorGracePeriod: null,
      nodeMonitorPeriod: null,
      detachFromProcess: detach,
    });
    const healthPort = await freePort();
    const metricsPort = await freePort();
    const ccmParams = { dir: info.dir, kubeconfig: info.kubeconfig, sim, healthPort, metricsPort };
    const ccm = newCcm(ccmParams, options.ccmArgs ?? []);
    process.on('exit', () => ccm.killNow());
    await ccm.waitReady(Date.now() + waitMs);
    const bed = new FailoverBed({
      cp,
      kube,
      sim,
      cluster,
      ccm,
      healthPort,
      metricsPort,
      dir: info.dir,
      kubeconfig: info.kubeconfig,
      token: info.token,
      waitMs,
      ips,
    });
    return bed;
  }

  /** Restarts the CCM with these extra flags. */
  async restartCcm(extraArgs: readonly string[]): Promise<void> {
    await this.ccm.stop();
    const ccm = newCcm(this, extraArgs);
    this.ccm = ccm;
    process.on('exit', () => ccm.killNow());
    await ccm.waitReady(Date.now() + this.waitMs);
  }

  async stop(): Promise<void> {
    for (const h of this.health.values()) await h.stop();
    await this.ccm.stop();
    await this.cluster.stop();
    await this.sim.stop();
    await this.cp.stop();
  }

  ip(name: string): string {
    const ip = this.ips.get(name);
    if (!ip) throw new Error(`no instance ${name} in the bed`);
    return ip;
  }

  /** Bounded wait whose failure carries the CCM's and KCM's last log lines. */
  until<T>(what: string, fn: () => Promise<T> | T, ms = this.waitMs): Promise<NonNullable<T>> {
    return waitFor(what, fn, ms, 100).catch((err: unknown) => {
      throw new Error(
        `${String(err)}\n--- ccm:\n${this.ccm.logTail(15)}\n--- kube-controller-manager:\n${this.cluster.kcm.logTail(5)}`,
      );
    });
  }

  /** Registers kwok Nodes (with a health server each unless `health: false`), waits until usable. */
  async joinNodes(names: readonly string[], opts: { health?: boolean } = {}): Promise<void> {
    if (opts.health ?? true) for (const n of names) await this.startHealth(n);
    await Promise.all(names.map((n) => registerKwokNode(this.kube, n)));
    await this.until(`${names.length} Nodes usable`, async () => {
      const nodes = await Promise.all(names.map((n) => this.node(n)));
      return nodes.every(usable);
    });
  }

  async removeNodes(names: readonly string[]): Promise<void> {
    for (const [key, h] of this.health) if (names.includes(key.split(':')[0] ?? '')) await h.stop();
    await Promise.all(
      names.map((n) => this.kube.delete(`/api/v1/nodes/${n}`).catch(() => undefined)),
    );
  }

  /** kube-proxy's /healthz on the Node (its health-check port), or a Service's healthCheckNodePort. */
  async startHealth(name: string, port = this.healthPort): Promise<void> {
    let h = this.health.get(`${name}:${port}`);
    if (!h) {
      h = new HealthServer(this.ip(name), port);
      this.health.set(`${name}:${port}`, h);
    }
    await h.start();
  }

  async stopHealth(name: string, port = this.healthPort): Promise<void> {
    await this.health.get(`${name}:${port}`)?.stop();
  }

  node(name: string): Promise<V1Node> {
    return this.kube.get<V1Node>(`/api/v1/nodes/${name}`);
  }

  async ready(name: string): Promise<string | undefined> {
    const n = await this.node(name);
    return n.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  }

  /** The Node's Lease renewTime (ms since the epoch), or undefined. */
  async renewTime(name: string): Promise<number | undefined> {
    const lease = await this.kube
      .get<V1Lease>(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`)
      .catch(() => undefined);
    const t = lease?.spec?.renewTime;
    return t === undefined ? undefined : new Date(t as unknown as string).getTime();
  }

  /** Renews the Node's Lease now, as its kubelet would (for Nodes kwok no longer manages). */
  async renewLease(name: string): Promise<void> {
    await this.kube.patch(
      `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`,
      'merge',
      { spec: { renewTime: new Date().toISOString().replace('Z', '000Z') } },
    );
  }

  /** kwok stops managing the Node: no Lease renewals, no status posts (its kubelet is dead). */
  async stopKubelet(name: string): Promise<void> {
    await this.kube.patch(`/api/v1/nodes/${name}`, 'merge', {
      metadata: { labels: { [KWOK_LABEL]: null } },
    });
  }

  async startKubelet(name: string): Promise<void> {
    await this.kube.patch(`/api/v1/nodes/${name}`, 'merge', {
      metadata: { labels: { [KWOK_LABEL]: 'fake' } },
    });
  }

  async namespace(name: string): Promise<string> {
    await this.kube.post('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    });
    return name;
  }

  loadBalancer(ns: string, name: string, spec: Partial<V1Service['spec']> = {}) {
    return createLoadBalancer(this.kube, ns, name, spec);
  }

  fip(ns: string, svc: string): FloatingIp | undefined {
    return this.sim.db.floatingIps.find((f) => f.name === `${CLUSTER}-${ns}-${svc}`);
  }

  /** The instance (= Node) name the Service's floating IP is attached to. */
  holder(ns: string, svc: string): string | undefined {
    const id = this.fip(ns, svc)?.instanceId;
    return this.sim.db.instances.find((i) => i.id === id)?.name;
  }

  /** Events of `reason` in the namespace, oldest first. */
  async events(ns: string, reason: string): Promise<CoreV1EventList['items']> {
    const list = await this.kube.get<CoreV1EventList>(`/api/v1/namespaces/${ns}/events`, {
      query: { fieldSelector: `reason=${reason}` },
    });
    return list.items;
  }

  /** Sum of a metric family's samples whose labels include `labels`, from the CCM's /metrics. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    if (!res.ok) throw new Error(`/metrics: HTTP ${res.status}`);
    const text = await res.text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+|NaN)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const l = m[2] ?? '';
      if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
    }
    return sum;
  }

  /** Lines of the CCM's log that contain `text`. */
  logLines(text: string): string[] {
    return this.ccm
      .logTail(100_000)
      .split('\n')
      .filter((l) => l.includes(text));
  }
}

export interface LateRenewalsResult {
  services: number;
  moves: number;
  /** MovedLoadBalancer events in the namespace. */
  events: number;
  pauses: number;
}

/**
 * The no-flap run: `services` LoadBalancer Services on `nodes` (joined already); the kubelets'
 * Lease renewals are taken over by this process and each is late by a random delay of up to one
 * renew interval (kwok renews on time), and the apiserver is frozen for 20 s at each of
 * `pausesAt` (fractions of the run). Counts floating-IP moves (sampled every 250 ms) and
 * MovedLoadBalancer events: none is caused by a Node actually stopping.
 */
export async function lateRenewals(
  bed: FailoverBed,
  ns: string,
  nodes: readonly string[],
  services: number,
  seconds: number,
  pausesAt: readonly number[],
): Promise<LateRenewalsResult> {
  await bed.namespace(ns);
  const names = Array.from({ length: services }, (_, i) => `s${i}`);
  for (const s of names) await bed.loadBalancer(ns, s);
  const holders = await bed.until('every floating IP attached', () => {
    const h = names.map((s) => bed.holder(ns, s));
    return h.every((x) => x !== undefined) ? h : undefined;
  });
  for (const n of nodes) await bed.stopKubelet(n);
  const stop = AbortSignal.timeout(seconds * 1000);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let moves = 0;
  try {
    const renewers = nodes.map(async (n) => {
      while (!stop.aborted) {
        await bed.renewLease(n).catch(() => undefined);
        await sleep(RENEW_INTERVAL_MS * (1 + Math.random()));
      }
    });
    const pauser = (async () => {
      let at = 0;
      for (const fraction of pausesAt) {
        await sleep(Math.max(0, fraction * seconds * 1000 - at));
        bed.cp.pauseApiserver();
        await sleep(20_000);
        bed.cp.resumeApiserver();
        at = fraction * seconds * 1000 + 20_000;
      }
    })();
    const current: (string | undefined)[] = [...holders];
    while (!stop.aborted) {
      names.forEach((s, i) => {
        const h = bed.holder(ns, s);
        if (h !== current[i]) {
          moves++;
          current[i] = h;
        }
      });
      await sleep(250);
    }
    await Promise.all([...renewers, pauser]);
  } finally {
    bed.cp.resumeApiserver();
    for (const n of nodes) await bed.startKubelet(n).catch(() => undefined);
  }
  const events = (await bed.events(ns, 'MovedLoadBalancer')).length;
  for (const s of names)
    await bed.kube.delete(`/api/v1/namespaces/${ns}/services/${s}`).catch(() => undefined);
  return { services, moves, events, pauses: pausesAt.length };
}

interface CcmParams {
  dir: string;
  kubeconfig: string;
  sim: Simulator;
  healthPort: number;
  metricsPort: number;
}

function newCcm(p: CcmParams, extraArgs: readonly string[]): CcmProcess {
  return new CcmProcess({
    repoRoot,
    kubeconfig: p.kubeconfig,
    port: p.metricsPort,
    logFile: join(p.dir, 'ccm.log'),
    oxide: { host: p.sim.url, token: p.sim.token, project: p.sim.project },
    extraArgs: [
      `--cluster-name=${CLUSTER}`,
      `--lb-health-check-port=${p.healthPort}`,
      // Every signal (the Lease is opt-in), every failover setting at its default. A list flag
      // appends when repeated, so a caller's own --lb-failover replaces this one.
      ...(extraArgs.some((a) => a.startsWith('--lb-failover='))
        ? []
        : ['--lb-failover=health-check,instance-state,lease']),
      '--concurrent-service-syncs=10',
      '-v=2',
      ...extraArgs,
    ],
  });
}

const taintKeys = (n: V1Node): string[] => (n.spec?.taints ?? []).map((t) => t.key);

/** Initialized by the CCM, Ready by kwok, not-ready taint removed by KCM: schedulable. */
export const usable = (n: V1Node): boolean =>
  n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' &&
  !!n.spec?.providerID?.startsWith('oxide://') &&
  (n.status?.addresses ?? []).some((a) => a.type === 'InternalIP') &&
  !taintKeys(n).some((k) => k === TAINT_UNINITIALIZED || k === TAINT_NOT_READY);
