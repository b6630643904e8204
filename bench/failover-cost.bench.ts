// What load-balancer failover costs at rest: the CCM as deployed (the bundle on the image's Node.js
// flags, bench/ccm-process.ts) with 1000 initialized Nodes whose kubelet Leases are renewed every
// 10 s (a writer in this process, as 1000 kubelets would: 100 Lease updates a second) and 200
// LoadBalancer Services, one row per --lb-failover setting. Each Node has a kube-proxy-like
// /healthz server on its loopback InternalIP, so the health checks really run. Per row: the CCM's
// CPU (utime+stime) over the idle window, as seconds per 10 minutes, its RSS (anon/file), the
// health checks and Oxide calls per second. The same apiserver and simulator serve every row;
// the CCM is restarted with the row's flags and settles before the window.
// Printed for the record, never asserted.
// Run: make bundle && node_modules/.bin/node bench/failover-cost.bench.ts
//   NODES=1000 SERVICES=200 WINDOW_S=60 SETTLE_S=30
//   ROWS=none,default,lease (also: health-check, instance-state, "instance-state 2s", "none (again)")
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Service } from '@kubernetes/client-node';
import { startSimulator } from '../sim/server.ts';
import { KubeClient } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import { ControlPlane } from '../test/harness/controlplane.ts';
import { createKubeletNode } from '../test/harness/nodes.ts';
import { freePort } from '../test/harness/ports.ts';
import { repoRoot } from '../test/harness/testbin.ts';
import { CcmUnderBench } from './ccm-process.ts';
import { formatOps, inParallel, machine, printTable, until } from './lib.ts';
import type { Cell } from './lib.ts';

const NODES = Number(process.env['NODES'] ?? 1000);
const SERVICES = Number(process.env['SERVICES'] ?? 200);
const WINDOW_MS = Number(process.env['WINDOW_S'] ?? 60) * 1000;
const SETTLE_MS = Number(process.env['SETTLE_S'] ?? 30) * 1000;
const RENEW_MS = 10_000;
const ROWS: Record<string, string[]> = {
  none: ['--lb-failover=none'],
  'none (again)': ['--lb-failover=none'],
  lease: ['--lb-failover=lease'],
  'health-check': ['--lb-failover=health-check'],
  'instance-state': ['--lb-failover=instance-state'],
  'instance-state 2s': ['--lb-failover=instance-state', '--lb-instance-poll-period=2s'],
  default: [],
};
const rowNames = (process.env['ROWS'] ?? 'none,default,lease').split(',').filter((r) => r in ROWS);

const cp = new ControlPlane({ detachFromProcess: true });
const dir = mkdtempSync(join(tmpdir(), 'oxide-ccm-failover-cost-'));
const { kubeconfig, token } = await cp.start();
const kube = KubeClient.load(kubeconfig, { qps: 5000, burst: 5000 });
const sim = await startSimulator({
  seed: {
    project: 'k8s',
    pools: [
      {
        name: 'bench-v4',
        version: 'v4',
        isDefault: true,
        ranges: [{ first: '198.18.0.10', last: '198.19.255.250' }],
      },
    ],
  },
  latencyMs: 50,
});
const net = `127.${100 + (process.pid % 100)}`;
sim.db.addSubnet({ name: 'loopback', ipv4Block: `${net}.0.0/16` });
const names = Array.from({ length: NODES }, (_, i) => `node-${i}`);
const ipOf = (i: number): string => `${net}.${1 + Math.floor(i / 200)}.${10 + (i % 200)}`;
names.forEach((name, i) =>
  sim.db.addInstance({ name, nics: [{ primary: true, subnet: 'loopback', v4: ipOf(i) }] }),
);
const healthPort = await freePort();
const servers: Server[] = [];
await inParallel(names, 50, async (name) => {
  const server = createServer((_req, res) => res.end('{}'));
  servers.push(server);
  await new Promise<void>((r) => server.listen(healthPort, ipOf(names.indexOf(name)), r));
});

// Kubelet Leases, renewed every RENEW_MS, spread evenly.
const leasePath = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases';
const microTime = (): string => new Date().toISOString().replace('Z', '000Z');
await inParallel(names, 50, (name) =>
  kube.post(leasePath, {
    metadata: { name },
    spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime() },
  }),
);
let renewals = 0;
let next = 0;
const renewer = setInterval(() => {
  const name = names[next++ % names.length] ?? '';
  renewals++;
  kube
    .patch(`${leasePath}/${name}`, 'merge', { spec: { renewTime: microTime() } })
    .catch(() => undefined);
}, RENEW_MS / NODES);

