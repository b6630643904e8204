// Who is asking: upstream's delegated authentication (k8s.io/apiserver authenticatorfactory) for
// the secure port. Authenticators run in upstream's order — request header (a front proxy's
// client certificate vouching for X-Remote-User), client certificate, bearer token checked with a
// TokenReview — and the first to recognize the request wins. If one fails (a certificate from an
// unknown CA, a token the apiserver rejects) and none succeeds, the request is unauthenticated
// (401); if none has an opinion (no credentials at all), it is anonymous, and authorization
// decides what system:anonymous may see (the health paths, by default).
import { createHash } from 'node:crypto';
import type { KubeClient } from '../kube/client.ts';
import { KubeApiError } from '../kube/client.ts';
import { delegatedMetrics, observeReview } from './delegated-metrics.ts';
import { TtlCache } from '../util/ttl-cache.ts';
import { subjectNames } from './client-certs.ts';
import type { PeerCertificate } from './client-certs.ts';

export interface UserInfo {
  name: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
}

export const ALL_AUTHENTICATED = 'system:authenticated';
export const ALL_UNAUTHENTICATED = 'system:unauthenticated';
export const ANONYMOUS: Readonly<UserInfo> = Object.freeze({
  name: 'system:anonymous',
  uid: '',
  groups: [ALL_UNAUTHENTICATED],
  extra: {},
});

/** What the authenticators see of a request. */
export interface AuthRequest {
  /** Lower-case names, every value of repeated headers (IncomingMessage.headersDistinct). */
  headers: Record<string, string[] | undefined>;
  /** The client certificate (TLS only), with the TLS layer's verdict per CA bundle. */
  peer?: PeerCertificate;
}

/**
 * One authenticator's answer: no opinion (undefined), a user, or why the credential failed;
 * unavailable marks a failure to ask the apiserver (operators must hear of it), not a bad credential.
 */
export type AuthOutcome = { user: UserInfo } | AuthFailure | undefined;
export interface AuthFailure {
  error: string;
  unavailable?: boolean;
}

export interface Authenticator {
  authenticate(req: AuthRequest): Promise<AuthOutcome>;
}

/** Union, then system:authenticated added, then anonymous when nobody had an opinion. */
export async function authenticate(
  authenticators: readonly Authenticator[],
  req: AuthRequest,
): Promise<{ user: UserInfo } | AuthFailure> {
  const errors: string[] = [];
  let unavailable = false;
  for (const a of authenticators) {
    const outcome = await a.authenticate(req);
    if (outcome === undefined) continue;
    if ('error' in outcome) {
      errors.push(outcome.error);
      unavailable ||= outcome.unavailable === true;
      continue;
    }
    const { user } = outcome;
    const marked = user.groups.some((g) => g === ALL_AUTHENTICATED || g === ALL_UNAUTHENTICATED);
    if (user.name === ANONYMOUS.name || marked) return { user };
    return { user: { ...user, groups: [...user.groups, ALL_AUTHENTICATED] } };
  }
  if (errors.length > 0) return { error: errors.join('; '), unavailable };
  return { user: { ...ANONYMOUS, groups: [...ANONYMOUS.groups] } };
}

/** Certificates from the client CA bundle: user = CN, groups = O (upstream's CommonNameUserConversion). */
export class ClientCertAuthenticator implements Authenticator {
  private readonly configured: () => boolean;

  /** configured is asked per request: the bundle may come and go (ConfigMap updates). */
  constructor(configured: () => boolean) {
    this.configured = configured;
  }

  authenticate(req: AuthRequest): Promise<AuthOutcome> {
    if (!req.peer || !this.configured()) return Promise.resolve(undefined);
    const why = req.peer.untrusted('clientCa');
    if (why !== undefined)
      return Promise.resolve({ error: `verifying client certificate failed: ${why}` });
    const { commonName, organizations } = subjectNames(req.peer.leaf);
    if (commonName === '')
      return Promise.resolve({ error: 'client certificate has no common name' });
    return Promise.resolve({
      user: { name: commonName, uid: '', groups: organizations, extra: {} },
    });
  }
}

/** Set while a request-header CA bundle is configured. */
export interface RequestHeaderConfig {
  /** Empty: any certificate the roots validate may vouch. */
  allowedNames: readonly string[];
  usernameHeaders: readonly string[];
  uidHeaders: readonly string[];
  groupHeaders: readonly string[];
  extraHeaderPrefixes: readonly string[];
}

/** Go's Header.Get per name, in order: the first value of the first header that has one. */
function firstValue(req: AuthRequest, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = req.headers[name.trim().toLowerCase()]?.[0];
    if (value) return value;
  }
  return undefined;
}

function unescapeExtraKey(key: string): string {
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}

/**
 * A front proxy (e.g. the aggregator) authenticates with a client certificate from the
 * request-header CA and names the user in headers; only then are the headers believed.
 */
export class RequestHeaderAuthenticator implements Authenticator {
  private readonly config: () => RequestHeaderConfig | undefined;

  constructor(config: () => RequestHeaderConfig | undefined) {
    this.config = config;
  }

