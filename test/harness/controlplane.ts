// A real etcd + kube-apiserver on loopback for tests, `make cluster` and `make demo`: free ports,
// a temp data dir, service-account signing keys, an admin token, a kubeconfig; stop() kills both
// and removes the dir, and it is also called on exit and on SIGINT/SIGTERM so nothing is orphaned.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { makeCa } from './certs.ts';
import { killOnExit, release } from './exit-hook.ts';
import { freePort } from './ports.ts';
import { testbin } from './testbin.ts';

export interface ControlPlaneInfo {
  server: string;
  token: string;
  kubeconfig: string;
  dir: string;
}

export interface ControlPlaneOptions {
  /**
   * Do not keep the Node.js process alive for etcd and kube-apiserver: a test file that
   * starts its own control plane then exits normally and the exit hook kills both.
   */
  detachFromProcess?: boolean;
  /**
   * Write an audit log of every write (not get/list/watch, nothing in kube-node-lease, where
   * kubelets renew their Leases), for benchmarks that count a process's writes as the apiserver
   * saw them: auditWrites() reads it.
   */
  auditWrites?: boolean;
}

/** One write as the apiserver's audit log records it. */
export interface AuditedWrite {
  verb: string;
  /** "nodes", "nodes/status", "events", … */
  resource: string;
  userAgent: string;
  /** Milliseconds since the epoch, when the request arrived. */
  at: number;
}

const AUDIT_POLICY = [
  'apiVersion: audit.k8s.io/v1',
  'kind: Policy',
  'omitStages: [RequestReceived, ResponseStarted]',
  'rules:',
  '- level: None',
  '  verbs: [get, list, watch]',
  '- level: None',
  '  namespaces: [kube-node-lease]',
  '- level: Metadata',
  '',
].join('\n');

export class ControlPlane {
  private readonly options: ControlPlaneOptions;
  private etcd?: ChildProcess;
  private apiserver?: ChildProcess;
  private readonly logFds: number[] = [];
  private apiserverArgs: string[] = [];
  private apiLog = -1;
  info?: ControlPlaneInfo;

  constructor(options: ControlPlaneOptions = {}) {
    this.options = options;
  }

