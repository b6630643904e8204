// List+watch cache for one resource, like client-go's shared informer (reflector + store), on
// KubeClient's list and watch (so watches share the user agent, dispatcher, metrics and request
// traces of every other call). We keep our own loop because client-node's informer
// stops for good on some watch errors and its Watch aborts any stream idle for 30 s. As
// client-go's reflector: a watch that ends (server timeout, dropped connection, transport error)
// resumes from the last resourceVersion seen; only 410 Gone ("Expired": the position fell out of
// the apiserver's history) lists again. Objects pass a transform as they are decoded (client-go's
// SetTransform), so the store keeps only the fields the controllers read.
import { KubeApiError } from './client.ts';
import type { KubeClient } from './client.ts';
import { ExponentialBackoff } from './workqueue.ts';
import { abandonOn } from '../util/abort.ts';
import { sleep } from '../util/async.ts';

export interface KubeObject {
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    deletionTimestamp?: unknown;
    finalizers?: string[];
  };
}

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
}

interface ListResult<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

export const objectKey = (obj: KubeObject): string => {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
};

export interface InformerOptions<T = KubeObject> {
  /** Collection path, e.g. /api/v1/nodes. */
  path: string;
  /** Server-side filters. */
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Server-side watch timeout. Default: random between 5 and 10 minutes per watch, as client-go's
   * reflector, so watches of many clients do not all reopen at once.
   */
  watchTimeoutSeconds?: number;
  /**
   * Applied to every listed or watched object before it is stored or handed to handlers; it may
   * return a smaller copy (drop what no controller reads). Objects written back with PUT start
   * from the stored copy, so it must keep metadata and spec whole.
   */
  transform?(obj: T): T;
  /** Called with errors the informer recovers from by itself (for logs). */
  onError?(err: unknown): void;
  /**
   * A cache a controller can do without (EndpointSlices, for externalTrafficPolicy: Local):
   * when listing is forbidden (RBAC written for the Go CCM, which never read them), count as
   * synced with an empty cache instead of holding the controller back, and keep retrying so
   * the cache fills once the permission is granted. onForbidden is told once.
   */
  optionalWhenForbidden?: boolean;
  onForbidden?(err: unknown): void;
}

export class Informer<T extends KubeObject> {
  private readonly client: KubeClient;
  private readonly options: InformerOptions<T>;
  private readonly store = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly backoff = new ExponentialBackoff(200, 30_000);
  private resourceVersion = '';
  private synced = false;
  /** Listing was refused (403) since the last successful list; see optionalWhenForbidden. */
  private forbidden = false;
  /** waitForSync's callers share it; the first list delivered resolves it. */
  private readonly firstSync = Promise.withResolvers<void>();

  constructor(client: KubeClient, options: InformerOptions<T>) {
    this.client = client;
    this.options = options;
  }

  addHandlers(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** After the first list was delivered; the signal's reason if it aborts first (or had). */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return abandonOn(this.firstSync.promise, signal);
  }

  /** The resourceVersion the store reflects (client-go's LastSyncResourceVersion). */
  lastSyncResourceVersion(): string {
    return this.resourceVersion;
  }

  /** The transform objects pass before they are stored (identity when none is set). */
  readonly transform = (obj: T): T => (this.options.transform ? this.options.transform(obj) : obj);

