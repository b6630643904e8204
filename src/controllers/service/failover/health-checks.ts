// The health checks of the endpoints failover watches (a Node's kube-proxy /healthz, or a
// Service's healthCheckNodePort on a Node), the results counted by probe-state.ts. One timer for
// all of them: every interval one round sends every check at once, so 200 endpoints cost one
// timer wake-up and a burst of answers per interval rather than a wake-up per check (per-endpoint
// timers measured several times the CPU at rest on a loaded machine, bench/failover-cost.bench.ts).
// An endpoint new to the set is checked at once. Endpoints come and go with the targets (sync);
// one that has never answered is checked 15 times less often once it has had its chance (the CCM
// may not reach Node addresses at all, and then each check is a timeout for nothing).
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
  inFlight: boolean;
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
  /** A check of an endpoint that answered before failed (the first sign, before the verdict). */
  private readonly onFailedCheck: ((node: string) => void) | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private rounds = 0;

  constructor(
    settings: HealthCheckSettings,
    log: Logger,
    onChange: (node: string, failingChanged: boolean) => void,
    onFailedCheck?: (node: string) => void,
  ) {
    this.settings = settings;
    this.log = log;
    this.onChange = onChange;
    this.onFailedCheck = onFailedCheck;
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
        this.endpoints.delete(k);
        this.prober.forget(e.host, e.port);
      }
    }
    for (const [k, w] of want) {
      if (this.endpoints.has(k)) continue;
      const e: Endpoint = { ...w, health: new EndpointHealth(), checks: 0, inFlight: false };
      this.endpoints.set(k, e);
      void this.check(k, e);
    }
    this.timer ??= setInterval(() => this.round(), this.settings.intervalMs);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.endpoints.clear();
    this.prober.close();
  }

  /** Every endpoint not still waiting on its last check; the never-answered ones 1 round in 15. */
  private round(): void {
    this.rounds++;
    for (const [k, e] of this.endpoints) {
      if (e.inFlight) continue;
      const slow = e.health.verdict === 'unknown' && e.checks >= this.settings.failures;
      if (slow && this.rounds % UNKNOWN_BACKOFF !== 0) continue;
      void this.check(k, e);
    }
  }

  private async check(key: string, e: Endpoint): Promise<void> {
    e.inFlight = true;
    const result = await this.prober.probe(e.host, e.port);
    e.inFlight = false;
    if (this.endpoints.get(key) !== e || this.stopped) return;
    e.checks++;
    failoverMetrics.healthChecks.inc({
      result: result.ok ? 'pass' : result.answered ? 'fail' : 'unanswered',
    });
    const before = e.health.verdict;
    if (!result.ok && before !== 'unknown') this.onFailedCheck?.(e.node);
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
  }
}
