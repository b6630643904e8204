// The one wrapper over @oxide/api. Every request goes through `call`: a per-attempt timeout,
// retries for transient failures only, one metric sample per attempt, and typed errors from
// errors.ts. The client is the transport only: each Oxide resource's calls are free functions
// taking the client, one file per resource (instances.ts, floating-ips.ts, vpcs.ts, ...), named
// after the operation and passing its OpenAPI operationId to `call`/`listAll`. A client is scoped
// to one project (the calls that take a project selector use `client.project`); `forProject`
// gives another project's client on the same transport (SDK, TLS pool, retry budget, fence,
// readiness), so a cluster spanning projects has one connection pool and one health.
import type { Api, ApiResult } from '@oxide/api';
import { linked, timeoutSignal } from '../util/abort.ts';
import { oxideMetrics } from './metrics.ts';
import { errorFromResult, errorFromThrown } from './errors.ts';
import type { OxideError } from './errors.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, listAll } from './paginate.ts';
import type { Page } from './paginate.ts';
import { DEFAULT_RETRY, RetryBudget, withRetry } from './retry.ts';
import type { RetryOptions } from './retry.ts';
import { API_VERSION } from './api-version.ts';
import { tlsDispatcher } from './tls.ts';
import { TracedApi } from './traced-api.ts';
import type { TlsDispatcher } from './tls.ts';

export interface OxideClientOptions {
  /** Base URL of the rack's API, e.g. https://oxide.example.com. */
  host: string;
  token: string;
  /** The project (name or id) that holds the cluster's instances. */
  project: string;
  /** Per attempt; default 10 s. */
  timeoutMs?: number;
  /** Retries after the first attempt for transient failures; default 3. */
  maxRetries?: number;
  /** PEM CA bundle for a privately signed API certificate. */
  ca?: string;
  caCertPath?: string;
  /** Items per list request; default 1000, at most 10000 (the server's clamp). */
  pageSize?: number;
  /** Backoff tuning (tests shorten it). */
  retry?: Partial<Omit<RetryOptions, 'maxRetries' | 'signal' | 'budget'>>;
  /** The leader's fence (leader-election.ts): no request once leadership is lost. */
  fence?: Fence;
}

/** Checked before every attempt; its signal aborts every request and retry wait in flight. */
export interface Fence {
  readonly signal: AbortSignal;
  assertLeading(): void;
}

/** What an SDK call gets from `call`: spread it into the method's second argument. */
export interface RequestParams {
  signal: AbortSignal;
}

export type ApiCall<T> = (api: Api, params: RequestParams) => Promise<ApiResult<T>>;
export type PageCall<T> = (
  api: Api,
  pageToken: string | undefined,
  limit: number,
  params: RequestParams,
) => Promise<ApiResult<Page<T>>>;

export const DEFAULT_TIMEOUT_MS = 10_000;
/** How long failures must last before readiness reports the Oxide API unreachable. */
const UNREACHABLE_AFTER_MS = 30_000;

/** Monotonic times of the last usable answer and of failures, shared by every project's client. */
class Health {
  answeredAt = performance.now();
  failedAt = 0;
  /** Start of the current run of failures (the first failure after the last answer). */
  failingSince = 0;
  lastFailure = '';
}

export class OxideClient {
  readonly project: string;
  readonly pageSize: number;
  readonly timeoutMs: number;
  private readonly api: Api;
  private readonly token: string;
  private readonly retry: RetryOptions;
  /** One for the whole client: nested and concurrent calls cannot stack retries. */
  private readonly retryBudget: RetryBudget;
  private readonly tls: TlsDispatcher;
  private readonly fence: Fence | undefined;
  private readonly health: Health;
  /** Whether this client made the transport (and so closes it); false for forProject's. */
  private readonly ownsTransport: boolean;
  private readonly scoped = new Map<string, OxideClient>();

  /** `transportOf`: internal, for forProject (share that client's transport). */
  constructor(options: OxideClientOptions, transportOf?: OxideClient) {
    this.project = options.project;
    if (transportOf) {
      this.token = transportOf.token;
      this.timeoutMs = transportOf.timeoutMs;
      this.pageSize = transportOf.pageSize;
      this.retry = transportOf.retry;
      this.retryBudget = transportOf.retryBudget;
      this.fence = transportOf.fence;
      this.tls = transportOf.tls;
      this.api = transportOf.api;
      this.health = transportOf.health;
      this.ownsTransport = false;
      return;
    }
    this.ownsTransport = true;
    this.health = new Health();
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.pageSize = Math.min(MAX_PAGE_SIZE, Math.max(1, options.pageSize ?? DEFAULT_PAGE_SIZE));
    this.retry = {
      ...DEFAULT_RETRY,
      ...options.retry,
      maxRetries: options.maxRetries ?? DEFAULT_RETRY.maxRetries,
    };
    this.retryBudget = new RetryBudget();
    this.fence = options.fence;
    this.tls = tlsDispatcher({ ca: options.ca, caCertPath: options.caCertPath });
    // The SDK's own api-version is the newest document it was generated from; baseParams
    // headers replace it on every request (api-version.ts says why we send an older one).
    this.api = new TracedApi({
      host: options.host.replace(/\/+$/, ''),
      token: options.token,
      baseParams: {
        headers: { 'api-version': API_VERSION },
        ...({ dispatcher: this.tls.dispatcher } as object),
      },
    });
    this.api.apiVersion = API_VERSION;
  }

