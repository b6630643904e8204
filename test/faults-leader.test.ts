// Faults of the CCM process itself, with two real CCM processes (src/main.ts) on one Lease
// against a dedicated kube-apiserver and the Oxide simulator, each with its own Oxide token so
// the simulator's request log tells their calls apart: the leader frozen past its lease
// (SIGSTOP), killed (SIGKILL) and stopped (SIGTERM); and /readyz while the apiserver is down.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { startSimulator } from '../sim/server.ts';
import type { Simulator } from '../sim/server.ts';
import { KubeClient } from '../src/kube/client.ts';
import { waitFor } from './harness/context.ts';
import { ControlPlane } from './harness/controlplane.ts';
import { createKubeletNode } from './harness/nodes.ts';
import { freePort } from './harness/ports.ts';
import { repoRoot } from './harness/testbin.ts';

const NODE = `${repoRoot}/node_modules/.bin/node`;
/** The checkout whose src/main.ts runs; another one measures another build (e.g. /work/main). */
const CCM_ROOT = process.env['FAULTS_CCM_ROOT'] ?? repoRoot;
const LEASE = 'oxide-ccm-faults';
const NS = 'faults';

let cp: ControlPlane;
let kubeconfig: string;
let kube: KubeClient;
let sim: Simulator;
const procs: Ccm[] = [];
const timings: string[] = [];

interface Ccm {
  principal: string;
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

let serial = 0;
async function startCcm(extraArgs: string[] = []): Promise<Ccm> {
  serial += 1;
  const principal = `ccm-${serial}`;
  const token = sim.addToken(principal);
  const port = await freePort();
  const child = spawn(
    NODE,
    [
      'src/main.ts',
      '--cloud-provider=oxide',
      `--kubeconfig=${kubeconfig}`,
      '--cluster-name=faults',
      '--controllers=cloud-node,cloud-node-lifecycle,service',
      '--leader-elect-resource-namespace=default',
      `--leader-elect-resource-name=${LEASE}`,
      // Short, but not so short that a starved CI machine loses the Lease by itself.
      '--leader-elect-lease-duration=5s',
      '--leader-elect-renew-deadline=4s',
      '--leader-elect-retry-period=500ms',
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      '--metrics-plain-http',
      ...extraArgs,
    ],
    {
      cwd: CCM_ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: '/nonexistent',
        OXIDE_HOST: sim.url,
        OXIDE_TOKEN: token,
        OXIDE_PROJECT: sim.project,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ccm = { principal, child, port, output: () => out, exited };
  procs.push(ccm);
  return ccm;
}

async function metric(ccm: Ccm, name: string): Promise<number | undefined> {
  // /metrics needs an authorized identity: the test apiserver's admin token (system:masters).
  const res = await fetch(`http://127.0.0.1:${ccm.port}/metrics`, {
    headers: { authorization: `Bearer ${kube.config.token ?? ''}` },
    signal: AbortSignal.timeout(2000),
  });
  const line = (await res.text()).split('\n').find((l) => l.startsWith(name));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

/**
 * The exit code once the process has exited by itself within `ms`. One that has not is killed and
 * fails the test with its scheduler state (R: busy, S: waiting) and its last output: a process
 * whose work has stopped must exit (the 10 s shutdown timer of src/main.ts included).
 */
async function exitedWithin(ccm: Ccm, ms: number, after: string): Promise<number | null> {
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());
  const code = await Promise.race([ccm.exited, timeout]);
  if (code !== 'timeout') return code;
  const state = procState(ccm.child.pid);
  ccm.child.kill('SIGCONT');
  ccm.child.kill('SIGKILL');
  await ccm.exited;
  assert.fail(
    `${ccm.principal} had not exited ${ms / 1000} s after ${after} (state ${state}):\n${ccm.output().slice(-3000)}`,
  );
}

/** The process's state letter from /proc (Linux), for a failure message. */
function procState(pid: number | undefined): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.charAt(0) ?? '?';
  } catch {
    return '?';
  }
}

/** SIGTERM, then the exit code; a process that does not exit within 15 s fails the test. */
async function terminate(ccm: Ccm): Promise<number | null> {
  ccm.child.kill('SIGTERM');
  return exitedWithin(ccm, 15_000, 'SIGTERM');
}

/** Cleanup between cases: SIGTERM; the exit code is not what is tested, exiting is. */
async function stopQuietly(ccm: Ccm): Promise<void> {
  await terminate(ccm);
}

const isLeader = async (ccm: Ccm): Promise<boolean> =>
  (await metric(ccm, 'leader_election_master_status').catch(() => 0)) === 1;

async function leaderOf(candidates: Ccm[]): Promise<Ccm> {
  return waitFor(
    'a leader',
    async () => {
      for (const c of candidates) if (await isLeader(c)) return c;
      return undefined;
    },
    30_000,
  );
}

interface Lease {
  spec: { holderIdentity?: string; acquireTime?: string };
}
const lease = (): Promise<Lease> =>
  kube.get<Lease>(`/apis/coordination.k8s.io/v1/namespaces/default/leases/${LEASE}`);

/** Oxide writes (anything but GET) by one process at or after a wall-clock time. */
const writesBy = (principal: string, sinceMs: number) =>
  sim.requests.entries.filter(
    (e) => e.principal === principal && e.method !== 'GET' && (e.at ?? 0) >= sinceMs,
  );

async function createService(name: string): Promise<void> {
  await kube.post(`/api/v1/namespaces/${NS}/services`, {
    metadata: { name },
    spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  });
}

/** The Service has an address, and it is its one floating IP. */
async function served(name: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `${name} served`,
    async () => {
      const svc = await kube.get<V1Service>(`/api/v1/namespaces/${NS}/services/${name}`);
      const ip = svc.status?.loadBalancer?.ingress?.[0]?.ip;
      const fips = sim.db.floatingIps.filter((f) => f.name === `faults-${NS}-${name}`);
      return ip !== undefined && fips.length === 1 && fips[0]?.ip === ip;
    },
    timeoutMs,
  );
}

