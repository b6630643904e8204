// Delegated authn/authz options as the CCM's flags default them (--authentication-*,
// --authorization-*, --requestheader-*), for tests that build the secure port's gate directly.
// Without a client the gate knows only its always-allowed paths and groups (no lookup).
import { Agent, fetch } from 'undici';
import type { KubeClient } from '../../src/kube/client.ts';
import { silentLogger } from '../../src/log.ts';
import { Delegation } from '../../src/server/delegation.ts';
import type { DelegationOptions } from '../../src/server/delegation.ts';
import { registry } from '../../src/metrics-registry.ts';
import { startServer } from '../../src/server/server.ts';
import type { RunningServer } from '../../src/server/server.ts';
import type { TlsMaterial } from '../../src/server/tls.ts';
import type { Pem } from './certs.ts';

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

/** An HTTPS secure port behind the delegation gate, and a client that can present credentials. */
export interface GuardedPort {
  server: RunningServer;
  guard: Delegation;
  get(
    path: string,
    init?: {
      token?: string;
      cert?: Pem;
      headers?: Record<string, string>;
      method?: string;
      /** Reuse this client's connections instead of a new one per request. */
      agent?: Agent;
    },
  ): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

export async function guardedPort(
  options: DelegationOptions,
  tls: TlsMaterial,
): Promise<GuardedPort> {
  const guard = await Delegation.start(options);
  const server = await startServer({
    bindAddress: '127.0.0.1',
    port: 0,
    tls,
    healthChecks: { ping: () => undefined },
    readyChecks: {},
    guard,
    metrics: registry,
    log: silentLogger,
  });
  // One agent per request: each may present a different client certificate.
  const agents: Agent[] = [];
  return {
    server,
    guard,
    async get(path, init = {}) {
      let agent = init.agent;
      if (!agent) {
        agent = new Agent({
          connect: { ca: tls.cert, servername: 'localhost', ...(init.cert ?? {}) },
        });
        agents.push(agent);
      }
      const headers: Record<string, string> = { ...init.headers };
      if (init.token !== undefined) headers['authorization'] = `Bearer ${init.token}`;
      const res = await fetch(server.url + path, {
        dispatcher: agent,
        method: init.method ?? 'GET',
        headers,
      });
      return { status: res.status, body: await res.text() };
    },
    async close() {
      await Promise.all(agents.map((a) => a.close()));
      await server.close();
      await guard.close();
    },
  };
}
