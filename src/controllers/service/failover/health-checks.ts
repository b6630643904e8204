// The health checks of the endpoints failover watches (a Node's kube-proxy /healthz, or a
// Service's healthCheckNodePort on a Node): one timer per endpoint, every interval, the results
// counted by probe-state.ts. Endpoints come and go with the targets (sync); one that has never
// answered is checked 15 times less often once it has had its chance (the CCM may not reach
// Node addresses at all, and then each check is a timeout for nothing).
import type { Logger } from '../../../log.ts';
import { V } from '../../../log.ts';
import { HttpProber } from '../../../net/http-probe.ts';
import { failoverMetrics } from './metrics.ts';
import { EndpointHealth } from './probe-state.ts';

export interface HealthCheckSettings {
  intervalMs: number;
  timeoutMs: number;
  failures: number;
  settleMs: number;
}

/** An endpoint to check: the Node it belongs to, where to send the check. */
export interface EndpointTarget {
  node: string;
  host: string;
  port: number;
}

interface Endpoint extends EndpointTarget {
  health: EndpointHealth;
  checks: number;
  timer: NodeJS.Timeout | undefined;
}

const UNKNOWN_BACKOFF = 15;

export const endpointKey = (node: string, port: number): string => `${node}:${port}`;

export class HealthChecks {
  private readonly settings: HealthCheckSettings;
  private readonly log: Logger;
  private readonly prober: HttpProber;
  private readonly endpoints = new Map<string, Endpoint>();
  /** A Node's endpoint changed verdict; `failing`: it went to failing or came back from it. */
  private readonly onChange: (node: string, failingChanged: boolean) => void;
  private stopped = false;

  constructor(
    settings: HealthCheckSettings,
    log: Logger,
    onChange: (node: string, failingChanged: boolean) => void,
  ) {
    this.settings = settings;
    this.log = log;
    this.onChange = onChange;
    this.prober = new HttpProber({ timeoutMs: settings.timeoutMs });
  }

  health(node: string, port: number): EndpointHealth | undefined {
    return this.endpoints.get(endpointKey(node, port))?.health;
  }

  /** Checks exactly these endpoints from now on (by key); a moved address starts afresh. */
  sync(want: ReadonlyMap<string, EndpointTarget>): void {
    if (this.stopped) return;
    for (const [k, e] of this.endpoints) {
      const w = want.get(k);
      if (!w || w.host !== e.host) {
        clearTimeout(e.timer);
        this.endpoints.delete(k);
      }
    }
    for (const [k, w] of want) {
      if (this.endpoints.has(k)) continue;
      const e: Endpoint = { ...w, health: new EndpointHealth(), checks: 0, timer: undefined };
      this.endpoints.set(k, e);
      // Spread the first checks over one interval rather than all at once.
      this.schedule(k, e, Math.random() * this.settings.intervalMs);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.endpoints.values()) clearTimeout(e.timer);
    this.endpoints.clear();
    this.prober.close();
  }

  private schedule(key: string, e: Endpoint, delayMs: number): void {
    e.timer = setTimeout(() => void this.check(key, e), delayMs);
  }

  private async check(key: string, e: Endpoint): Promise<void> {
    if (this.endpoints.get(key) !== e) return;
    const started = performance.now();
    const result = await this.prober.probe(e.host, e.port);
    if (this.endpoints.get(key) !== e || this.stopped) return;
    e.checks++;
    failoverMetrics.healthChecks.inc({
      result: result.ok ? 'pass' : result.answered ? 'fail' : 'unanswered',
    });
    const before = e.health.verdict;
    e.health.record(result, performance.now(), this.settings);
    const after = e.health.verdict;
    if (before !== after) {
      const failingChanged = before === 'failing' || after === 'failing';
      if (failingChanged) {
        this.log
          .v(V.steadyState)
          .info(
            { node: e.node, endpoint: `${e.host}:${e.port}`, health: after },
            'load-balancer failover: health check state changed',
          );
      }
      this.onChange(e.node, failingChanged);
    }
    const interval = this.settings.intervalMs;
    const slow = after === 'unknown' && e.checks >= this.settings.failures;
    const next = slow ? interval * UNKNOWN_BACKOFF : interval;
    this.schedule(key, e, Math.max(0, started + next - performance.now()));
  }
}
