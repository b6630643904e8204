// The CCM under demonstration: `src/main.ts` run from source by the pinned Node.js, as a child
// process with its klog-format log in a file, pointed at the demo's apiserver and Oxide simulator.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CcmProcessOptions {
  repoRoot: string;
  kubeconfig: string;
  /** Port for /healthz, /readyz, /metrics over plain HTTP on 127.0.0.1. */
  port: number;
  logFile: string;
  oxide: { host: string; token: string; project: string };
  /** More flags (tests: short periods, routes). */
  extraArgs?: readonly string[];
}

export interface CcmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class CcmProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<CcmExit>;
  readonly args: readonly string[];
  private readonly options: CcmProcessOptions;

  constructor(options: CcmProcessOptions) {
    this.options = options;
    this.args = [
      'src/main.ts',
      '--cloud-provider=oxide',
      `--kubeconfig=${options.kubeconfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${options.port}`,
      '--metrics-plain-http',
      ...(options.extraArgs ?? []),
    ];
    // The user's own OXIDE_* (a profile, a real rack's token) must not reach the demo's CCM.
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OXIDE_')) env[k] = v;
    const log = openSync(options.logFile, 'a');
    this.child = spawn(join(options.repoRoot, 'node_modules', '.bin', 'node'), this.args, {
      cwd: options.repoRoot,
      env: {
        ...env,
        OXIDE_HOST: options.oxide.host,
        OXIDE_TOKEN: options.oxide.token,
        OXIDE_PROJECT: options.oxide.project,
      },
      // Its own process group: a terminal's Ctrl-C reaches only the demo, which then stops the
      // CCM with SIGTERM and checks the exit code.
      detached: true,
      stdio: ['ignore', log, log],
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        closeSync(log);
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Polls /readyz until "ok"; throws with the log tail if the CCM exits or time runs out. */
  async waitReady(deadline: number): Promise<void> {
    const url = `http://127.0.0.1:${this.options.port}/readyz`;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`the CCM exited early:\n${this.logTail()}`);
      const body = await fetch(url, { signal: AbortSignal.timeout(1000) })
        .then((r) => r.text())
        .catch(() => '');
      if (body === 'ok') return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `timed out waiting for the CCM to become ready at ${url}; its log ends:\n${this.logTail()}`,
    );
  }

  /** SIGTERM, as the kubelet does; SIGKILL after graceMs. Resolves with how it exited. */
  async stop(graceMs = 15_000): Promise<CcmExit> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.killNow(), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  /** The last lines of the CCM's log, for failure messages. */
  logTail(lines = 20): string {
    return fileTail(this.options.logFile, lines);
  }

  /** Warning and error lines (klog severities W and E), for the summary. */
  warnings(): string[] {
    let text = '';
    try {
      text = readFileSync(this.options.logFile, 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter((l) => /^[WE]\d{4} /.test(l));
  }
}

/** The last `lines` lines of a log file, or `(no log)` when it cannot be read. */
export function fileTail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