function assertNoDuplicateFips(): void {
  const names = sim.db.floatingIps.map((f) => f.name);
  assert.equal(new Set(names).size, names.length, `duplicate floating IPs: ${names.join(', ')}`);
}

before(async () => {
  cp = new ControlPlane({ detachFromProcess: true });
  ({ kubeconfig } = await cp.start());
  kube = KubeClient.load(kubeconfig, { qps: 500, burst: 1000 });
  sim = await startSimulator({ seed: { project: 'k8s', instances: [{ name: 'node-1' }] } });
  await kube.post('/api/v1/namespaces', { metadata: { name: NS } });
  await createKubeletNode(kube, 'node-1');
});

after(async () => {
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
    }
  }
  await Promise.all(procs.map((p) => p.exited));
  // Each process's log, for a failure's post-mortem.
  if (process.env['FAULTS_LOG_DIR']) {
    for (const p of procs)
      writeFileSync(`${process.env['FAULTS_LOG_DIR']}/${p.principal}.log`, p.output());
  }
  console.log('process faults:');
  for (const t of timings) console.log(`  ${t}`);
  await sim?.stop();
  await cp?.stop();
});

test('leader frozen (SIGSTOP) past its lease: the standby takes over, the old leader makes no Oxide write after that and exits 1', async () => {
  const a = await startCcm();
  const b = await startCcm();
  await leaderOf([a, b]);
  await createService('warmup');
  await served('warmup');

  // The leader is in the middle of ensuring a Service when it freezes: its floating-IP create
  // is on the wire and answered only after the freeze began.
  sim.faults.add({ operation: 'floating_ip_create', latencyMs: 1500, times: 1 });
  const before = sim.requests.count('floating_ip_create');
  await createService('frozen');
  const creator = await waitFor('the leader creating the floating IP', () =>
    sim.requests.entries.slice(before).find((e) => e.operationId === 'floating_ip_create'),
  );
  const leader = creator.principal === a.principal ? a : b;
  const standby = leader === a ? b : a;
  leader.child.kill('SIGSTOP');
  const frozenAt = performance.now();
  await waitFor('the standby leads', () => isLeader(standby), 30_000);
  const takeover = Math.round(performance.now() - frozenAt);
  const acquired = Date.parse((await lease()).spec.acquireTime ?? '');
  assert.ok(Number.isFinite(acquired));
  await served('frozen');
  // Work the frozen leader has not seen, which its watch delivers the moment it wakes up, and
  // which the new leader cannot finish yet (Oxide fails it): an old leader still acting would
  // create the floating IPs itself.
  sim.faults.add({ principal: standby.principal, status: 503 });
  const during = ['during-1', 'during-2', 'during-3'];
  for (const name of during) await createService(name);
  await waitFor('the new leader trying', () =>
    sim.requests.entries.some(
      (e) => e.principal === standby.principal && (e.at ?? 0) >= Date.now() - 500,
    ),
  );
  // The old leader wakes up well after the new one started acting.
  leader.child.kill('SIGCONT');
  // Upstream exits at once (klog.Fatalf "leaderelection lost").
  const exit = await exitedWithin(leader, 20_000, 'SIGCONT');
  assert.equal(exit, 1);
  sim.faults.clear();
  assert.match(leader.output(), /leaderelection lost/);
  const late = writesBy(leader.principal, acquired);
  const lateReads = sim.requests.entries.filter(
    (e) => e.principal === leader.principal && e.method === 'GET' && (e.at ?? 0) >= acquired,
  );
  assert.deepEqual(
    late.map((e) => `${e.method} ${e.path}`),
    [],
    'Oxide writes by the old leader after the new one acquired the Lease',
  );
  await served('frozen');
  for (const name of during) await served(name);
  assertNoDuplicateFips();
  timings.push(
    `SIGSTOP leader: standby leading after ${takeover} ms; old leader writes after takeover: ${late.length} (reads: ${lateReads.length}); old leader exited ${String(exit)}`,
  );
  await stopQuietly(standby);
});

