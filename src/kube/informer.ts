// List+watch cache for one resource, like client-go's shared informer, on KubeClient's list and
// watch (so watches share the user agent, metrics and request traces of every other call). We
// keep our own loop because client-node's informer stops for good on some watch errors: here
// every end of a watch resumes from the last resourceVersion, and a 410 Gone (or any list error)
// relists with backoff.
import { KubeApiError } from './client.ts';
import type { KubeClient } from './client.ts';
import { ExponentialBackoff } from './workqueue.ts';

export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
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

const isForbidden = (err: unknown): boolean => err instanceof KubeApiError && err.status === 403;

export const objectKey = (obj: KubeObject): string => {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
};

export interface InformerOptions {
  /** Collection path, e.g. /api/v1/nodes. */
  path: string;
  /** Server-side filters. */
  labelSelector?: string;
  fieldSelector?: string;
  /** Server-side watch timeout; below client-node's 30 s idle abort. Default 25. */
  watchTimeoutSeconds?: number;
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
  private readonly options: InformerOptions;
  private readonly store = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly backoff = new ExponentialBackoff(200, 30_000);
  private resourceVersion = '';
  private synced = false;
  /** Listing was refused (403) since the last successful list; see optionalWhenForbidden. */
  private forbidden = false;
  private readonly syncWaiters: (() => void)[] = [];

  constructor(client: KubeClient, options: InformerOptions) {
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

  /** Resolves once the first list has been delivered to the handlers. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.syncWaiters.push(resolve);
      signal?.addEventListener('abort', () => reject(signal.reason as Error));
    });
  }

  /** Runs until signal aborts; never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        if (!this.resourceVersion) await this.relist(signal);
        const gone = await this.watchOnce(signal);
        if (gone) this.resourceVersion = '';
        this.backoff.forget('watch');
      } catch (err) {
        if (signal.aborted) break;
        if (this.options.optionalWhenForbidden && isForbidden(err)) {
          if (!this.forbidden) this.options.onForbidden?.(err);
          this.forbidden = true;
          this.markSynced();
        } else this.options.onError?.(err);
        this.resourceVersion = '';
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
      items.push(...page.items);
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
    for (const w of this.syncWaiters.splice(0)) w();
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

  /** One watch connection; resolves true when the resourceVersion is too old (410). */
  private async watchOnce(signal: AbortSignal): Promise<boolean> {
    let gone = false;
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.client.watch(
        this.options.path,
        {
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          // Below the client's 30 s idle abort, so the server ends quiet watches cleanly.
          timeoutSeconds: this.options.watchTimeoutSeconds ?? 25,
          labelSelector: this.options.labelSelector,
          fieldSelector: this.options.fieldSelector,
        },
        (phase, object) => {
          if (stop.signal.aborted) return;
          if (phase === 'ERROR') {
            // 410 Gone is the usual case; any other watch error also means our position in
            // the stream is unknown, so relist rather than resume.
            gone = true;
            stop.abort();
            return;
          }
          const obj = object as T;
          const rv = obj.metadata?.resourceVersion;
          if (rv) this.resourceVersion = rv;
          if (phase === 'BOOKMARK') return;
          const key = objectKey(obj);
          if (phase === 'DELETED') {
            const old = this.store.get(key) ?? obj;
            this.store.delete(key);
            for (const h of this.handlers) h.delete?.(old);
          } else {
            this.upsert(key, obj);
          }
        },
        stop.signal,
      );
    } catch (err) {
      if (!(gone || signal.aborted || isTimeout(err))) throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    return gone;
  }
}

const isTimeout = (err: unknown): boolean =>
  err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
