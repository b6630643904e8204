// What the health checks of one endpoint (a Node's kube-proxy /healthz, or a Service's
// healthCheckNodePort on a Node) say, as a cloud load balancer's health checker counts them:
// `failures` consecutive failed checks make it failing, and once failing it passes again only
// after passing for `settleMs` without a failure. An endpoint that has never answered anything
// is "unknown", not failing: the CCM may run where Node addresses cannot be reached (outside the
// cluster), and then the other signals decide. Pure: results and time are passed in.

import type { ProbeResult } from '../../../net/http-probe.ts';

export type ProbeVerdict = 'unknown' | 'passing' | 'failing';

export interface ProbeSettings {
  failures: number;
  settleMs: number;
}

export class EndpointHealth {
  private everAnswered = false;
  private failed = 0;
  private failing = false;
  private passingSince: number | undefined;
  /** When it started failing (detection time). */
  failingSince: number | undefined;

  record(result: ProbeResult, now: number, settings: ProbeSettings): void {
    if (result.answered) this.everAnswered = true;
    if (!this.everAnswered) return;
    if (result.ok) {
      this.failed = 0;
      this.passingSince ??= now;
    } else {
      this.failed++;
      this.passingSince = undefined;
      if (this.failed >= settings.failures && !this.failing) {
        this.failing = true;
        this.failingSince = now;
      }
    }
    if (
      this.failing &&
      this.passingSince !== undefined &&
      now - this.passingSince >= settings.settleMs
    ) {
      this.failing = false;
      this.failingSince = undefined;
    }
  }

  get verdict(): ProbeVerdict {
    if (!this.everAnswered) return 'unknown';
    return this.failing ? 'failing' : 'passing';
  }

  /** Answered at least once and passing now (not merely "not failing yet"). */
  get passingNow(): boolean {
    return this.everAnswered && !this.failing && this.failed === 0;
  }
}
