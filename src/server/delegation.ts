// The secure port's gate: authenticate, then authorize, each request before it reaches a
// handler, the way k8s.io/cloud-provider's app configures k8s.io/apiserver's delegating
// authentication and authorization. Missing CA settings are looked up, and then watched, in the
// kube-system/extension-apiserver-authentication ConfigMap that every kube-apiserver publishes
// (unless --authentication-skip-lookup); a failed lookup stops the start unless
// --authentication-tolerate-lookup-failure.
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { X509Certificate } from 'node:crypto';
import type { KubeClient } from '../kube/client.ts';
import { KubeApiError, isNotFound } from '../kube/client.ts';
import { Informer } from '../kube/informer.ts';
import type { Logger } from '../log.ts';
import {
  ClientCertAuthenticator,
  RequestHeaderAuthenticator,
  TokenReviewAuthenticator,
  authenticate,
} from './authn.ts';
import type { Authenticator, RequestHeaderConfig } from './authn.ts';
import {
  GroupAuthorizer,
  PathAuthorizer,
  SubjectAccessReviewAuthorizer,
  authorize,
} from './authz.ts';
import type { Authorizer } from './authz.ts';
import { ClientCertificates, parseBundle } from './client-certs.ts';

export const AUTHENTICATION_CONFIGMAP_NAMESPACE = 'kube-system';
export const AUTHENTICATION_CONFIGMAP_NAME = 'extension-apiserver-authentication';
const READER_ROLE = 'extension-apiserver-authentication-reader';

export interface RequestHeaderOptions {
  /** PEM file; empty: from the ConfigMap (with the header names found there). */
  clientCaFile: string;
  allowedNames: string[];
  usernameHeaders: string[];
  uidHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

export interface DelegationOptions {
  /** TokenReview and the ConfigMap lookup. Undefined: tokens are not recognized, nothing is looked up. */
  authenticationClient: KubeClient | undefined;
  /** SubjectAccessReview. Undefined: only always-allowed groups and paths get through. */
  authorizationClient: KubeClient | undefined;
  tokenCacheTtlMs: number;
  skipLookup: boolean;
  tolerateLookupFailure: boolean;
  /** PEM file; empty: from the ConfigMap. */
  clientCaFile: string;
  requestHeader: RequestHeaderOptions;
  alwaysAllowPaths: string[];
  alwaysAllowGroups: string[];
  authorizedTtlMs: number;
  unauthorizedTtlMs: number;
  log: Logger;
}

/** Why a request is turned away; the server writes it as a Kubernetes Status. */
export interface Refusal {
  code: 401 | 403 | 500;
  reason: 'Unauthorized' | 'Forbidden' | 'InternalError';
  message: string;
  /** The connection's TLS verification is out of date: end it after this answer. */
  closeConnection?: boolean;
}

/** What the server asks of its gate. */
export interface RequestGuard {
  /** Undefined: serve the request; else refuse it so. path is the one the handler will route. */
  check(req: IncomingMessage, path: string): Promise<Refusal | undefined>;
  close(): Promise<void>;
  /** The CA bundles client certificates are verified against by the TLS layer, if any. */
  readonly clientCertificates?: ClientCertificates;
}

interface ConfigMap {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  data?: Record<string, string>;
}

function jsonList(data: Record<string, string>, key: string): string[] {
  const text = data[key];
  if (text === undefined || text.trim() === '') return [];
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    throw new Error(`${key} is not a JSON list of strings`);
  return value as string[];
}

function readPem(file: string, flag: string): { pem: string; roots: X509Certificate[] } {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${flag}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return { pem, roots: parseBundle(pem, `${flag} ${file}`) };
}

export class Delegation implements RequestGuard {
  private readonly options: DelegationOptions;
  private readonly log: Logger;
  private readonly authenticators: Authenticator[] = [];
  private readonly authorizers: Authorizer[] = [];
  private clientCa: { pem: string; roots: X509Certificate[] } | undefined;
  private requestHeader:
    (RequestHeaderConfig & { pem: string; roots: X509Certificate[] }) | undefined;
  readonly clientCertificates = new ClientCertificates();
  private readonly stop = new AbortController();
  private watching: Promise<void> | undefined;