  authenticate(req: AuthRequest): Promise<AuthOutcome> {
    const config = this.config();
    if (!req.peer || !config) return Promise.resolve(undefined);
    const why = req.peer.untrusted('requestHeader');
    if (why !== undefined)
      return Promise.resolve({
        error: `verifying request-header client certificate failed: ${why}`,
      });
    const cn = subjectNames(req.peer.leaf).commonName;
    if (config.allowedNames.length > 0 && !config.allowedNames.includes(cn))
      return Promise.resolve({
        error: `client certificate "${cn}" is not an allowed request-header proxy`,
      });
    const name = firstValue(req, config.usernameHeaders);
    if (name === undefined) return Promise.resolve(undefined);
    const groups: string[] = [];
    for (const header of config.groupHeaders)
      for (const v of req.headers[header.trim().toLowerCase()] ?? []) if (v !== '') groups.push(v);
    const extra: Record<string, string[]> = {};
    for (const prefix of config.extraHeaderPrefixes) {
      const p = prefix.trim().toLowerCase();
      if (p === '') continue;
      for (const [header, values] of Object.entries(req.headers)) {
        if (!header.startsWith(p) || header.length === p.length || !values) continue;
        const key = unescapeExtraKey(header.slice(p.length));
        (extra[key] ??= []).push(...values);
      }
    }
    return Promise.resolve({
      user: { name, uid: firstValue(req, config.uidHeaders) ?? '', groups, extra },
    });
  }
}

interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
}

type TokenAnswer = { user: UserInfo } | { error: string };

/** Upstream's webhook retry backoff: 500 ms × 1.5, five tries, on transient failures only. */
export const REVIEW_RETRY = { attempts: 5, initialMs: 500, factor: 1.5 } as const;
/** Upstream's ClientTimeout for TokenReview and SubjectAccessReview requests. */
export const REVIEW_TIMEOUT_MS = 10_000;

function transient(err: unknown): boolean {
  if (!(err instanceof KubeApiError)) return true;
  return err.status === 429 || err.status >= 500;
}

/** POST one review, retrying transient failures; the metric records each attempt's code. */
export async function postReview<T>(
  client: KubeClient,
  path: string,
  body: unknown,
  metric: 'authn' | 'authz',
): Promise<T> {
  let delay: number = REVIEW_RETRY.initialMs;
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    try {
      const result = await client.post<T>(path, body, {
        signal: AbortSignal.timeout(REVIEW_TIMEOUT_MS),
      });
      observeReview(metric, '201', started);
      return result;
    } catch (err) {
      observeReview(metric, err instanceof KubeApiError ? String(err.status) : '<error>', started);
      if (attempt >= REVIEW_RETRY.attempts || !transient(err)) throw err;
    }
    const jittered = delay * (1 + Math.random() * 0.2);
    await new Promise((resolve) => setTimeout(resolve, jittered));
    delay *= REVIEW_RETRY.factor;
  }
}

/**
 * Bearer tokens, checked with a TokenReview against the apiserver. Answers (recognized or not)
 * are cached for the TTL under a hash of the token, so a scraper's token costs one review per
 * TTL, not one per scrape; failures to reach the apiserver are not cached.
 */
export class TokenReviewAuthenticator implements Authenticator {
  private readonly client: KubeClient;
  // As upstream's token cache: bounded, so a stream of distinct junk tokens cannot grow memory.
  private readonly cache: TtlCache<string, TokenAnswer>;

  constructor(client: KubeClient, ttlMs: number) {
    this.client = client;
    this.cache = new TtlCache({
      ttlMs,
      maxEntries: 4096,
      onLookup: (status) => delegatedMetrics.tokenCacheRequests.inc({ status }),
    });
  }

  async authenticate(req: AuthRequest): Promise<AuthOutcome> {
    const header = req.headers['authorization']?.[0]?.trim();
    if (!header) return undefined;
    const parts = header.split(' ');
    if (parts.length < 2 || parts[0]?.toLowerCase() !== 'bearer') return undefined;
    const token = parts[1] ?? '';
    if (token === '') return undefined;
    const key = createHash('sha256').update(token).digest('hex');
    try {
      return await this.cache.get(key, () => this.review(token));
    } catch (err) {
      return {
        error: `TokenReview failed: ${err instanceof Error ? err.message : String(err)}`,
        unavailable: true,
      };
    }
  }

  private async review(token: string): Promise<TokenAnswer> {
    const review = await postReview<{ status?: TokenReviewStatus }>(
      this.client,
      '/apis/authentication.k8s.io/v1/tokenreviews',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      'authn',
    );
    const status = review.status ?? {};
    if (!status.authenticated || !status.user?.username)
      // The apiserver's reason (e.g. "token has expired") is safe: it never echoes the token.
      return { error: `invalid bearer token${status.error ? `: ${status.error}` : ''}` };
    return {
      user: {
        name: status.user.username,
        uid: status.user.uid ?? '',
        groups: status.user.groups ?? [],
        extra: status.user.extra ?? {},
      },
    };
  }
}