const fast = [
  '--kube-api-qps=500',
  '--kube-api-burst=1000',
  `--lb-health-check-port=${healthPort}`,
  // Failover state changes are logged at 2: counted per row to show there were none.
  '-v=2',
];
const metricsPort = await freePort();
const startCcm = async (flags: string[]): Promise<CcmUnderBench> => {
  const ccm = new CcmUnderBench({
    repoRoot,
    kubeconfig,
    port: metricsPort,
    logFile: join(dir, 'ccm.log'),
    dir,
    oxide: { host: sim.url, token: sim.token, project: sim.project },
    flags: [...fast, ...flags],
  });
  await ccm.waitReady();
  return ccm;
};

// The world: Nodes initialized and Services with their floating IPs, by a first CCM.
const services = new Informer<V1Service>(kube, { path: '/api/v1/services' });
const stopInformers = new AbortController();
const running = services.run(stopInformers.signal);
await services.waitForSync();
let ccm = await startCcm(['--lb-failover=none']);
await inParallel(names, 100, (name) => createKubeletNode(kube, name));
await kube.post('/api/v1/namespaces', { metadata: { name: 'bench' } });
const svcNames = Array.from({ length: SERVICES }, (_, i) => `svc-${i}`);
await inParallel(svcNames, 50, (name) =>
  kube.post('/api/v1/namespaces/bench/services', {
    metadata: { name },
    spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  }),
);
await until(
  `${SERVICES} Services with ingress`,
  () =>
    svcNames.every(
      (n) => (services.get(`bench/${n}`)?.status?.loadBalancer?.ingress ?? []).length > 0,
    ),
  600_000,
  200,
);
// Every Node initialized too: a row must not inherit the first CCM's unfinished work.
const nodes = new Informer<{ metadata?: { name?: string }; spec?: { providerID?: string } }>(kube, {
  path: '/api/v1/nodes',
});
const nodesRunning = nodes.run(stopInformers.signal);
await nodes.waitForSync();
await until(
  `${NODES} Nodes initialized`,
  () => nodes.list().filter((n) => n.spec?.providerID).length >= NODES,
  600_000,
  200,
);
await ccm.stop();

const healthChecks = async (): Promise<number> => {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, {
    headers: { authorization: `Bearer ${token}` },
  });
  let sum = 0;
  for (const line of (await res.text()).split('\n')) {
    if (line.startsWith('oxide_ccm_lb_health_checks_total{')) sum += Number(line.split(' ')[1]);
  }
  return sum;
};

/** Log lines so far that contain `text` (the CCM's log, all rows). */
const logCount = (text: string): number => {
  try {
    return readFileSync(join(dir, 'ccm.log'), 'utf8').split(text).length - 1;
  } catch {
    return 0;
  }
};

const rows: Record<string, Cell>[] = [];
for (const row of rowNames) {
  ccm = await startCcm(ROWS[row] ?? []);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const cpu0 = ccm.cpuSeconds();
  const checks0 = await healthChecks();
  const renew0 = renewals;
  const synced0 = logCount('service synced');
  const changed0 = logCount('failover: ');
  sim.requests.reset();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const cpu = ccm.cpuSeconds() - cpu0;
  const checks = (await healthChecks()) - checks0;
  const mem = ccm.memory();
  const perS = (n: number): string => (n / (WINDOW_MS / 1000)).toFixed(2);
  rows.push({
    '--lb-failover': row === 'default' ? '(default: health-check,instance-state)' : row,
    'CPU s / 10 min': Math.round((cpu / (WINDOW_MS / 600_000)) * 100) / 100,
    'RSS MiB (anon/file)': `${mem.rssMiB} (${mem.anonMiB}/${mem.fileMiB})`,
    'Lease updates/s': perS(renewals - renew0),
    'health checks/s': perS(checks),
    'Oxide calls/s': `${perS(sim.requests.count())} (${formatOps(sim.requests.byOperation(), WINDOW_MS / 1000)})`,
    // Both should be 0 at rest: no Service re-synced, no Node's failover state changed.
    'Service syncs': logCount('service synced') - synced0,
    'failover changes': logCount('failover: ') - changed0,
  });
  await ccm.stop();
}

clearInterval(renewer);
stopInformers.abort();
await Promise.all([running, nodesRunning]);
for (const s of servers) s.close();
await sim.stop();
await cp.stop();
rmSync(dir, { recursive: true, force: true });

console.log(
  `\n## Failover cost at rest: ${NODES} Nodes renewing Leases every ${RENEW_MS / 1000} s, ${SERVICES} LoadBalancer Services, ${WINDOW_MS / 1000} s window\n`,
);
console.log(`machine: ${machine()}\n`);
printTable(Object.keys(rows[0] ?? {}), rows);