  private constructor(options: DelegationOptions) {
    this.options = options;
    this.log = options.log;
  }

  /** Loads the CA files, looks up the ConfigMap and starts watching it; throws what stops the start. */
  static async start(options: DelegationOptions): Promise<Delegation> {
    const d = new Delegation(options);
    await d.init();
    return d;
  }

  private async init(): Promise<void> {
    const o = this.options;
    // Authorizers first: a bad path list must fail before anything is started.
    if (o.alwaysAllowGroups.length > 0)
      this.authorizers.push(new GroupAuthorizer(o.alwaysAllowGroups));
    if (o.alwaysAllowPaths.length > 0)
      this.authorizers.push(new PathAuthorizer(o.alwaysAllowPaths));
    if (o.authorizationClient)
      this.authorizers.push(
        new SubjectAccessReviewAuthorizer(o.authorizationClient, {
          allowedMs: o.authorizedTtlMs,
          deniedMs: o.unauthorizedTtlMs,
        }),
      );
    else
      this.log.warn(
        'no authorization kubeconfig: requests other than always-allowed paths and groups are forbidden',
      );

    if (o.clientCaFile !== '') this.clientCa = readPem(o.clientCaFile, '--client-ca-file');
    const rh = o.requestHeader;
    if (rh.clientCaFile !== '') {
      const { pem, roots } = readPem(rh.clientCaFile, '--requestheader-client-ca-file');
      this.requestHeader = {
        pem,
        roots,
        allowedNames: rh.allowedNames,
        usernameHeaders: rh.usernameHeaders,
        uidHeaders: rh.uidHeaders,
        groupHeaders: rh.groupHeaders,
        extraHeaderPrefixes: rh.extraHeaderPrefixes,
      };
    }
    const lookup = o.clientCaFile === '' || rh.clientCaFile === '';
    if (lookup && !o.skipLookup) {
      if (!o.authenticationClient)
        this.log.warn(
          `no authentication kubeconfig to look up configmap/${AUTHENTICATION_CONFIGMAP_NAME} in ${AUTHENTICATION_CONFIGMAP_NAMESPACE}: client certificate and request-header authentication won't work`,
        );
      else await this.lookup(o.authenticationClient);
    }

    this.trustCas();
    this.authenticators.push(new RequestHeaderAuthenticator(() => this.requestHeader));
    this.authenticators.push(
      new ClientCertAuthenticator(() => this.clientCertificates.configured('clientCa')),
    );
    if (o.authenticationClient)
      this.authenticators.push(
        new TokenReviewAuthenticator(o.authenticationClient, o.tokenCacheTtlMs),
      );
    else this.log.warn('no authentication kubeconfig: bearer tokens are not recognized');
  }

  private async lookup(client: KubeClient): Promise<void> {
    const ns = AUTHENTICATION_CONFIGMAP_NAMESPACE;
    const name = AUTHENTICATION_CONFIGMAP_NAME;
    try {
      const cm = await client.get<ConfigMap>(`/api/v1/namespaces/${ns}/configmaps/${name}`, {
        signal: AbortSignal.timeout(10_000),
      });
      this.apply(cm.data ?? {});
    } catch (err) {
      if (!isNotFound(err)) {
        const hint =
          err instanceof KubeApiError && err.status === 403
            ? ` (usually fixed by 'kubectl create rolebinding -n ${ns} ROLEBINDING_NAME --role=${READER_ROLE} --serviceaccount=YOUR_NS:YOUR_SA')`
            : '';
        const message = `unable to look up configmap/${name} in ${ns}: ${err instanceof Error ? err.message : String(err)}${hint}`;
        if (!this.options.tolerateLookupFailure) throw new Error(message, { cause: err });
        this.log.warn(
          `${message}; continuing without it (--authentication-tolerate-lookup-failure): client certificates may not be recognized until the lookup succeeds`,
        );
      }
    }
    // Keep following it: the apiserver rewrites it when its CAs rotate.
    const informer = new Informer<ConfigMap>(client, {
      path: `/api/v1/namespaces/${ns}/configmaps`,
      fieldSelector: `metadata.name=${name}`,
      onError: (e) =>
        this.log.debug({ err: String(e) }, `watching configmap/${name} in ${ns} failed; retrying`),
    });
    informer.addHandlers({
      add: (cm) => this.apply(cm.data ?? {}),
      update: (_, cm) => this.apply(cm.data ?? {}),
      delete: () => this.apply({}),
    });
    this.watching = informer.run(this.stop.signal);
  }

