// The image smoke test's driver (hack/image-smoke.sh prepares the image and the command that
// runs its entrypoint): --version and --help, then a real start against the Oxide simulator and
// a fresh kube-apiserver, authenticated as the manifest's service account with only the
// manifest's RBAC. It must initialize a Node, serve /healthz, hold the Lease, and on SIGTERM
// release it and exit 0. Bounded: every wait has a deadline, and everything is torn down.
//   node hack/image-smoke.ts --files-dir HOSTDIR --files-path /smoke -- RUNNER...
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Agent, fetch } from 'undici';
import { startSimulator } from '../sim/server.ts';
import { KubeClient } from '../src/kube/client.ts';
import { TAINT_UNINITIALIZED } from '../src/kube/well-known.ts';
import { ControlPlane } from '../test/harness/controlplane.ts';
import { createKubeletNode, getNode } from '../test/harness/nodes.ts';
import { freePort } from '../test/harness/ports.ts';
import { repoRoot, testbin } from '../test/harness/testbin.ts';

const { values, positionals } = parseArgs({
  options: {
    'files-dir': { type: 'string' },
    'files-path': { type: 'string', default: '/smoke' },
  },
  allowPositionals: true,
});
const filesDir = values['files-dir'];
const filesPath = values['files-path'];
const runner = positionals;
if (!filesDir || runner.length === 0) {
  console.error('usage: image-smoke.ts --files-dir DIR [--files-path /smoke] -- RUNNER...');
  process.exit(2);
}

interface Run {
  code: number | null;
  out: string;
  pid: number | undefined;
  child: ReturnType<typeof spawn>;
  exited: Promise<number | null>;
}

