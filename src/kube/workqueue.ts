// One keyed work queue for every controller, with the guarantees of client-go's rate-limited
// queue: a key waiting is stored once however often it is added, a key is never handed to two
// workers at once (an add while it is processed is replayed after done()), failed keys come back
// after the rate limiter's delay, and addAfter schedules a key for later.
import { workqueueMetrics, workqueueProbes } from './metrics.ts';
import type { WorkqueueProbe } from './metrics.ts';

export interface Backoff {
  /** Delay before the next retry of key; grows with each call until forget(key). */
  when(key: string): number;
  forget(key: string): void;
  retries(key: string): number;
}

/** Per-key exponential backoff: base · 2^failures, capped. */
export class ExponentialBackoff implements Backoff {
  private readonly failures = new Map<string, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(baseMs: number, maxMs: number) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.maxMs, this.baseMs * 2 ** n);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/**
 * client-go's BucketRateLimiter: one token bucket for all keys, so a mass failure (every Node
 * failing at once when Oxide is down) is retried at `qps` overall however small each key's
 * backoff is. A retry reserves the next token; its delay is how long until that token exists.
 */
export class BucketBackoff implements Backoff {
  private readonly qps: number;
  private readonly burst: number;
  private tokens: number;
  private at: number;
  private readonly now: () => number;

  constructor(qps: number, burst: number, now: () => number = () => performance.now()) {
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
    this.now = now;
    this.at = now();
  }

  when(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.at) / 1000) * this.qps);
    this.at = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }

  forget(): void {}

  retries(): number {
    return 0;
  }
}

/** client-go's MaxOfRateLimiter: the longest delay of its limiters. */
export class MaxOfBackoff implements Backoff {
  private readonly limiters: Backoff[];

  constructor(...limiters: Backoff[]) {
    this.limiters = limiters;
  }

  when(key: string): number {
    return Math.max(...this.limiters.map((l) => l.when(key)));
  }

  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }

  retries(key: string): number {
    return Math.max(...this.limiters.map((l) => l.retries(key)));
  }
}

/**
 * Per-key cap of the controller rate limiter. client-go's is 1000 s: after a 3-minute Oxide
 * outage a Node's next retry was then up to ~160 s away, although the outage was over. 30 s
 * bounds how long a key waits after a fault clears (less than the 40 s node-monitor grace
 * period), while a key that keeps failing still costs at most two attempts a minute and the
 * shared bucket below bounds all retries together.
 */
export const CONTROLLER_RETRY_MAX_MS = 30_000;

/**
 * client-go's DefaultControllerRateLimiter with a sane per-key cap: per-key exponential from
 * 5 ms, combined with an overall bucket of 10 retries/s, burst 100.
 */
export function controllerRateLimiter(maxMs = CONTROLLER_RETRY_MAX_MS): Backoff {
  return new MaxOfBackoff(new ExponentialBackoff(5, maxMs), new BucketBackoff(10, 100));
}

export interface WorkQueueOptions {
  /** The `name` label of workqueue_* metrics: upstream's queue name (names.ts). */
  name: string;
  backoff?: Backoff;
}

export class WorkQueue implements WorkqueueProbe {
  readonly name: string;
  private readonly backoff: Backoff;
  private readonly queue = new Fifo();
  private readonly dirty = new Set<string>();
  /** Keys being processed, with when they were handed out (performance.now()). */
  private readonly processing = new Map<string, number>();
  private readonly addedAt = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.backoff = options.backoff ?? controllerRateLimiter();
    workqueueProbes.add(this);
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    workqueueMetrics.adds.inc({ name: this.name });
    this.dirty.add(key);
    this.addedAt.set(key, performance.now());
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Adds key after delayMs; an earlier pending schedule of the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Requeue after the key's backoff delay; call when reconcile failed. */
  addRateLimited(key: string): void {
    workqueueMetrics.retries.inc({ name: this.name });
    this.addAfter(key, this.backoff.when(key));
  }

  /** Reset the key's backoff; call when reconcile succeeded. */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  retries(key: string): number {
    return this.backoff.retries(key);
  }

  /** Resolves with the next key, or undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    const started = this.processing.get(key);
    if (started !== undefined) {
      workqueueMetrics.workDuration.observe(
        { name: this.name },
        (performance.now() - started) / 1000,
      );
    }
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  len(): number {
    return this.queue.length;
  }

  /** Nothing waiting, being processed or scheduled: what tests wait for before asserting. */
  idle(): boolean {
    return this.queue.length === 0 && this.processing.size === 0 && this.timers.size === 0;
  }

  unfinishedWorkSeconds(): number {
    const now = performance.now();
    let total = 0;
    for (const started of this.processing.values()) total += now - started;
    return total / 1000;
  }

  longestRunningProcessorSeconds(): number {
    const now = performance.now();
    let longest = 0;
    for (const started of this.processing.values()) longest = Math.max(longest, now - started);
    return longest / 1000;
  }

  shutDown(): void {
    this.shuttingDown = true;
    workqueueProbes.delete(this);
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(this.take(key));
      return;
    }
    this.queue.push(key);
    workqueueMetrics.depth.set({ name: this.name }, this.queue.length);
  }

  private take(key: string): string {
    this.dirty.delete(key);
    this.processing.set(key, performance.now());
    const added = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (added !== undefined) {
      workqueueMetrics.queueDuration.observe(
        { name: this.name },
        (performance.now() - added) / 1000,
      );
    }
    workqueueMetrics.depth.set({ name: this.name }, this.queue.length);
    return key;
  }
}

/** FIFO with O(1) shift: Array.prototype.shift is linear on large arrays (a 100k-key drain). */
class Fifo {
  private items: string[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: string): void {
    this.items.push(item);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.head += 1;
    // Emptied: start afresh rather than keep up to 1024 consumed keys alive.
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      return item;
    }
    // Drop the consumed prefix once it dominates, keeping memory proportional to what waits.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
