// The one cache type: values by key that answer for a TTL counted from when their load started
// (so a value never answers later than ttlMs after the read that produced it), concurrent asks
// for a key sharing one load (single flight), failed loads never kept (the next ask loads
// again), an optional bound on entries (oldest first out), and hit/miss counts (each lookup told
// to the owner's onLookup, which feeds its layer's metric). Callers that need more (the
// floating-IP view's write-through) build it on top.
import { abandonOn } from './abort.ts';

export interface TtlCacheOptions<V> {
  /** How long a value answers, in ms from its load's start; per value when a function. 0: never kept. */
  ttlMs: number | ((value: V) => number);
  /** Most entries kept; past it the oldest go first. Default: unbounded. */
  maxEntries?: number;
  /** Monotonic milliseconds; default performance.now. Tests pass a clock they move. */
  now?: () => number;
  /**
   * Drop each value when its TTL ends instead of on the next access, so an idle process does not
   * hold it: true uses an unref'd timer; tests pass their own scheduler.
   */
  dropAtExpiry?: boolean | ((drop: () => void, afterMs: number) => void);
  /** Told of every get(): 'hit' when answered without starting a load (joining one counts). */
  onLookup?: (result: 'hit' | 'miss') => void;
}

export interface GetOptions {
  /** Answer only from a value or a load in flight that started at or after this time. */
  notBefore?: number;
  /** Start a new load whatever is cached or in flight. */
  fresh?: boolean;
  /**
   * This caller stops waiting when it aborts (the answer rejects with its reason); the load goes
   * on for the others who share it and is kept as usual.
   */
  signal?: AbortSignal | undefined;
}

interface Entry<V> {
  value: V;
  /** Order in which loads started: a load finishing late never replaces a newer value. */
  seq: number;
  startedAt: number;
  expiresAt: number;
}

interface Load<V> {
  startedAt: number;
  promise: Promise<V>;
  /** Overtaken by invalidate(): its value is handed to whoever waits for it, but not kept. */
  stale: boolean;
}

export class TtlCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();
  /** The newest load per key: the one later asks join. */
  private readonly inflight = new Map<K, Load<V>>();
  /** Every load per key not yet finished, so invalidate() can reach the older ones too. */
  private readonly running = new Map<K, Set<Load<V>>>();
  private readonly ttlOf: (value: V) => number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly schedule: ((drop: () => void, afterMs: number) => void) | undefined;
  private readonly onLookup: ((result: 'hit' | 'miss') => void) | undefined;
  private seq = 0;
  private hitCount = 0;
  private missCount = 0;

  constructor(options: TtlCacheOptions<V>) {
    const ttl = options.ttlMs;
    this.ttlOf = typeof ttl === 'function' ? ttl : () => ttl;
    this.maxEntries = options.maxEntries ?? Infinity;
    this.now = options.now ?? (() => performance.now());
    const drop = options.dropAtExpiry;
    this.schedule =
      drop === true
        ? (fn, ms) => setTimeout(fn, ms).unref()
        : typeof drop === 'function'
          ? drop
          : undefined;
    this.onLookup = options.onLookup;
  }

  /** Lookups answered without starting a load, and lookups that started one. */
  get stats(): { hits: number; misses: number } {
    return { hits: this.hitCount, misses: this.missCount };
  }

  /** Entries held, expired ones not yet dropped included. */
  get size(): number {
    return this.entries.size;
  }

  /** The value for key: cached, or from the load in flight, or from `load` (shared with later asks). */
  get(key: K, load: () => Promise<V>, options: GetOptions = {}): Promise<V> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return abandonOn(this.lookup(key, load, options), signal);
  }

  private lookup(key: K, load: () => Promise<V>, options: GetOptions): Promise<V> {
    const now = this.now();
    const notBefore = options.notBefore ?? -Infinity;
    if (!options.fresh) {
      const entry = this.live(key, now);
      if (entry && entry.startedAt >= notBefore) return this.hit(Promise.resolve(entry.value));
      const running = this.inflight.get(key);
      if (running && running.startedAt >= notBefore) return this.hit(running.promise);
    }
    this.missCount++;
    this.onLookup?.('miss');
    return this.start(key, load, now);
  }

  /** The cached value without any request; undefined when there is none or it expired. */
  peek(key: K): V | undefined {
    return this.live(key, this.now())?.value;
  }

  /** Drops the value; a load in flight still answers and is kept when it lands. */
  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Nothing read before now answers again: drops the value, and loads in flight are not joined or kept. */
  invalidate(key: K): void {
    this.entries.delete(key);
    this.inflight.delete(key);
    for (const load of this.running.get(key) ?? []) load.stale = true;
  }

  private hit(value: Promise<V>): Promise<V> {
    this.hitCount++;
    this.onLookup?.('hit');
    return value;
  }

  private live(key: K, now: number): Entry<V> | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > now) return entry;
    this.entries.delete(key);
    return undefined;
  }

  private start(key: K, load: () => Promise<V>, startedAt: number): Promise<V> {
    const seq = this.seq++;
    let running = this.running.get(key);
    if (!running) this.running.set(key, (running = new Set()));
    const set = running;
    // Stored before any caller sees the value, so a caller's next get() finds it.
    const promise = load().then((value) => {
      if (!record.stale) this.store(key, value, seq, startedAt);
      return value;
    });
    const record: Load<V> = { startedAt, promise, stale: false };
    set.add(record);
    this.inflight.set(key, record);
    const settle = (): void => {
      set.delete(record);
      if (set.size === 0 && this.running.get(key) === set) this.running.delete(key);
      if (this.inflight.get(key) === record) this.inflight.delete(key);
    };
    promise.then(settle, settle);
    return promise;
  }

  private store(key: K, value: V, seq: number, startedAt: number): void {
    const ttlMs = this.ttlOf(value);
    const current = this.entries.get(key);
    if (ttlMs <= 0 || (current && current.seq > seq)) return;
    const now = this.now();
    const entry: Entry<V> = { value, seq, startedAt, expiresAt: startedAt + ttlMs };
    if (entry.expiresAt <= now) return;
    // Re-inserted so that insertion order is age order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.maxEntries && e.expiresAt > now) break;
      this.entries.delete(k);
    }
    this.schedule?.(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    }, entry.expiresAt - now);
  }
}
