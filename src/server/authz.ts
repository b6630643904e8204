// May this user do this: upstream's delegated authorization (k8s.io/apiserver
// DelegatingAuthorizationOptions) for the secure port's non-resource paths. In order: members of
// an always-allowed group (system:masters), always-allowed paths (the health checks, so kubelet
// probes need no credentials), then a SubjectAccessReview with the path and the lower-case HTTP
// method as verb — the same question `kubectl auth can-i get /metrics` asks. The first allow or
// deny decides; no opinion from anyone is a deny.
import type { KubeClient } from '../kube/client.ts';
import type { UserInfo } from './authn.ts';
import { postReview } from './authn.ts';
import { TtlCache } from '../util/ttl-cache.ts';

export interface Attributes {
  user: UserInfo;
  /** Lower-case HTTP method. */
  verb: string;
  path: string;
}

export type Decision = 'allow' | 'deny' | 'no-opinion';

export interface Verdict {
  decision: Decision;
  reason: string;
}

export interface Authorizer {
  authorize(attrs: Attributes): Promise<Verdict>;
}

const NO_OPINION: Verdict = { decision: 'no-opinion', reason: '' };

export class GroupAuthorizer implements Authorizer {
  private readonly groups: ReadonlySet<string>;

  constructor(groups: readonly string[]) {
    this.groups = new Set(groups);
  }

  authorize(attrs: Attributes): Promise<Verdict> {
    const allowed = attrs.user.groups.some((g) => this.groups.has(g));
    return Promise.resolve(allowed ? { decision: 'allow', reason: '' } : NO_OPINION);
  }
}

/** Plain paths match exactly, a trailing * matches a prefix; the leading / is optional. */
export class PathAuthorizer implements Authorizer {
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];

  constructor(paths: readonly string[]) {
    for (const raw of paths) {
      const p = raw.replace(/^\//, '');
      if (p.slice(0, -1).includes('*'))
        throw new Error(`only a trailing * is allowed in ${JSON.stringify(raw)}`);
      if (p.endsWith('*')) this.prefixes.push(p.slice(0, -1));
      else this.exact.add(p);
    }
  }

  authorize(attrs: Attributes): Promise<Verdict> {
    const p = attrs.path.replace(/^\//, '');
    const allowed = this.exact.has(p) || this.prefixes.some((prefix) => p.startsWith(prefix));
    return Promise.resolve(allowed ? { decision: 'allow', reason: '' } : NO_OPINION);
  }
}

interface SubjectAccessReviewStatus {
  allowed?: boolean;
  denied?: boolean;
  reason?: string;
  evaluationError?: string;
}

/**
 * SubjectAccessReview against the apiserver, cached per question (user, groups, extra, verb,
 * path): allowed answers for one TTL, denied and no-opinion answers for another, errors not at
 * all — as upstream's webhook authorizer caches.
 */
export class SubjectAccessReviewAuthorizer implements Authorizer {
  private readonly client: KubeClient;
  private readonly cache: TtlCache<string, Verdict>;

  constructor(client: KubeClient, ttl: { allowedMs: number; deniedMs: number }) {
    this.client = client;
    this.cache = new TtlCache({
      ttlMs: (verdict) => (verdict.decision === 'allow' ? ttl.allowedMs : ttl.deniedMs),
      maxEntries: 8192,
    });
  }

  async authorize(attrs: Attributes): Promise<Verdict> {
    const spec = {
      user: attrs.user.name,
      uid: attrs.user.uid,
      groups: attrs.user.groups,
      extra: attrs.user.extra,
      nonResourceAttributes: { path: attrs.path, verb: attrs.verb },
    };
    return this.cache.get(JSON.stringify(spec), async (): Promise<Verdict> => {
      const review = await postReview<{ status?: SubjectAccessReviewStatus }>(
        this.client,
        '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec },
        'authz',
      );
      const status = review.status ?? {};
      const reason = status.reason ?? '';
      if (status.allowed) return { decision: 'allow', reason };
      return { decision: status.denied ? 'deny' : 'no-opinion', reason };
    });
  }
}

/** The first allow or deny wins; errors surface only if nobody allowed (then a 500, as upstream). */
export async function authorize(
  authorizers: readonly Authorizer[],
  attrs: Attributes,
): Promise<Verdict> {
  const reasons: string[] = [];
  const errors: unknown[] = [];
  for (const a of authorizers) {
    let verdict: Verdict;
    try {
      verdict = await a.authorize(attrs);
    } catch (err) {
      errors.push(err);
      continue;
    }
    if (verdict.decision !== 'no-opinion') return verdict;
    if (verdict.reason !== '') reasons.push(verdict.reason);
  }
  if (errors.length > 0) {
    const messages = errors.map((e) => (e instanceof Error ? e.message : String(e)));
    throw new Error(`authorization failed: ${messages.join('; ')}`);
  }
  return { decision: 'no-opinion', reason: reasons.join('\n') };
}