  /**
   * The client of another project on this client's transport (one per project, kept: a handful
   * of configured projects).
   */
  forProject(project: string): OxideClient {
    if (project === this.project) return this;
    let client = this.scoped.get(project);
    if (!client) {
      client = new OxideClient({ host: '', token: '', project }, this);
      this.scoped.set(project, client);
    }
    return client;
  }

  /**
   * For /readyz: a reason when every request for a while has failed for want of a usable answer
   * (no connection, timeout, 5xx, token rejected); undefined while the API answers.
   */
  unreachable(now = performance.now()): string | undefined {
    const h = this.health;
    if (h.failedAt <= h.answeredAt || now - h.failingSince < UNREACHABLE_AFTER_MS) {
      return undefined;
    }
    return `no usable answer from the Oxide API for ${Math.round((now - h.failingSince) / 1000)}s: ${h.lastFailure}`;
  }

  /** The API version this build sends in the `api-version` header. */
  get apiVersion(): string {
    return this.api.apiVersion;
  }

  /**
   * Runs one SDK call with timeout, retries and metrics; returns its data or throws OxideError.
   * `operation` is the OpenAPI operationId (e.g. `instance_view`), used as metric label and
   * error prefix.
   */
  call<T>(operation: string, fn: ApiCall<T>, signal?: AbortSignal): Promise<T> {
    const run = (s: AbortSignal | undefined): Promise<T> =>
      withRetry(() => this.attempt(operation, fn, s), {
        ...this.retry,
        signal: s,
        budget: this.retryBudget,
      });
    if (!this.fence) return run(signal);
    // Listens on the process-lifetime fence only while the call runs (see linked()).
    return linked(signal ? [signal, this.fence.signal] : [this.fence.signal], run);
  }

  /**
   * Every item of a paginated list, each page fetched through `call`. `boundedCollection`: the
   * collection has a small hard size limit, so a short page ends the scan (see paginate.ts).
   */
  listAll<T>(
    operation: string,
    fn: PageCall<T>,
    signal?: AbortSignal,
    options: { boundedCollection?: boolean } = {},
  ): Promise<T[]> {
    return listAll(
      (pageToken) =>
        this.call(operation, (api, params) => fn(api, pageToken, this.pageSize, params), signal),
      options.boundedCollection ? { shortPageEnds: this.pageSize } : {},
    );
  }

  private async attempt<T>(operation: string, fn: ApiCall<T>, outer?: AbortSignal): Promise<T> {
    this.fence?.assertLeading();
    const timeout = timeoutSignal(this.timeoutMs);
    const signal = outer ? AbortSignal.any([outer, timeout.signal]) : timeout.signal;
    const started = performance.now();
    let status = 0;
    try {
      const result = await fn(this.api, { signal });
      status = result.response.status;
      if (result.type === 'success') {
        this.health.answeredAt = performance.now();
        return result.data;
      }
      const error = errorFromResult(operation, result, this.token);
      this.note(error);
      throw error;
    } catch (err) {
      if (outer?.aborted) throw outer.reason;
      const error = errorFromThrown(
        operation,
        err,
        timeout.signal.aborted,
        this.timeoutMs,
        this.token,
      );
      this.note(error);
      throw error;
    } finally {
      timeout.done();
      oxideMetrics.requests.inc({ operation, status: String(status) });
      oxideMetrics.duration.observe({ operation }, (performance.now() - started) / 1000);
    }
  }

  private note(err: OxideError): void {
    const h = this.health;
    if (
      err.kind === 'unavailable' ||
      err.kind === 'auth' ||
      (err.kind === 'retryable' && err.status !== 429)
    ) {
      if (h.failedAt <= h.answeredAt) h.failingSince = performance.now();
      h.failedAt = performance.now();
      h.lastFailure = err.message;
    } else {
      h.answeredAt = performance.now();
    }
  }

  /** Releases the connection pool (the transport's maker only: forProject's share it). */
  async close(): Promise<void> {
    if (this.ownsTransport) await this.tls.close();
  }
}
