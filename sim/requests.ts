// Every request the simulator received, by operationId, for tests that assert call budgets.

export const UNMATCHED = 'unmatched';

export interface LoggedRequest {
  operationId: string;
  method: string;
  path: string;
  query: string;
  /** Which token the request carried (Simulator.addToken's label; 'default' for the seeded one). */
  principal?: string | undefined;
  /** Date.now() when it arrived. */
  at?: number;
  /** The id of the object a create (201) made. */
  created?: string;
}

export class RequestLog {
  readonly entries: LoggedRequest[] = [];

  record(entry: LoggedRequest): void {
    this.entries.push(entry);
  }

  /** Adds what the answer told (the created object's id) to an entry already recorded. */
  annotate(entry: LoggedRequest, extra: Pick<LoggedRequest, 'created'>): void {
    Object.assign(entry, extra);
  }

  /** Which principal created each object (by id), from the creates recorded. */
  creators(): Map<string, string | undefined> {
    const out = new Map<string, string | undefined>();
    for (const e of this.entries) if (e.created !== undefined) out.set(e.created, e.principal);
    return out;
  }

  /** Requests for one operationId, or all requests when omitted. */
  count(operationId?: string): number {
    if (operationId === undefined) return this.entries.length;
    return this.entries.filter((e) => e.operationId === operationId).length;
  }

  byOperation(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.entries) out[e.operationId] = (out[e.operationId] ?? 0) + 1;
    return out;
  }

  reset(): void {
    this.entries.length = 0;
  }
}
