// The one Kubernetes API client. kubeconfig.ts supplies configuration loading (kubeconfig or
// in-cluster) and credentials; requests and watches go through this thin layer so that every call shares one QPS/burst limiter (--kube-api-qps/--kube-api-burst,
// as upstream's client-go), one error type carrying the HTTP status, our user agent, client-go's
// rest_client_* metrics and, at -v=6, one trace line per request (never headers or tokens).
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { Agent, fetch, ProxyAgent } from 'undici';
import type { Dispatcher } from 'undici';
import { linked, timeoutSignal } from '../util/abort.ts';
import { traceRequest } from '../log.ts';
import { restClientMetrics } from './metrics.ts';
import { describingConnector } from '../net/tls-connector.ts';
import { describeError } from '../util/errors.ts';
import { Credentials, inClusterConfig, loadKubeconfig } from './kubeconfig.ts';
import type { RestConfig } from './kubeconfig.ts';
import { TokenBucket } from './token-bucket.ts';

export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  readonly status: number;
  readonly reason: string;

  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

/**
 * No answer from the apiserver (refused, reset, name not resolved, certificate not trusted): the
 * message carries the whole cause chain, which fetch's own "fetch failed" leaves out.
 */
export class KubeConnectionError extends Error {
  override readonly name = 'KubeConnectionError';

  constructor(method: string, path: string, cause: unknown) {
    super(`${method} ${path}: ${describeError(cause)}`, { cause });
  }
}

export const isNotFound = (err: unknown): boolean =>
  err instanceof KubeApiError && err.status === 404;
export const isConflict = (err: unknown): boolean =>
  err instanceof KubeApiError && err.status === 409;

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply';

const patchContentTypes: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  patchType?: PatchType;
  signal?: AbortSignal;
}

export interface KubeClientOptions {
  qps: number;
  burst: number;
  userAgent?: string;
  /** The leader's fence (leader-election.ts): no request once leadership is lost. */
  fence?: Fence;
}

/** Checked before every request; its signal aborts every request in flight. */
export interface Fence {
  readonly signal: AbortSignal;
  assertLeading(): void;
}

/** How long a failure stands before readiness reports the apiserver unreachable. */
const UNREACHABLE_AFTER_MS = 10_000;

export class KubeClient {
  readonly config: RestConfig;
  /** Monotonic times of the last answer from the apiserver (any status but 5xx), and of the last failure. */
  private answeredAt = performance.now();
  private failedAt = 0;
  /** Start of the current run of failures (the first failure after the last answer). */
  private failingSince = 0;
  private lastFailure = '';
  private readonly limiter: TokenBucket;
  private readonly userAgent: string;
  private readonly fence: Fence | undefined;
  /**
   * One keep-alive dispatcher per client, as client-go keeps one transport per client (a new TLS
   * connection per request was most of our CPU time in a Node burst); the Authorization header (a
   * rotated service-account token) is still taken per request.
   */
  private readonly dispatcher: Dispatcher;
  private readonly credentials: Credentials;

  constructor(config: RestConfig, options: KubeClientOptions) {
    this.config = config;
    this.credentials = new Credentials(config);
    this.dispatcher = dispatcherFor(config);
    this.fence = options.fence;
    this.limiter = new TokenBucket(options.qps, options.burst);
    this.userAgent = options.userAgent ?? 'oxide-cloud-controller-manager';
  }

  /**
   * For /readyz: a reason when the apiserver has not answered this client for a while and the
   * last request failed (no connection, timeout, 5xx); undefined otherwise.
   */
  unreachable(now = performance.now()): string | undefined {
    if (this.failedAt <= this.answeredAt || now - this.failingSince < UNREACHABLE_AFTER_MS) {
      return undefined;
    }
    return `no answer from the apiserver for ${Math.round((now - this.failingSince) / 1000)}s: ${this.lastFailure}`;
  }

  /** Watches bypass request(): their outcomes are reported here. */
  noteAnswer(): void {
    this.answeredAt = performance.now();
  }

  noteFailure(err: unknown): void {
    if (this.failedAt <= this.answeredAt) this.failingSince = performance.now();
    this.failedAt = performance.now();
    this.lastFailure = describeError(err);
  }

