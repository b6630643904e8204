// The secure port as the flags configure it: TLS (operator files, self-signed, or plain HTTP
// with --metrics-plain-http), delegated authentication and authorization, and the bind retried
// while another process holds the port (listen-retry.ts). The caller brings the checks.
import type { Registry } from 'prom-client';
import type { CcmOptions } from '../config/options.ts';
import type { KubeClient } from '../kube/client.ts';
import type { Logger } from '../log.ts';
import { Delegation } from './delegation.ts';
import { listenRetryingWhileInUse } from './listen-retry.ts';
import type { RetryingServer } from './listen-retry.ts';
import { startServer } from './server.ts';
import type { Check } from './server.ts';
import { readTlsFiles, selfSignedTls } from './tls.ts';
import { tlsPolicy } from '../config/tls-policy.ts';
import { registerProcessMetrics } from '../process-metrics.ts';

export interface SecurePortChecks {
  healthChecks: Record<string, Check>;
  /** Checked on /readyz after the health checks. */
  readyChecks: Record<string, Check>;
  /** What /metrics serves (the process's families are added to it here, once serving). */
  metrics: Registry;
}

/**
 * Undefined when --secure-port is 0. `reviewClient` gives the client for TokenReview or
 * SubjectAccessReview from --authentication-kubeconfig / --authorization-kubeconfig.
 */
export async function serveSecurePort(
  options: CcmOptions,
  checks: SecurePortChecks,
  reviewClient: (kubeconfig: string) => KubeClient,
  log: Logger,
): Promise<RetryingServer | undefined> {
  if (options.securePort === 0) return undefined;
  // process_* and nodejs_* only in a process that serves them (--secure-port 0 does not).
  registerProcessMetrics(checks.metrics);
  // validateOptions refused names that do not map, so only upstream's warnings are left here.
  const { policy, warnings } = tlsPolicy(options.tlsMinVersion, options.tlsCipherSuites);
  for (const w of warnings) log.warn(w);
  const tls = options.metricsPlainHttp
    ? undefined
    : options.tlsCertFile
      ? readTlsFiles(options.tlsCertFile, options.tlsPrivateKeyFile)
      : await selfSignedTls(options.bindAddress);
  const guard = await Delegation.start({
    authenticationClient: reviewClient(options.authenticationKubeconfig),
    authorizationClient: reviewClient(options.authorizationKubeconfig),
    tokenCacheTtlMs: options.authenticationTokenWebhookCacheTtlMs,
    skipLookup: options.authenticationSkipLookup,
    tolerateLookupFailure: options.authenticationTolerateLookupFailure,
    clientCaFile: options.clientCaFile,
    requestHeader: {
      clientCaFile: options.requestheaderClientCaFile,
      allowedNames: options.requestheaderAllowedNames,
      usernameHeaders: options.requestheaderUsernameHeaders,
      uidHeaders: options.requestheaderUidHeaders,
      groupHeaders: options.requestheaderGroupHeaders,
      extraHeaderPrefixes: options.requestheaderExtraHeadersPrefix,
    },
    alwaysAllowPaths: options.authorizationAlwaysAllowPaths,
    alwaysAllowGroups: options.authorizationAlwaysAllowGroups,
    authorizedTtlMs: options.authorizationWebhookCacheAuthorizedTtlMs,
    unauthorizedTtlMs: options.authorizationWebhookCacheUnauthorizedTtlMs,
    log,
  });
  try {
    const server = await listenRetryingWhileInUse(
      () =>
        startServer({
          bindAddress: options.bindAddress,
          port: options.securePort,
          ...(tls ? { tls } : {}),
          ...(policy ? { tlsPolicy: policy } : {}),
          healthChecks: checks.healthChecks,
          readyChecks: checks.readyChecks,
          metrics: checks.metrics,
          guard,
          log,
        }),
      `${options.bindAddress}:${options.securePort}`,
      log,
    );
    return {
      ...server,
      close: async () => {
        await server.close();
        await guard.close();
      },
    };
  } catch (err) {
    await guard.close();
    throw err;
  }
}
