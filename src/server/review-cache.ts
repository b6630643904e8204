// The cache in front of TokenReview and SubjectAccessReview, as upstream's delegated
// authenticator and authorizer keep one: answers live for a TTL chosen per answer (upstream
// caches "allowed" and "denied" for separately configured times), concurrent asks for the same
// key share one call (single flight), errors are never cached (the next request asks again), and
// the number of entries is bounded so a stream of distinct junk tokens cannot grow memory.
export interface Cached<T> {
  value: T;
  /** 0: do not cache this answer. */
  ttlMs: number;
}

export interface ReviewCacheOptions {
  maxEntries: number;
  /** Milliseconds; tests pass a clock they move. */
  now?: () => number;
}

export class ReviewCache<T> {
  private readonly entries = new Map<string, { value: T; expires: number }>();
  private readonly inflight = new Map<string, Promise<T>>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: ReviewCacheOptions) {
    this.maxEntries = options.maxEntries;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached answer for key, else the one load() gives (shared by concurrent callers). */
  get(key: string, load: () => Promise<Cached<T>>): { hit: boolean; value: Promise<T> } {
    const entry = this.entries.get(key);
    if (entry && entry.expires > this.now())
      return { hit: true, value: Promise.resolve(entry.value) };
    if (entry) this.entries.delete(key);
    const running = this.inflight.get(key);
    if (running) return { hit: true, value: running };
    const value = load()
      .then(({ value: v, ttlMs }) => {
        if (ttlMs > 0) this.set(key, v, ttlMs);
        return v;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, value);
    return { hit: false, value };
  }

  private set(key: string, value: T, ttlMs: number): void {
    const now = this.now();
    this.entries.delete(key);
    this.entries.set(key, { value, expires: now + ttlMs });
    // Oldest first (insertion order): drop expired ones and, past the bound, the oldest.
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.maxEntries && e.expires > now) break;
      this.entries.delete(k);
    }
  }
}