  /** From a kubeconfig file, or the in-cluster service account when file is empty. */
  static load(kubeconfig: string | undefined, options: KubeClientOptions): KubeClient {
    return new KubeClient(kubeconfig ? loadKubeconfig(kubeconfig) : inClusterConfig(), options);
  }

  get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('GET', path, options);
  }

  post<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, { ...options, body });
  }

  put<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('PUT', path, { ...options, body });
  }

  patch<T>(
    path: string,
    patchType: PatchType,
    body: unknown,
    options: RequestOptions = {},
  ): Promise<T> {
    return this.request<T>('PATCH', path, { ...options, body, patchType });
  }

  delete<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('DELETE', path, options);
  }

  request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    // A caller's signal (a controller's shutdown) adds to the per-request timeout, never lifts it.
    const timeout = timeoutSignal(30_000);
    const own = options.signal ? [options.signal, timeout.signal] : [timeout.signal];
    const fenced = this.fence ? [...own, this.fence.signal] : own;
    return linked(fenced, (signal) => this.send<T>(method, path, options, signal)).finally(
      timeout.done,
    );
  }

  private async send<T>(
    method: string,
    path: string,
    options: RequestOptions,
    signal: AbortSignal,
  ): Promise<T> {
    const url = this.url(path, options.query);
    await this.throttle(method, url, signal);
    const headers = this.headers();
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = options.patchType
        ? patchContentTypes[options.patchType]
        : 'application/json';
    }
    this.fence?.assertLeading();
    const started = performance.now();
    let status = 0;
    let text = '';
    let failure: string | undefined;
    try {
      let res;
      try {
        res = await fetch(url, {
          method,
          headers,
          body,
          signal,
          dispatcher: this.dispatcher,
        });
        status = res.status;
        text = await res.text();
      } catch (err) {
        // Our own abort (shutdown, lost leadership) says nothing about the apiserver.
        if (!options.signal?.aborted && !this.fence?.signal.aborted) this.noteFailure(err);
        failure = describeError(err);
        // An abort or the timeout is thrown as it is: callers tell those apart by the reason.
        throw signal.aborted ? err : new KubeConnectionError(method, path, err);
      }
      if (res.status >= 500) this.noteFailure(new Error(`${method} ${path}: ${res.status}`));
      else this.noteAnswer();
      if (!res.ok) {
        let reason = res.statusText;
        let message = `${method} ${path}: ${res.status} ${res.statusText}`;
        try {
          const st = JSON.parse(text) as { reason?: string; message?: string };
          reason = st.reason ?? reason;
          if (st.message) message = `${method} ${path}: ${st.message}`;
        } catch {
          // Not a Status object: keep the HTTP status line.
        }
        throw new KubeApiError(res.status, reason, message);
      }
      return (text ? JSON.parse(text) : undefined) as T;
    } finally {
      this.observe(method, url, status, started, body, status === 0 ? undefined : text, failure);
    }
  }

  /**
   * One watch connection (client-go's Watch): calls onEvent for each event until the server
   * ends the stream (resolves), signal aborts (resolves), or an error or idleMs without data
   * (rejects; a TimeoutError for idleness, as client-node's Watch). A non-200 answer rejects with
   * KubeApiError.
   */
  async watch(
    path: string,
    query: RequestOptions['query'],
    onEvent: (type: string, object: unknown) => void,
    signal: AbortSignal,
    idleMs = 30_000,
  ): Promise<void> {
    const url = this.url(path, { ...query, watch: true });
    await this.throttle('GET', url, signal);
    const headers = this.headers();
    const idle = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const resetIdle = (): void => {
      clearTimeout(timer);
      timer = setTimeout(
        () => idle.abort(new DOMException('watch idle for too long', 'TimeoutError')),
        idleMs,
      );
      timer.unref();
    };
    const started = performance.now();
    let status = 0;
    resetIdle();
    try {
      const res = await fetch(url, {
        method: 'GET',
        headers,
        signal: AbortSignal.any([signal, idle.signal]),
        dispatcher: this.dispatcher,
      });
      status = res.status;
      // client-go observes a watch's latency and result when its response headers arrive.
      this.observe('GET', url, status, started, undefined, undefined);
      if (res.status !== 200) {
        const text = await res.text().catch(() => '');
        let reason = res.statusText;
        try {
          reason = (JSON.parse(text) as { reason?: string }).reason ?? reason;
        } catch {
          // Not a Status object.
        }
        throw new KubeApiError(res.status, reason, `WATCH ${path}: ${res.status} ${reason}`);
      }
      if (!res.body) return;
      const lines = createInterface({ input: Readable.fromWeb(res.body), crlfDelay: Infinity });
      for await (const line of lines) {
        resetIdle();
        if (line === '') continue;
        let event: { type?: string; object?: unknown };
        try {
          event = JSON.parse(line) as { type?: string; object?: unknown };
        } catch {
          continue;
        }
        onEvent(event.type ?? '', event.object);
      }
    } catch (err) {
      if (status === 0) this.observe('GET', url, 0, started, undefined, undefined);
      if (signal.aborted) return;
      if (idle.signal.aborted) throw idle.signal.reason as Error;
      throw status === 0 ? new KubeConnectionError('WATCH', path, err) : err;
    } finally {
      clearTimeout(timer);
    }
  }

  private url(path: string, query: RequestOptions['query']): URL {
    const url = new URL(this.config.server + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    return url;
  }

  /** The shared QPS/burst limiter; the wait is rest_client_rate_limiter_duration_seconds. */
  private async throttle(method: string, url: URL, signal: AbortSignal | undefined): Promise<void> {
    const started = performance.now();
    await this.limiter.take(signal);
    restClientMetrics.rateLimiterDuration.observe(
      { verb: method, host: url.host },
      (performance.now() - started) / 1000,
    );
  }

  /** Authenticated headers with our user agent, for one request. */
  private headers(): Record<string, string> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': this.userAgent,
    };
    const authorization = this.credentials.authorization();
    if (authorization !== undefined) headers['authorization'] = authorization;
    return headers;
  }

  /** client-go's metrics for one request, and its -v=6 trace line. */
  private observe(
    method: string,
    url: URL,
    status: number,
    started: number,
    requestBody: string | undefined,
    responseBody: string | undefined,
    /** Why no answer came (status 0), for the -v=6 line. */
    failure?: string,
  ): void {
    const ms = performance.now() - started;
    const host = url.host;
    restClientMetrics.requests.inc({
      code: status === 0 ? '<error>' : String(status),
      method,
      host,
    });
    restClientMetrics.requestDuration.observe({ verb: method, host }, ms / 1000);
    restClientMetrics.requestSize.observe(
      { verb: method, host },
      requestBody === undefined ? 0 : Buffer.byteLength(requestBody),
    );
    if (responseBody !== undefined)
      restClientMetrics.responseSize.observe(
        { verb: method, host },
        Buffer.byteLength(responseBody),
      );
    traceRequest({
      client: 'kube-client',
      method,
      host,
      path: url.pathname + url.search,
      status,
      milliseconds: ms,
      ...(failure === undefined ? {} : { err: failure }),
    });
  }
}