  /** Takes what the flags did not set from the ConfigMap's data; a bad value keeps the old one. */
  private apply(data: Record<string, string>): void {
    const before = this.cas();
    const name = `configmap/${AUTHENTICATION_CONFIGMAP_NAME}`;
    try {
      if (this.options.clientCaFile === '') {
        const pem = data['client-ca-file'] ?? '';
        this.clientCa =
          pem.trim() === ''
            ? undefined
            : { pem, roots: parseBundle(pem, `${name} client-ca-file`) };
      }
      if (this.options.requestHeader.clientCaFile === '') {
        const pem = data['requestheader-client-ca-file'] ?? '';
        this.requestHeader =
          pem.trim() === ''
            ? undefined
            : {
                pem,
                roots: parseBundle(pem, `${name} requestheader-client-ca-file`),
                allowedNames: jsonList(data, 'requestheader-allowed-names'),
                usernameHeaders: jsonList(data, 'requestheader-username-headers'),
                uidHeaders: jsonList(data, 'requestheader-uid-headers'),
                groupHeaders: jsonList(data, 'requestheader-group-headers'),
                extraHeaderPrefixes: jsonList(data, 'requestheader-extra-headers-prefix'),
              };
      }
    } catch (err) {
      this.log.error({ err: String(err) }, `ignoring an unusable ${name}`);
      // The TLS layer trusts exactly what the authenticators believe configured.
      this.trustCas();
      return;
    }
    this.trustCas();
    if (this.cas() !== before)
      this.log.info(
        {
          clientCA: this.clientCa !== undefined,
          requestHeaderCA: this.requestHeader !== undefined,
        },
        'client certificate authorities changed',
      );
  }

  /** The TLS layer verifies against what the flags and the ConfigMap give. */
  private trustCas(): void {
    this.clientCertificates.set('clientCa', this.clientCa?.roots ?? []);
    this.clientCertificates.set('requestHeader', this.requestHeader?.roots ?? []);
  }

  private cas(): string {
    return `${this.clientCa?.pem ?? ''}\n${this.requestHeader?.pem ?? ''}`;
  }

  async check(req: IncomingMessage, path: string): Promise<Refusal | undefined> {
    const peer = this.clientCertificates.peer(req.socket);
    const who = await authenticate(this.authenticators, {
      headers: req.headersDistinct,
      ...(peer ? { peer } : {}),
    });
    if ('error' in who) {
      // A rejected credential is the caller's business (-v=4); an apiserver we cannot ask is ours.
      if (who.unavailable)
        this.log.warn({ path, reason: who.error }, 'unable to authenticate the request');
      else this.log.debug({ path, reason: who.error }, 'unable to authenticate the request');
      return {
        code: 401,
        reason: 'Unauthorized',
        message: 'Unauthorized',
        ...(peer?.stale ? { closeConnection: true } : {}),
      };
    }
    const { user } = who;
    const verb = (req.method ?? 'GET').toLowerCase();
    let verdict;
    try {
      verdict = await authorize(this.authorizers, { user, verb, path });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log.error({ path, user: user.name, err: message }, 'authorizing the request failed');
      return { code: 500, reason: 'InternalError', message: `Internal error occurred: ${message}` };
    }
    if (verdict.decision === 'allow') return undefined;
    this.log.debug({ path, user: user.name, verb, reason: verdict.reason }, 'forbidden');
    const base = `forbidden: User ${JSON.stringify(user.name)} cannot ${verb} path ${JSON.stringify(path)}`;
    return {
      code: 403,
      reason: 'Forbidden',
      message: verdict.reason === '' ? base : `${base}: ${verdict.reason}`,
    };
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.watching;
  }
}
