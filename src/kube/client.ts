// The one Kubernetes API client. @kubernetes/client-node supplies configuration loading
// (kubeconfig or in-cluster), authentication and typed models; requests go through this thin
// layer so that every call shares one QPS/burst limiter (--kube-api-qps/--kube-api-burst, as
// upstream's client-go) and one error type carrying the HTTP status.
import { KubeConfig, RequestContext } from '@kubernetes/client-node';
import type { HttpMethod } from '@kubernetes/client-node';
import { fetch } from 'undici';
import type { Dispatcher } from 'undici';
import { linked } from '../abort.ts';
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
  readonly config: KubeConfig;
  /** Monotonic times of the last answer from the apiserver (any status but 5xx), and of the last failure. */
  private answeredAt = performance.now();
  private failedAt = 0;
  /** Start of the current run of failures (the first failure after the last answer). */
  private failingSince = 0;
  private lastFailure = '';
  private readonly limiter: TokenBucket;
  private readonly userAgent: string;
  private readonly fence: Fence | undefined;

  constructor(config: KubeConfig, options: KubeClientOptions) {
    this.config = config;
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
    this.lastFailure = err instanceof Error ? err.message : String(err);
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

  request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const own = options.signal ?? AbortSignal.timeout(30_000);
    if (!this.fence) return this.send<T>(method, path, options, own);
    return linked([own, this.fence.signal], (signal) =>
      this.send<T>(method, path, options, signal),
    );
  }

  private async send<T>(
    method: string,
    path: string,
    options: RequestOptions,
    signal: AbortSignal,
  ): Promise<T> {
    await this.limiter.take(signal);
    const cluster = this.config.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const ctx = new RequestContext(url.toString(), method as HttpMethod);
    await this.config.applySecurityAuthentication(ctx);
    const headers = ctx.getHeaders() as Record<string, string>;
    headers['accept'] = 'application/json';
    headers['user-agent'] = this.userAgent;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = options.patchType
        ? patchContentTypes[options.patchType]
        : 'application/json';
    }
    const dispatcher: Dispatcher | undefined = ctx.getDispatcher();
    this.fence?.assertLeading();
    let res;
    let text;
    try {
      res = await fetch(url, {
        method,
        headers,
        body,
        signal,
        ...(dispatcher ? { dispatcher } : {}),
      });
      text = await res.text();
    } catch (err) {
      // Our own abort (shutdown, lost leadership) says nothing about the apiserver.
      if (!options.signal?.aborted && !this.fence?.signal.aborted) this.noteFailure(err);
      throw err;
    }
    if (res.status >= 500) this.noteFailure(new Error(`${method} ${path}: ${res.status}`));
    else this.noteAnswer();
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
