// Per-endpoint fault injection, keyed by OpenAPI operationId (or method / path): latency, error
// statuses (with Retry-After for 429/503), requests that are never answered, dropped sockets.

export interface FaultSpec {
  operation?: string;
  method?: string;
  /** Exact request path (without query), or a pattern tested against it. */
  path?: string | RegExp;
  /** Pattern tested against the query string ("?page_token=…"), e.g. to fail page 2 of a list. */
  query?: RegExp;
  /** Only requests carrying this principal's token (Simulator.addToken): one client's outage. */
  principal?: string;
  status?: number;
  retryAfterSeconds?: number;
  latencyMs?: number;
  /** Accept the request and never answer it (until the simulator stops). */
  timeout?: boolean;
  /** Destroy the socket without an answer. */
  drop?: boolean;
  /** How many matching requests the fault applies to (default: all). */
  times?: number;
}

interface Active {
  spec: FaultSpec;
  left: number;
}

export class Faults {
  private active: Active[] = [];

  add(spec: FaultSpec): void {
    this.active.push({ spec, left: spec.times ?? Infinity });
  }

  clear(): void {
    this.active = [];
  }

  /** The first fault matching this request, consuming one of its `times`. */
  take(
    operationId: string | undefined,
    method: string,
    path: string,
    query = '',
    principal?: string,
  ): FaultSpec | undefined {
    const hit = this.active.find(({ spec, left }) => {
      if (left <= 0) return false;
      if (spec.operation !== undefined && spec.operation !== operationId) return false;
      if (spec.method !== undefined && spec.method.toUpperCase() !== method) return false;
      if (typeof spec.path === 'string' && spec.path !== path) return false;
      if (spec.path instanceof RegExp && !spec.path.test(path)) return false;
      if (spec.query !== undefined && !spec.query.test(query)) return false;
      if (spec.principal !== undefined && spec.principal !== principal) return false;
      return true;
    });
    if (!hit) return undefined;
    hit.left--;
    this.active = this.active.filter((a) => a.left > 0);
    return hit.spec;
  }
}
