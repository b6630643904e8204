// The CCM as deployed, for the process-level benchmark: the esbuild bundle (dist/*.mjs) run by the
// pinned Node.js with the image's V8 flags (hack/node-flags), as its own process with its JSON log
// in a file. Its memory and CPU time are read from /proc, as a kubelet's cAdvisor would see them.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadKubeconfig } from '../src/kube/kubeconfig.ts';
import { fileTail } from '../hack/demo/ccm.ts';

/** Node flags the image's entrypoint passes, one per line (# comments and blank lines skipped). */
export function imageNodeFlags(repoRoot: string): string[] {
  const file = join(repoRoot, 'hack', 'node-flags');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export interface CcmProcessOptions {
  /** The tree whose dist/ bundle and hack/node-flags run (another checkout for "before" numbers). */
  repoRoot: string;
  kubeconfig: string;
  port: number;
  logFile: string;
  /** Working directory: heap snapshots land here. */
  dir: string;
  oxide: { host: string; token: string; project: string };
  /** CCM flags beyond the ones every row needs (kubeconfig, serving, no leader election). */
  flags: string[];
}

export interface ProcMemory {
  /** Peak resident set since the process started (VmHWM), MiB. */
  hwmMiB: number;
  /** Resident set now (VmRSS), MiB. */
  rssMiB: number;
  /** Of VmRSS: anonymous pages (heaps, stacks) and file-backed pages (the node binary). */
  anonMiB: number;
  fileMiB: number;
}

/** The image's environment: the Containerfile's `ENV NAME=value` lines. */
export function imageEnv(repoRoot: string): Record<string, string> {
  const env: Record<string, string> = {};
  const file = join(repoRoot, 'Containerfile');
  if (!existsSync(file)) return env;
  for (const m of readFileSync(file, 'utf8').matchAll(/^ENV (\w+)=(\S+)$/gm)) {
    if (m[1] && m[2] !== undefined) env[m[1]] = m[2];
  }
  return env;
}

const CLOCK_TICKS = 100; // getconf CLK_TCK on Linux

export class CcmUnderBench {
  readonly child: ChildProcess;
  readonly nodeFlags: string[];
  private readonly options: CcmProcessOptions;
  private readonly exited: Promise<void>;
  /** The kubeconfig's token: /metrics answers only authorized callers (delegated authz). */
  private readonly bearer: string;

  constructor(options: CcmProcessOptions) {
    this.bearer = loadKubeconfig(options.kubeconfig).token ?? '';
    this.options = options;
    // BENCH_NODE_FLAGS (space-separated) replaces the image's flags, for choosing them by measurement.
    const override = process.env['BENCH_NODE_FLAGS'];
    this.nodeFlags =
      override === undefined
        ? imageNodeFlags(options.repoRoot)
        : override.split(/\s+/).filter(Boolean);
    const args = [
      ...this.nodeFlags,
      // Diagnostics only: writes a heap snapshot (after a full GC) on SIGUSR2, nothing otherwise.
      '--heapsnapshot-signal=SIGUSR2',
      join(options.repoRoot, 'dist', 'oxide-cloud-controller-manager.mjs'),
      '--cloud-provider=oxide',
      `--kubeconfig=${options.kubeconfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${options.port}`,
      '--metrics-plain-http',
      ...options.flags,
      // BENCH_CCM_FLAGS (space-separated) adds CCM flags to every run, e.g. to choose a default.
      ...(process.env['BENCH_CCM_FLAGS'] ?? '').split(/\s+/).filter(Boolean),
    ];
    // As in a Pod: the image's ENV, overridden by the environment given (this process's).
    const env: NodeJS.ProcessEnv = { ...imageEnv(options.repoRoot) };
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OXIDE_')) env[k] = v;
    const log = openSync(options.logFile, 'a');
    this.child = spawn(join(options.repoRoot, 'node_modules', '.bin', 'node'), args, {
      cwd: options.dir,
      env: {
        ...env,
        OXIDE_HOST: options.oxide.host,
        OXIDE_TOKEN: options.oxide.token,
        OXIDE_PROJECT: options.oxide.project,
      },
      stdio: ['ignore', log, log],
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => {
        closeSync(log);
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`the CCM exited early:\n${this.logTail()}`);
      const body = await this.get('/readyz').catch(() => '');
      if (body === 'ok') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the CCM did not become ready:\n${this.logTail()}`);
  }

  get(path: string): Promise<string> {
    return fetch(`http://127.0.0.1:${this.options.port}${path}`, {
      headers: { authorization: `Bearer ${this.bearer}` },
      signal: AbortSignal.timeout(5000),
    }).then((r) => r.text());
  }

  /** One sample of a metric without labels from /metrics. */
  async metric(name: string): Promise<number> {
    const text = await this.get('/metrics');
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return Number(line?.split(' ')[1] ?? NaN);
  }

  memory(): ProcMemory {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kib = (field: string): number =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const toMiB = (k: number): number => Math.round((k / 1024) * 10) / 10;
    return {
      hwmMiB: toMiB(kib('VmHWM')),
      rssMiB: toMiB(kib('VmRSS')),
      anonMiB: toMiB(kib('RssAnon')),
      fileMiB: toMiB(kib('RssFile')),
    };
  }

  /** User + system CPU seconds since the process started. */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  }

  /**
   * Asks for a heap snapshot (V8 runs a full GC first) and waits until it is written; returns
   * its path. The snapshot holds only live objects, so its total is the live heap.
   */
  async heapSnapshot(timeoutMs = 120_000): Promise<string> {
    const before = new Set(this.snapshots());
    this.child.kill('SIGUSR2');
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    for (;;) {
      const fresh = this.snapshots().filter((f) => !before.has(f));
      const file = fresh[0];
      if (file) {
        // Written in one go but not atomically: done when the size stops moving and the JSON ends.
        const text = readFileSync(file);
        if (text.length === last && text.at(-1) === 0x7d /* } */) return file;
        last = text.length;
      }
      if (Date.now() > deadline) throw new Error('heap snapshot not written in time');
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  private snapshots(): string[] {
    return readdirSync(this.options.dir)
      .filter((f) => f.endsWith('.heapsnapshot'))
      .map((f) => join(this.options.dir, f));
  }

  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.running) this.child.kill('SIGKILL');
    }, 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  logTail(lines = 20): string {
    return fileTail(this.options.logFile, lines);
  }
}