function startImage(args: string[], env: Record<string, string> = {}): Run {
  const [cmd = '', ...rest] = runner;
  const child = spawn(cmd, [...rest, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = {
    code: null,
    out: '',
    pid: child.pid,
    child,
    exited: new Promise((resolve) =>
      child.on('close', (code) => {
        run.code = code;
        resolve(code);
      }),
    ),
  };
  child.stdout?.on('data', (d: Buffer) => (run.out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (run.out += d.toString()));
  return run;
}

async function runImage(args: string[], timeoutMs = 20_000): Promise<Run> {
  const run = startImage(args);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
  await run.exited;
  clearTimeout(timer);
  return run;
}

function check(ok: boolean, what: string, output = ''): void {
  if (!ok) throw new Error(`${what}${output ? `\n--- output ---\n${output}` : ''}`);
  console.log(`ok: ${what}`);
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(250);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

function rssMiB(pid: number | undefined): string {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return kb ? `${(kb / 1024).toFixed(0)} MiB` : 'n/a';
  } catch {
    return 'n/a';
  }
}

const version = await runImage(['--version']);
check(
  version.code === 0 && /^oxide-cloud-controller-manager v\d+\.\d+\.\d+/.test(version.out),
  `--version: ${version.out.trim()}`,
  version.out,
);
const help = await runImage(['--help']);
check(help.code === 0 && help.out.includes('--cloud-provider'), '--help', help.out);

const cp = new ControlPlane();
const nodeName = 'smoke-node-1';
const sim = await startSimulator({ seed: { project: 'k8s', instances: [{ name: nodeName }] } });
const insecure = new Agent({ connect: { rejectUnauthorized: false } });
let ccm: Run | undefined;
try {
  const info = await cp.start();
  const admin = KubeClient.load(info.kubeconfig, { qps: 100, burst: 200 });

  // The manifest's RBAC, and a token for its service account: the CCM runs with nothing more.
  const apply = spawn(
    testbin('kubectl'),
    ['--kubeconfig', info.kubeconfig, 'apply', '--server-side', '-f', 'manifests/'],
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  check((await new Promise((r) => apply.on('close', r))) === 0, 'manifest applied');
  const sa = '/api/v1/namespaces/kube-system/serviceaccounts/oxide-cloud-controller-manager';
  const { status } = await admin.post<{ status: { token: string } }>(`${sa}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 600 },
  });
  const kubeconfig = join(filesDir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'smoke', cluster: { server: info.server, 'insecure-skip-tls-verify': true } },
      ],
      users: [{ name: 'ccm', user: { token: status.token } }],
      contexts: [{ name: 'smoke', context: { cluster: 'smoke', user: 'ccm' } }],
      'current-context': 'smoke',
    }),
  );
  chmodSync(kubeconfig, 0o644);
  await createKubeletNode(admin, nodeName);

  const port = await freePort();
  const started = Date.now();
  ccm = startImage(
    [
      '--cloud-provider=oxide',
      `--kubeconfig=${filesPath}/kubeconfig`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
    ],
    { OXIDE_HOST: sim.url, OXIDE_TOKEN: sim.token, OXIDE_PROJECT: sim.project },
  );
  const running = ccm;
  const healthz = await until('/healthz', 30_000, async () => {
    if (running.code !== null) throw new Error(`exited ${running.code}:\n${running.out}`);
    const res = await fetch(`https://127.0.0.1:${port}/healthz`, { dispatcher: insecure });
    return res.status === 200 ? await res.text() : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}\n--- output ---\n${running.out}`);
  });
  check(healthz === 'ok', `/healthz over HTTPS after ${Date.now() - started} ms`);

  const leasePath =
    '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/cloud-controller-manager';
  type Lease = { spec: { holderIdentity?: string } };
  const holder = await until('the Lease', 20_000, async () => {
    const id = (await admin.get<Lease>(leasePath)).spec.holderIdentity;
    return id ? id : undefined;
  });
  check(true, `leads as ${holder}`);
  const node = await until('Node initialized', 30_000, async () => {
    const n = await getNode(admin, nodeName);
    const tainted = (n.spec?.taints ?? []).some((t) => t.key === TAINT_UNINITIALIZED);
    return n.spec?.providerID && !tainted ? n : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}\n--- output ---\n${running.out}`);
  });
  check(true, `Node initialized as the service account: ${node.spec?.providerID}`);

  // /metrics as an operator's Prometheus sees it (the admin identity: system:masters). The build
  // is the commit's (hack/bundle.ts stamped it), and the dashboard's Node count is there.
  const metrics = await until('/metrics', 20_000, async () => {
    const res = await fetch(`https://127.0.0.1:${port}/metrics`, {
      dispatcher: insecure,
      headers: { authorization: `Bearer ${info.token}` },
    });
    const text = res.status === 200 ? await res.text() : '';
    return /^oxide_ccm_nodes\{state="initialized"\} 1$/m.test(text) ? text : undefined;
  });
  const build = /^kubernetes_build_info\{(.*)\} 1$/m.exec(metrics)?.[1] ?? '';
  check(
    /git_commit="[0-9a-f]{40}"/.test(build) &&
      /git_tree_state="(clean|dirty)"/.test(build) &&
      /build_date="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"/.test(build),
    `/metrics: kubernetes_build_info {${build}}; oxide_ccm_nodes{state="initialized"} 1`,
    metrics,
  );
  console.log(`rss: ${rssMiB(ccm.pid)}`);

  const signalled = Date.now();
  ccm.child.kill('SIGTERM');
  const code = await Promise.race([ccm.exited, sleep(10_000).then(() => 'timeout' as const)]);
  check(code === 0, `SIGTERM: exit ${code} after ${Date.now() - signalled} ms`, ccm.out);
  const released = await admin.get<Lease>(leasePath);
  check(!released.spec.holderIdentity, 'Lease released');
  check(!ccm.out.includes(sim.token) && !ccm.out.includes(status.token), 'no token in output');
  check(!/^E\d{4} /m.test(ccm.out), 'no error-level log lines', ccm.out);
} finally {
  if (ccm && ccm.code === null) {
    ccm.child.kill('SIGKILL');
    await ccm.exited;
  }
  await insecure.close();
  await sim.stop();
  await cp.stop();
}
console.log('image smoke: passed');
