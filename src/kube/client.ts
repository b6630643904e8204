// The one Kubernetes API client. @kubernetes/client-node supplies configuration loading
// (kubeconfig or in-cluster), authentication and typed models; requests go through this thin
// layer so that every call shares one QPS/burst limiter (--kube-api-qps/--kube-api-burst, as
// upstream's client-go) and one error type carrying the HTTP status.
import type { AgentOptions } from 'node:https';
import { bufferFromFileOrString, KubeConfig, RequestContext } from '@kubernetes/client-node';
import type { HttpMethod } from '@kubernetes/client-node';
import { Agent, fetch } from 'undici';
import type { Dispatcher } from 'undici';
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

export const isNotFound = (err: unknown): boolean =>
  err instanceof KubeApiError && err.status === 404;
export const isConflict = (err: unknown): boolean =>
  err instanceof KubeApiError && err.status === 409;
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof KubeApiError && err.status === 409 && err.reason === 'AlreadyExists';

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
}

/** What a request needs from the kubeconfig: its URL, authentication headers, TLS dispatcher. */
export interface Prepared {
  url: URL;
  headers: Record<string, string>;
  dispatcher: Dispatcher | undefined;
}

export class KubeClient {
  readonly config: KubeConfig;
  private readonly limiter: TokenBucket;
  private readonly userAgent: string;
  /**
   * client-node builds a new undici Agent on every applySecurityAuthentication, so using it per
   * request opens a new TLS connection per request (a handshake each: most of our CPU time in a
   * Node burst). One dispatcher per client instead, as client-go keeps one transport per client;
   * headers (a rotated service-account token) are still taken per request.
   */
  private dispatcher: Dispatcher | undefined;
  private dispatcherTaken = false;

  constructor(config: KubeConfig, options: KubeClientOptions) {
    this.config = config;
    this.limiter = new TokenBucket(options.qps, options.burst);
    this.userAgent = options.userAgent ?? 'oxide-cloud-controller-manager';
  }

  /** From a kubeconfig file, or the in-cluster service account when file is empty. */
  static load(kubeconfig: string | undefined, options: KubeClientOptions): KubeClient {
    const kc = new KubeConfig();
    if (kubeconfig) kc.loadFromFile(kubeconfig);
    else kc.loadFromCluster();
    return new KubeClient(kc, options);
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

  /** URL, authentication headers and the shared TLS dispatcher for one request (or watch). */
  async prepare(
    method: string,
    path: string,
    query: Record<string, string | number | boolean | undefined> = {},
  ): Promise<Prepared> {
    const cluster = this.config.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const ctx = new RequestContext(url.toString(), method as HttpMethod);
    await this.config.applySecurityAuthentication(ctx);
    if (!this.dispatcherTaken) {
      this.dispatcher = this.sharedDispatcher(ctx.getDispatcher());
      this.dispatcherTaken = true;
    }
    const headers = ctx.getHeaders() as Record<string, string>;
    headers['accept'] = 'application/json';
    headers['user-agent'] = this.userAgent;
    return { url, headers, dispatcher: this.dispatcher };
  }

  /**
   * One keep-alive pool with the kubeconfig's TLS settings (as applyHTTPSOptions reads them),
   * HTTP/2 where the server offers it (undici's default, as client-go's). Its HTTP/2 ping timer
   * is off: in undici 8.13 it can fire after a long-lived session closed and crash the process
   * (TypeError in onHttp2SendPing); a dead connection is caught by request timeouts and the
   * watch deadline instead. Proxies keep client-node's own dispatcher.
   */
  private sharedDispatcher(fallback: Dispatcher | undefined): Dispatcher | undefined {
    const cluster = this.config.getCurrentCluster();
    const user = this.config.getCurrentUser();
    const tls: AgentOptions = {};
    if (cluster?.skipTLSVerify) tls.rejectUnauthorized = false;
    if (cluster?.tlsServerName) tls.servername = cluster.tlsServerName;
    const ca = bufferFromFileOrString(cluster?.caFile, cluster?.caData);
    if (ca) tls.ca = ca;
    const cert = bufferFromFileOrString(user?.certFile, user?.certData);
    if (cert) tls.cert = cert;
    const key = bufferFromFileOrString(user?.keyFile, user?.keyData);
    if (key) tls.key = key;
    const options = this.config.createDispatcherOptions(cluster, tls);
    const h2Options = { pingInterval: 0 };
    if (options.type === 'agent') return new Agent({ connect: options.connect, h2Options });
    if (options.type === 'none') return new Agent({ h2Options });
    return fallback;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    await this.limiter.take(options.signal);
    const { url, headers, dispatcher } = await this.prepare(method, path, options.query);
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = options.patchType
        ? patchContentTypes[options.patchType]
        : 'application/json';
    }
    const res = await fetch(url, {
      method,
      headers,
      body,
      signal: options.signal ?? AbortSignal.timeout(30_000),
      ...(dispatcher ? { dispatcher } : {}),
    });
    const text = await res.text();
    if (!res.ok) {
      let reason = res.statusText;
      let message = `${method} ${path}: ${res.status} ${res.statusText}`;
      try {
        const status = JSON.parse(text) as { reason?: string; message?: string };
        reason = status.reason ?? reason;
        if (status.message) message = `${method} ${path}: ${status.message}`;
      } catch {
        // Not a Status object: keep the HTTP status line.
      }
      throw new KubeApiError(res.status, reason, message);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }
}
