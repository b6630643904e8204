// `make demo`: the CCM at work without an Oxide rack. Starts a real cluster on loopback (etcd,
// kube-apiserver, kube-controller-manager --cloud-provider=external, kube-scheduler, and kwok as
// the kubelet of every Node) and the Oxide simulator (sim/seeds/demo.yaml), registers Nodes as
// kubelets with --cloud-provider=external do, runs the CCM from source, and prints the Nodes
// before and after,
// LoadBalancer Services with their floating IPs, and the Oxide API calls it took. Then it keeps
// everything up for kubectl until Ctrl-C; with --once (or ONCE=1) it exits instead: 0 only if every
// Node was initialized and every LoadBalancer Service got its IP within the timeout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { V1Node, V1NodeList, V1Service } from '@kubernetes/client-node';
import { loadSeed } from '../sim/seed.ts';
import { startSimulator } from '../sim/server.ts';
import type { Simulator } from '../sim/server.ts';
import { KubeClient } from '../src/kube/client.ts';
import { LABEL_EXCLUDE_FROM_LB } from '../src/kube/well-known.ts';
import { startKubeCluster } from '../test/harness/cluster.ts';
import type { KubeCluster } from '../test/harness/cluster.ts';
import { ControlPlane } from '../test/harness/controlplane.ts';
import { registerKwokNode } from '../test/harness/kwok.ts';
import { freePort } from '../test/harness/ports.ts';
import { repoRoot, testbinDir } from '../test/harness/testbin.ts';
import { CcmProcess } from './demo/ccm.ts';
import { takeOverSignals } from './demo/signals.ts';
import { renderTable, style } from './demo/table.ts';
import {
  apiCallsTable,
  floatingIngress,
  isInitialized,
  isReadyUntainted,
  nodesTable,
  servicesTable,
} from './demo/views.ts';

const { values } = parseArgs({
  options: {
    once: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '90' },
  },
  strict: true,
});
const once = values.once || /^(1|true|yes)$/i.test(process.env['ONCE'] ?? '');
const timeoutSeconds = Number(values.timeout);
if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
  console.error(`--timeout: expected seconds, got "${values.timeout}"`);
  process.exit(2);
}

/** The one control-plane Node (kubeadm labels it so; it carries no load-balancer traffic). */
const CONTROL_PLANE = 'k8s-control-plane-0';
const NAMESPACE = 'default';

/** The demo's Services: plain, a v6 floating IP by annotation, dual-stack (one FIP per family). */
const SERVICES: {
  name: string;
  spec: Partial<NonNullable<V1Service['spec']>>;
  annotations?: Record<string, string>;
}[] = [
  { name: 'hello', spec: {} },
  { name: 'hello-v6', spec: {}, annotations: { 'oxide.computer/floating-ip-version': 'v6' } },
  {
    name: 'hello-dual',
    spec: { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] },
  },
];

const t0 = Date.now();
const deadline = t0 + timeoutSeconds * 1000;
const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const step = (msg: string): void => console.log(style.dim(`[${elapsed().padStart(6)}] ${msg}`));
const heading = (msg: string): void => console.log(`\n${style.bold(`== ${msg}`)}\n`);

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  why: () => string,
): Promise<T> {
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutSeconds}s waiting for ${what}: ${why()}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const cp = new ControlPlane();
const work = mkdtempSync(join(tmpdir(), 'oxide-ccm-demo-'));
let sim: Simulator | undefined;
let ccm: CcmProcess | undefined;
let cluster: KubeCluster | undefined;
// Crash or process.exit anywhere: no CCM left behind (the harness removes its own dir).
process.on('exit', () => {
  ccm?.killNow();
  cluster?.killNow();
  rmSync(work, { recursive: true, force: true });
});

