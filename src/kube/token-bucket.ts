// Client-side rate limit with client-go's semantics: `burst` requests at once, refilled at `qps`.
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  private readonly qps: number;
  private readonly burst: number;
  private chain: Promise<void> = Promise.resolve();

  constructor(qps: number, burst: number) {
    this.qps = qps;
    this.burst = Math.max(1, burst);
    this.tokens = this.burst;
  }

  /** Resolves when a token is available; callers are served in arrival order. */
  take(signal?: AbortSignal): Promise<void> {
    if (this.qps <= 0) return Promise.resolve();
    const next = this.chain.then(() => this.wait(signal));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async wait(signal?: AbortSignal): Promise<void> {
    // An aborted caller (shutdown, lost leadership) gives its turn up at once instead of waiting
    // it out: a backlog of throttled requests behind it would otherwise drain at qps.
    signal?.throwIfAborted();
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return;
    }
    const ms = ((1 - this.tokens) / this.qps) * 1000;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(t);
        reject(signal?.reason as Error);
      };
      // Removed once the wait is over: the signal may be a long-lived one (an informer's).
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    this.tokens = 0;
    this.last = performance.now();
  }
}