test('leader killed (SIGKILL): the standby takes over within the lease and serves new Services', async () => {
  const a = await startCcm();
  const b = await startCcm();
  const leader = await leaderOf([a, b]);
  const standby = leader === a ? b : a;
  leader.child.kill('SIGKILL');
  const killedAt = performance.now();
  await createService('after-kill');
  await served('after-kill');
  const ms = Math.round(performance.now() - killedAt);
  assert.ok(await isLeader(standby));
  assertNoDuplicateFips();
  timings.push(`SIGKILL leader: new Service served ${ms} ms after the kill (lease 5 s)`);
  await stopQuietly(standby);
});

test('leader stopped (SIGTERM): it releases the Lease and exits 0, the standby takes over at once', async () => {
  const a = await startCcm();
  const b = await startCcm();
  const leader = await leaderOf([a, b]);
  const standby = leader === a ? b : a;
  const stoppedAt = performance.now();
  assert.equal(await terminate(leader), 0);
  assert.match(leader.output(), /released leader lease/);
  await waitFor('the standby leads', () => isLeader(standby), 10_000);
  const ms = Math.round(performance.now() - stoppedAt);
  // Released: faster than waiting out the 5 s lease.
  assert.ok(ms < 5000, `${ms} ms`);
  await createService('after-term');
  await served('after-term');
  assertNoDuplicateFips();
  timings.push(`SIGTERM leader: standby leading ${ms} ms after the signal`);
  await stopQuietly(standby);
});

test('/readyz fails while the apiserver is gone and recovers when it is back', async () => {
  const ccm = await startCcm(['--leader-elect=false']);
  const readyz = async (): Promise<{ status: number; body: string }> => {
    const res = await fetch(`http://127.0.0.1:${ccm.port}/readyz?verbose`, {
      signal: AbortSignal.timeout(2000),
    });
    return { status: res.status, body: await res.text() };
  };
  await waitFor('ready', async () => (await readyz().catch(() => undefined))?.status === 200);
  await cp.stopApiserver();
  const down = performance.now();
  const failing = await waitFor(
    'not ready',
    async () => {
      const r = await readyz();
      return r.status === 500 ? r : undefined;
    },
    30_000,
    250,
  );
  const notReadyAfter = Math.round(performance.now() - down);
  assert.match(failing.body, /\[-\]informerSync failed: no answer from the apiserver/);
  assert.match(failing.body, /\[\+\]oxide ok/);
  await cp.startApiserver();
  const up = performance.now();
  await waitFor('ready again', async () => (await readyz()).status === 200, 30_000, 250);
  timings.push(
    `kube-apiserver down: /readyz 500 after ${notReadyAfter} ms; 200 again ${Math.round(performance.now() - up)} ms after it was back`,
  );
  assert.equal(await terminate(ccm), 0);
});
