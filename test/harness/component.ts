// One cluster component (kube-controller-manager, kube-scheduler, kwok) as a child process with
// its log in a file: killed on exit and on SIGINT/SIGTERM like the control plane, so a crashed
// test leaves nothing running.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { Agent, fetch } from 'undici';
import { killOnExit, release } from './exit-hook.ts';

export interface ComponentOptions {
  name: string;
  binary: string;
  args: string[];
  logFile: string;
  /** Do not keep the Node.js process alive for it (see ControlPlaneOptions.detachFromProcess). */
  detachFromProcess?: boolean;
}

export class Component {
  readonly name: string;
  readonly args: readonly string[];
  readonly logFile: string;
  private readonly child: ChildProcess;
  private readonly fd: number;
  readonly exited: Promise<void>;

  constructor(options: ComponentOptions) {
    this.name = options.name;
    this.args = options.args;
    this.logFile = options.logFile;
    this.fd = openSync(options.logFile, 'a');
    this.child = spawn(options.binary, options.args, { stdio: ['ignore', this.fd, this.fd] });
    if (options.detachFromProcess) this.child.unref();
    killOnExit(this);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => {
        release(this);
        resolve();
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Polls https://127.0.0.1:<port>/healthz (self-signed) until ok; throws with the log tail. */
  async waitHealthy(port: number, timeoutMs = 60_000): Promise<void> {
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    const deadline = Date.now() + timeoutMs;
    try {
      while (Date.now() < deadline) {
        if (!this.running) throw new Error(`${this.name} exited early:\n${this.logTail()}`);
        const body = await fetch(`https://127.0.0.1:${port}/healthz`, {
          dispatcher,
          signal: AbortSignal.timeout(2000),
        })
          .then((r) => r.text())
          .catch(() => '');
        if (body === 'ok') return;
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await dispatcher.close();
    }
    throw new Error(`${this.name} not healthy after ${timeoutMs} ms:\n${this.logTail()}`);
  }

  logTail(lines = 25): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    release(this);
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.running) {
      const timer = setTimeout(() => this.killNow(), graceMs);
      this.child.kill('SIGTERM');
      await this.exited;
      clearTimeout(timer);
    }
    this.killNow();
  }
}