  /** Runs until signal aborts; never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    let mustList = true;
    while (!signal.aborted) {
      try {
        if (mustList) {
          await this.relist(signal);
          mustList = false;
        }
        await this.watchOnce(signal);
      } catch (err) {
        if (signal.aborted) break;
        if (this.options.optionalWhenForbidden && isForbidden(err)) {
          if (!this.forbidden) this.options.onForbidden?.(err);
          this.forbidden = true;
          this.markSynced();
        } else this.options.onError?.(err);
        // Only an expired position needs a new list; after a list error, list again. Anything
        // else (refused, reset, 5xx, a broken stream) resumes the watch where it stopped.
        if (isExpired(err)) mustList = true;
        await sleep(this.backoff.when('watch'), signal);
      }
    }
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.client.get<ListResult<T>>(this.options.path, {
        query: {
          limit: 500,
          continue: cont,
          labelSelector: this.options.labelSelector,
          fieldSelector: this.options.fieldSelector,
        },
        signal: AbortSignal.any([signal, AbortSignal.timeout(60_000)]),
      });
      for (const item of page.items) items.push(this.transform(item));
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont);
    this.replace(items);
    this.resourceVersion = rv;
    this.forbidden = false;
    this.markSynced();
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    this.firstSync.resolve();
  }

  private replace(items: T[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      this.upsert(key, item);
    }
    for (const [key, old] of this.store) {
      if (!seen.has(key)) {
        this.store.delete(key);
        for (const h of this.handlers) h.delete?.(old);
      }
    }
  }

  private upsert(key: string, obj: T): void {
    const old = this.store.get(key);
    this.store.set(key, obj);
    for (const h of this.handlers) {
      if (old) h.update?.(old, obj);
      else h.add?.(obj);
    }
  }

  /**
   * One watch from the last resourceVersion. Resolves when the server ends it (its timeout);
   * rejects with a WatchError on an ERROR event or a refused request, or with the transport's
   * error when the stream breaks.
   */
  private async watchOnce(signal: AbortSignal): Promise<void> {
    const timeoutSeconds =
      this.options.watchTimeoutSeconds ?? Math.floor(MIN_WATCH_TIMEOUT_S * (1 + Math.random()));
    try {
      await this.client.watch(
        this.options.path,
        {
          resourceVersion: this.resourceVersion || undefined,
          allowWatchBookmarks: true,
          timeoutSeconds,
          labelSelector: this.options.labelSelector,
          fieldSelector: this.options.fieldSelector,
        },
        (type, object) => {
          // Connected and delivering: the next failure starts its backoff afresh.
          this.backoff.forget('watch');
          this.onEvent({ type, object } as WatchEvent<T>);
        },
        signal,
        // The server ends the watch at timeoutSeconds; the margin only catches a connection
        // that died without a word.
        (timeoutSeconds + 60) * 1000,
      );
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof KubeApiError) {
        throw new WatchError(err.status, err.reason, `watch: ${err.message}`);
      }
      throw err;
    }
  }

  private onEvent(event: WatchEvent<T>): void {
    if (event.type === 'ERROR') throw WatchError.fromStatus(event.object as WatchStatus);
    const obj = event.object;
    const rv = obj.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
    }
    const key = objectKey(obj);
    if (event.type === 'DELETED') {
      const old = this.store.get(key) ?? this.transform(obj);
      this.store.delete(key);
      for (const h of this.handlers) h.delete?.(old);
    } else {
      this.upsert(key, this.transform(obj));
    }
    // After the handlers ran: a resume must not skip an event they have not seen.
    if (rv) this.resourceVersion = rv;
  }
}

interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** client-go's minWatchTimeout: watches last between this and twice this. */
const MIN_WATCH_TIMEOUT_S = 300;

interface WatchStatus {
  code?: number;
  reason?: string;
  message?: string;
}

/** A watch the server refused or ended with an ERROR event; `code` is the HTTP status. */
export class WatchError extends Error {
  override readonly name = 'WatchError';
  readonly code: number;
  readonly reason: string;

  constructor(code: number, reason: string, message: string) {
    super(message);
    this.code = code;
    this.reason = reason;
  }

  static fromStatus(status: WatchStatus): WatchError {
    return new WatchError(
      status.code ?? 0,
      status.reason ?? '',
      `watch: ${status.message ?? status.reason ?? 'error event'}`,
    );
  }
}

const isForbidden = (err: unknown): boolean =>
  (err instanceof KubeApiError && err.status === 403) ||
  (err instanceof WatchError && err.code === 403);

/** client-go's isExpiredError: 410 Gone, reason Expired or Gone. */
export const isExpired = (err: unknown): boolean =>
  err instanceof WatchError &&
  (err.code === 410 || err.reason === 'Expired' || err.reason === 'Gone');