  /**
   * A port picked free can be taken before etcd or kube-apiserver binds it (another test file's
   * child, or an outgoing connection's ephemeral port; seen in a full run): start again on new
   * ports, three times at most.
   */
  async start(): Promise<ControlPlaneInfo> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.startOnce();
      } catch (err) {
        if (attempt >= 3 || !String(err).includes('address already in use')) throw err;
        await this.stop();
      }
    }
  }

  private async startOnce(): Promise<ControlPlaneInfo> {
    killOnExit(this);
    const dir = mkdtempSync(join(tmpdir(), 'oxide-ccm-cp-'));
    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const token = randomBytes(24).toString('hex');
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin-uid,"system:masters"\n`);
    // A client CA and a front-proxy CA, as kubeadm sets them up: the apiserver publishes both in
    // kube-system/extension-apiserver-authentication, and tests sign client certificates with
    // the keys (test/harness/certs.ts controlPlaneCas).
    for (const [name, ca] of [
      ['client-ca', await makeCa('test-client-ca')],
      ['front-proxy-ca', await makeCa('test-front-proxy-ca')],
    ] as const) {
      writeFileSync(join(dir, `${name}.crt`), ca.cert);
      writeFileSync(join(dir, `${name}.key`), ca.key);
    }

    const etcdLog = openSync(join(dir, 'etcd.log'), 'a');
    const apiLog = openSync(join(dir, 'kube-apiserver.log'), 'a');
    this.logFds.push(etcdLog, apiLog);
    this.etcd = spawn(
      testbin('etcd'),
      [
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      { stdio: ['ignore', etcdLog, etcdLog] },
    );
    this.apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // No Endpoints for the kubernetes Service: it may not point at loopback, and nothing here uses it.
      '--endpoint-reconciler-type=none',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'certs')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      `--client-ca-file=${join(dir, 'client-ca.crt')}`,
      `--requestheader-client-ca-file=${join(dir, 'front-proxy-ca.crt')}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      '--authorization-mode=Node,RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112',
      '--allow-privileged=true',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      '--v=1',
    ];
    if (this.options.auditWrites) {
      writeFileSync(join(dir, 'audit-policy.yaml'), AUDIT_POLICY);
      this.apiserverArgs.push(
        `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
        `--audit-log-path=${join(dir, 'audit.log')}`,
        '--audit-log-format=json',
        '--audit-log-mode=blocking',
      );
    }
    this.apiLog = apiLog;
    this.apiserver = this.spawnApiserver();
    if (this.options.detachFromProcess) this.etcd.unref();
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = join(dir, 'kubeconfig.yaml');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: test',
        '  cluster:',
        `    server: ${server}`,
        '    insecure-skip-tls-verify: true',
        'users:',
        '- name: admin',
        '  user:',
        `    token: ${token}`,
        'contexts:',
        '- name: test',
        '  context: {cluster: test, user: admin}',
        'current-context: test',
        '',
      ].join('\n'),
    );
    this.info = { server, token, kubeconfig, dir };
    await this.waitReady(server, token);
    return this.info;
  }

  /** The writes audited so far (auditWrites), from `since` (ms since the epoch) on. */
  auditWrites(since = 0): AuditedWrite[] {
    if (!this.info) return [];
    let text: string;
    try {
      text = readFileSync(join(this.info.dir, 'audit.log'), 'utf8');
    } catch {
      return [];
    }
    const out: AuditedWrite[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const e = JSON.parse(line) as {
        verb?: string;
        userAgent?: string;
        requestReceivedTimestamp?: string;
        objectRef?: { resource?: string; subresource?: string };
      };
      const at = Date.parse(e.requestReceivedTimestamp ?? '');
      if (at < since) continue;
      const ref = e.objectRef ?? {};
      out.push({
        verb: e.verb ?? '',
        resource: `${ref.resource ?? ''}${ref.subresource ? `/${ref.subresource}` : ''}`,
        userAgent: e.userAgent ?? '',
        at,
      });
    }
    return out;
  }

  private spawnApiserver(): ChildProcess {
    const proc = spawn(testbin('kube-apiserver'), this.apiserverArgs, {
      stdio: ['ignore', this.apiLog, this.apiLog],
    });
    if (this.options.detachFromProcess) proc.unref();
    return proc;
  }

  /** Stops kube-apiserver (etcd keeps running); clients see refused connections. */
  async stopApiserver(): Promise<void> {
    const p = this.apiserver;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      p.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      p.kill('SIGTERM');
    });
  }

  /**
   * Freezes kube-apiserver (SIGSTOP) without closing anything: clients' requests and watches
   * hang, as when an apiserver is overloaded or partitioned. `resumeApiserver` thaws it.
   */
  pauseApiserver(): void {
    this.apiserver?.kill('SIGSTOP');
  }

  resumeApiserver(): void {
    this.apiserver?.kill('SIGCONT');
  }

  /** Starts kube-apiserver again on the same port, with the same data; resolves when ready. */
  async startApiserver(): Promise<void> {
    if (!this.info) throw new Error('control plane not started');
    this.apiserver = this.spawnApiserver();
    await this.waitReady(this.info.server, this.info.token);
  }

  private async waitReady(server: string, token: string): Promise<void> {
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    const deadline = Date.now() + 120_000;
    let last = '';
    try {
      while (Date.now() < deadline) {
        for (const [name, proc] of [
          ['etcd', this.etcd],
          ['kube-apiserver', this.apiserver],
        ] as const) {
          if (proc?.exitCode !== null && proc?.exitCode !== undefined) {
            const log = readFileSync(join(this.info?.dir ?? '', `${name}.log`), 'utf8');
            const tail = log.split('\n').slice(-15).join('\n');
            throw new Error(`${name} exited with ${proc.exitCode}:\n${tail}`);
          }
        }
        try {
          const res = await fetch(`${server}/readyz`, {
            headers: { authorization: `Bearer ${token}` },
            dispatcher,
            signal: AbortSignal.timeout(2000),
          });
          last = `${res.status} ${await res.text()}`;
          if (res.ok) return;
        } catch (err) {
          last = String(err);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`kube-apiserver not ready after 120s: ${last.slice(0, 500)}`);
    } finally {
      await dispatcher.close();
    }
  }

  /** Synchronous kill for exit paths. */
  killNow(): void {
    for (const p of [this.apiserver, this.etcd]) {
      if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
    for (const fd of this.logFds.splice(0)) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    if (this.info) rmSync(this.info.dir, { recursive: true, force: true });
    release(this);
  }

  async stop(): Promise<void> {
    const wait = (p?: ChildProcess): Promise<void> =>
      new Promise((resolve) => {
        if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
        const t = setTimeout(() => p.kill('SIGKILL'), 5000);
        p.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        p.kill('SIGTERM');
      });
    await wait(this.apiserver);
    await wait(this.etcd);
    this.killNow();
  }
}
