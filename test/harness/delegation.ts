// Delegated authn/authz options as the CCM's flags default them (--authentication-*,
// --authorization-*, --requestheader-*), for tests that build the secure port's gate directly.
// Without a client the gate knows only its always-allowed paths and groups (no lookup).
import type { KubeClient } from '../../src/kube/client.ts';
import { silentLogger } from '../../src/log.ts';
import type { DelegationOptions } from '../../src/server/delegation.ts';

export function delegationOptions(client?: KubeClient): DelegationOptions {
  return {
    authenticationClient: client,
    authorizationClient: client,
    tokenCacheTtlMs: 10_000,
    skipLookup: client === undefined,
    tolerateLookupFailure: false,
    clientCaFile: '',
    requestHeader: {
      clientCaFile: '',
      allowedNames: [],
      usernameHeaders: ['x-remote-user'],
      uidHeaders: [],
      groupHeaders: ['x-remote-group'],
      extraHeaderPrefixes: ['x-remote-extra-'],
    },
    alwaysAllowPaths: ['/healthz', '/readyz', '/livez'],
    alwaysAllowGroups: ['system:masters'],
    authorizedTtlMs: 10_000,
    unauthorizedTtlMs: 10_000,
    log: silentLogger,
  };
}