/**
 * One keep-alive pool with the config's TLS settings, HTTP/2 where the server offers it (undici's
 * default, as client-go's). Its HTTP/2 ping timer is off: in undici 8.13 it can fire after a
 * long-lived session closed and crash the process (TypeError in onHttp2SendPing); a dead
 * connection is caught by request timeouts and the watch deadline instead. undici must be 8.14 or
 * later: 8.13 left an aborted HTTP/2 request whose body was still queued without RST_STREAM, and
 * Node's session then looped on empty DATA frames forever (fixtures/client-h2-abort.child.ts).
 */
function dispatcherFor(config: RestConfig): Dispatcher {
  const tls = {
    ...(config.insecureSkipTLSVerify ? { rejectUnauthorized: false } : {}),
    ...(config.tlsServerName ? { servername: config.tlsServerName } : {}),
    ...(config.ca ? { ca: config.ca } : {}),
    ...(config.cert ? { cert: config.cert } : {}),
    ...(config.key ? { key: config.key } : {}),
  };
  const h2Options = { pingInterval: 0 };
  if (config.proxyUrl !== undefined) {
    return new ProxyAgent({ uri: config.proxyUrl, requestTls: tls, h2Options });
  }
  // A refused apiserver certificate is named in the error (subject, issuer, names).
  return new Agent({ connect: describingConnector(tls), h2Options });
}
