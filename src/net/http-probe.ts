// One HTTP health check, as a cloud load balancer sends it: GET http://<ip>:<port><path>, passing
// on 200 within the timeout. A kept-alive connection per endpoint (kube-proxy's /healthz and its
// healthCheckNodePort servers are Go servers that keep connections open), so a check every 2 s
// costs one request on an open socket, not a TCP handshake; a dead or restarted server is found
// by the closed socket and the next check reconnects. Knows nothing of Kubernetes or Oxide.
import { Agent, request } from 'node:http';

export interface ProbeResult {
  /** An HTTP 200 within the timeout. */
  ok: boolean;
  /** Any HTTP answer at all (a 503 is an answer, a refused connection or a timeout is not). */
  answered: boolean;
}

export interface HttpProbeOptions {
  timeoutMs: number;
  path?: string;
}

export class HttpProber {
  // One socket per endpoint at most: checks of one endpoint never overlap.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
  private readonly timeoutMs: number;
  private readonly path: string;

  constructor(options: HttpProbeOptions) {
    this.timeoutMs = options.timeoutMs;
    this.path = options.path ?? '/healthz';
  }

  probe(host: string, port: number): Promise<ProbeResult> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (result: ProbeResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const req = request(
        { host, port, path: this.path, method: 'GET', agent: this.agent },
        (res) => {
          const ok = res.statusCode === 200;
          // Drain the (small) body so the socket goes back to the agent for the next check.
          res.resume();
          res.on('end', () => done({ ok, answered: true }));
          res.on('error', () => done({ ok: false, answered: true }));
        },
      );
      const timer = setTimeout(() => {
        req.destroy(new Error('health check timed out'));
        done({ ok: false, answered: false });
      }, this.timeoutMs);
      req.on('error', () => done({ ok: false, answered: false }));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