step('starting etcd + kube-apiserver on loopback');
const info = await cp.start();
step("starting kube-controller-manager, kube-scheduler and kwok (every Node's kubelet)");
// Before takeOverSignals, which replaces the harness's own signal handlers.
cluster = await startKubeCluster({ kubeconfig: info.kubeconfig, dir: info.dir }).catch(
  (err: unknown) => {
    cp.killNow();
    throw err;
  },
);
const signalled = takeOverSignals(() => {
  ccm?.killNow();
  cluster?.killNow();
  cp.killNow();
});
const kube = KubeClient.load(info.kubeconfig, { qps: 100, burst: 200 });

async function listNodes(): Promise<V1Node[]> {
  const list = await kube.get<V1NodeList>('/api/v1/nodes');
  return [...list.items].sort((a, b) =>
    (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
  );
}

async function scenario(): Promise<void> {
  step(`kube-apiserver ready at ${info.server}; starting the Oxide simulator`);
  sim = await startSimulator({ seed: loadSeed(join(repoRoot, 'sim', 'seeds', 'demo.yaml')) });
  const s = sim;

  heading(`Oxide project "${s.project}" (simulator at ${s.url})`);
  console.log(
    renderTable(
      ['INSTANCE', 'ID', 'STATE', 'CPUS', 'MEMORY'],
      s.db.instances.map((i) => [
        i.name,
        i.id,
        i.runState,
        String(i.ncpus),
        `${i.memory / 2 ** 30}GiB`,
      ]),
    ),
  );

  // A kubelet only runs on a running instance; the stopped spare gets no Node.
  const running = s.db.instances.filter((i) => i.runState === 'running').map((i) => i.name);
  step(`registering ${running.length} Nodes as kubelet --cloud-provider=external does`);
  for (const name of running) {
    await registerKwokNode(kube, name, {
      labels:
        name === CONTROL_PLANE
          ? { 'node-role.kubernetes.io/control-plane': '', [LABEL_EXCLUDE_FROM_LB]: '' }
          : {},
    });
  }
  heading('Nodes BEFORE the cloud-controller-manager');
  console.log(nodesTable(await listNodes()));
  console.log(
    style.dim(
      `\n(no Node for ${
        s.db.instances
          .filter((i) => i.runState !== 'running')
          .map((i) => i.name)
          .join(', ') || 'none'
      }: ` +
        'a stopped instance runs no kubelet. node.kubernetes.io/not-ready is set by the apiserver at ' +
        'registration and removed by kube-controller-manager once kwok, the kubelet stand-in, ' +
        'reports Ready.)',
    ),
  );

  const port = await freePort();
  const c = new CcmProcess({
    repoRoot,
    kubeconfig: info.kubeconfig,
    port,
    logFile: join(work, 'ccm.log'),
    oxide: { host: s.url, token: s.token, project: s.project },
  });
  ccm = c;
  step(`starting the CCM: node src/main.ts ${c.args.slice(1).join(' ')}`);
  await c.waitReady(deadline);
  step('CCM ready; waiting for every Node to be initialized, Ready and without not-ready taint');
  const nodes = await until(
    'every Node to lose the uninitialized taint (CCM) and the not-ready taint (KCM)',
    async () => {
      const list = await listNodes();
      return list.every((n) => isInitialized(n) && isReadyUntainted(n)) ? list : undefined;
    },
    () => `CCM log:\n${c.logTail()}`,
  );
  heading('Nodes AFTER the cloud-controller-manager');
  console.log(nodesTable(nodes));

  step(`creating ${SERVICES.length} LoadBalancer Services in namespace ${NAMESPACE}`);
  for (const svc of SERVICES) {
    await kube.post(`/api/v1/namespaces/${NAMESPACE}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: svc.name, ...(svc.annotations ? { annotations: svc.annotations } : {}) },
      spec: {
        type: 'LoadBalancer',
        selector: { app: svc.name },
        ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
        ...svc.spec,
      },
    });
  }
  const getServices = (): Promise<V1Service[]> =>
    Promise.all(
      SERVICES.map((svc) =>
        kube.get<V1Service>(`/api/v1/namespaces/${NAMESPACE}/services/${svc.name}`),
      ),
    );
  let last: V1Service[] = [];
  const services = await until(
    'every LoadBalancer Service to get its floating IP(s)',
    async () => {
      last = await getServices();
      // A dual-stack Service has one floating IP per family.
      const done = last.every(
        (svc) => floatingIngress(svc).length === (svc.spec?.ipFamilies?.length ?? 1),
      );
      return done ? last : undefined;
    },
    () => `\n${servicesTable(last, s)}\nCCM log:\n${c.logTail()}`,
  );
  heading('LoadBalancer Services');
  console.log(servicesTable(services, s));

  heading(`Oxide API calls made by the CCM (${elapsed()} since start)`);
  console.log(apiCallsTable(s));
  const warnings = c.warnings();
  if (warnings.length > 0) {
    console.log(
      `\n${warnings.length} warning/error log lines from the CCM, e.g.:\n${warnings.slice(0, 3).join('\n')}`,
    );
  }
}

function printHowToPoke(s: Simulator, c: CcmProcess): void {
  const kubectl = join(testbinDir(), 'kubectl');
  heading('Everything keeps running: poke at it');
  console.log(`export KUBECONFIG=${info.kubeconfig}`);
  console.log(`alias kubectl=${kubectl}`);
  console.log('kubectl get nodes -o wide; kubectl get services; kubectl get events -A');
  console.log(`# the Oxide simulator (make sim's API; point the oxide CLI or SDK at it):`);
  console.log(`export OXIDE_HOST=${s.url}`);
  console.log(`export OXIDE_TOKEN=${s.token}`);
  console.log(`export OXIDE_PROJECT=${s.project}`);
  console.log(`# CCM (pid ${c.child.pid}): log ${join(work, 'ccm.log')}; metrics need a token:`);
  console.log(
    `curl -s -H "Authorization: Bearer ${info.token}" http://127.0.0.1:${c.args.find((a) => a.startsWith('--secure-port='))?.split('=')[1]}/metrics`,
  );
  console.log(
    '# Ctrl-C stops the CCM, the simulator, kube-apiserver and etcd, and removes the temp dirs',
  );
}

let failure: string | undefined;
const outcome = await Promise.race([
  scenario().then(
    () => 'done' as const,
    (err: unknown) => {
      failure = err instanceof Error ? err.message : String(err);
      return 'failed' as const;
    },
  ),
  signalled,
]);

if (outcome === 'failed') console.error(`\n${style.red('demo failed:')} ${failure}`);
if (!once && outcome !== 'SIGINT' && outcome !== 'SIGTERM') {
  if (sim && ccm) printHowToPoke(sim, ccm);
  const signal = await signalled;
  console.log(`\n${signal}: cleaning up`);
} else if (outcome === 'SIGINT' || outcome === 'SIGTERM') {
  failure ??= `interrupted by ${outcome}`;
  console.log(`\n${outcome}: cleaning up`);
}

let code = outcome === 'done' ? 0 : 1;
if (ccm) {
  const exit = await ccm.stop();
  const ok = exit.code === 0;
  step(`CCM (pid ${ccm.child.pid}) stopped with SIGTERM: exit ${exit.code ?? exit.signal}`);
  if (!ok) {
    console.error(`${style.red('the CCM did not exit 0')}; its log ends:\n${ccm.logTail()}`);
    code = 1;
  }
}
await sim?.stop();
await cluster.stop();
await cp.stop();
rmSync(work, { recursive: true, force: true });
step(
  `stopped the simulator, kwok, kube-scheduler, kube-controller-manager, kube-apiserver and etcd; removed ${info.dir} and ${work}`,
);
if (code === 0)
  console.log(
    style.green(`demo OK: every Node initialized and Ready, every LoadBalancer Service has its IP`),
  );
else if (failure) console.error(`demo FAILED: ${failure}`);
process.exit(code);
