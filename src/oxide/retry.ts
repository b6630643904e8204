// Retries with capped exponential backoff and full jitter, for transient failures only: a 400
// (including ObjectAlreadyExists), 401, 404 or 409 is an answer, not an outage, and is returned
// at once. 429/503 Retry-After is honoured (capped) because the server knows better than we do.
import { isRetryable } from './errors.ts';

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

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `attempt` until it succeeds, fails with a non-retryable error, or retries run out. */
export async function withRetry<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= options.maxRetries || !isRetryable(err)) throw err;
      const retryAfterMs =
        err &&
        typeof err === 'object' &&
        'retryAfterMs' in err &&
        typeof err.retryAfterMs === 'number'
          ? err.retryAfterMs
          : undefined;
      await sleep(backoffDelay(n, options, retryAfterMs), options.signal);
    }
  }
}
