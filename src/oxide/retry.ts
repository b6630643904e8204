// Retries with capped exponential backoff and full jitter, for transient failures only: a 400
// (including ObjectAlreadyExists), 401, 404 or 409 is an answer, not an outage, and is returned
// at once. 429/503 Retry-After is honoured (capped) because the server knows better than we do.
// A RetryBudget shared by every call of a client bounds retries together (gRPC's retry
// throttling): when Oxide is down, calls stop retrying after a few failures and fail fast, so
// retries inside retries (pages of a list, a provider's retry, the controller's requeue) never
// multiply the load or the time a reconcile holds a worker.
import { sleep } from '../util/async.ts';
import { isRetryable } from './errors.ts';

/**
 * gRPC retry throttling: a failed attempt costs one token, a success earns `tokenRatio`; a retry
 * is allowed only while more than half the tokens remain. Starts full.
 */
export class RetryBudget {
  private readonly maxTokens: number;
  private readonly tokenRatio: number;
  private tokens: number;

  constructor(maxTokens = 20, tokenRatio = 0.1) {
    this.maxTokens = maxTokens;
    this.tokenRatio = tokenRatio;
    this.tokens = maxTokens;
  }

  succeeded(): void {
    this.tokens = Math.min(this.maxTokens, this.tokens + this.tokenRatio);
  }

  failed(): void {
    this.tokens = Math.max(0, this.tokens - 1);
  }

  allowsRetry(): boolean {
    return this.tokens > this.maxTokens / 2;
  }

  /** For tests and metrics. */
  remaining(): number {
    return this.tokens;
  }
}

export interface RetryOptions {
  /** Retries after the first attempt; 0 disables retrying. */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Longest Retry-After we are willing to wait inside one call. */
  maxRetryAfterMs: number;
  /** Injected in tests to make jitter deterministic. */
  random?: () => number;
  signal?: AbortSignal | undefined;
  /** Shared by every call of one client; none means every call may use all its retries. */
  budget?: RetryBudget | undefined;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxRetries: 3,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 30_000,
};

/** Delay before retry number `attempt` (0-based): full jitter over base * 2^attempt. */
export function backoffDelay(attempt: number, options: RetryOptions, retryAfterMs?: number) {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, options.maxRetryAfterMs);
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt);
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

/** Runs `attempt` until it succeeds, fails with a non-retryable error, or retries run out. */
export async function withRetry<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  const { budget } = options;
  for (let n = 0; ; n++) {
    try {
      const value = await attempt();
      budget?.succeeded();
      return value;
    } catch (err) {
      if (!isRetryable(err)) throw err;
      budget?.failed();
      if (n >= options.maxRetries || (budget && !budget.allowsRetry())) throw err;
      const retryAfterMs =
        err &&
        typeof err === 'object' &&
        'retryAfterMs' in err &&
        typeof err.retryAfterMs === 'number'
          ? err.retryAfterMs
          : undefined;
      await sleep(backoffDelay(n, options, retryAfterMs), options.signal);
      options.signal?.throwIfAborted();
    }
  }
}
