// Where the Kubernetes API is and how to authenticate to it (client-go's rest.Config): from a
// kubeconfig file (client-go's clientcmd) or the in-cluster service account (rest.InClusterConfig).
// Ours rather than @kubernetes/client-node's KubeConfig: loading that package costs about 65 MiB
// of resident memory at start-up (its auth providers, OpenID, JOSE, WebSocket and model classes),
// more than the whole CCM needs once running. Supported users are the ones a CCM runs with: a
// bearer token (inline or tokenFile), a client certificate, basic auth. Exec credential plugins
// and auth providers are refused with a clear error, never silently ignored.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parseYamlQuietly } from '../util/yaml.ts';

export interface RestConfig {
  /** https://host:port, without a trailing slash. */
  server: string;
  token?: string;
  /** Read again at most once a minute, as client-go does: service-account tokens rotate. */
  tokenFile?: string;
  username?: string;
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTLSVerify?: boolean;
  tlsServerName?: string;
  /** kubeconfig's proxy-url (http or https). */
  proxyUrl?: string;
}

/** Where the kubelet mounts a Pod's service account. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** rest.InClusterConfig: KUBERNETES_SERVICE_HOST/PORT, the mounted token and CA. */
export function inClusterConfig(
  env: NodeJS.ProcessEnv = process.env,
  dir = SERVICE_ACCOUNT_DIR,
): RestConfig {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) {
    throw new Error(
      'not running in a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset) and no --kubeconfig given',
    );
  }
  const tokenFile = join(dir, 'token');
  // Fail at start-up, not at the first request, when the token is not mounted.
  readFileSync(tokenFile);
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tokenFile,
    ca: readFileSync(join(dir, 'ca.crt')),
  };
}

interface NamedCluster {
  name?: string;
  cluster?: Record<string, unknown>;
}
interface NamedUser {
  name?: string;
  user?: Record<string, unknown>;
}
interface NamedContext {
  name?: string;
  context?: { cluster?: string; user?: string };
}
interface KubeconfigFile {
  clusters?: NamedCluster[];
  users?: NamedUser[];
  contexts?: NamedContext[];
  'current-context'?: string;
}

/** clientcmd for one file: its current context (or the named one); relative paths from the file's directory. */
export function loadKubeconfig(path: string, context?: string): RestConfig {
  const fail = (what: string): never => {
    throw new Error(`kubeconfig ${path}: ${what}`);
  };
  // A token, client key or password sits on the lines a YAML error would quote: position only.
  const parsed = parseYamlQuietly(readFileSync(path, 'utf8'));
  if ('problem' in parsed) fail(parsed.problem);
  const value = 'value' in parsed ? parsed.value : undefined;
  if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value)))
    fail('not a YAML mapping');
  const doc = (value ?? {}) as KubeconfigFile;
  const contextName = context ?? doc['current-context'] ?? fail('no current-context');
  const ctx =
    doc.contexts?.find((c) => c.name === contextName)?.context ??
    fail(`context ${JSON.stringify(contextName)} not found`);
  const cluster =
    doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster ??
    fail(`cluster ${JSON.stringify(ctx.cluster)} not found`);
  // A context without a user is anonymous (clientcmd allows it).
  const user = (ctx.user ? doc.users?.find((u) => u.name === ctx.user)?.user : undefined) ?? {};
  const str = (o: Record<string, unknown>, k: string): string | undefined => {
    const v = o[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') fail(`${k} is not a string`);
    return v as string;
  };
  const file = (p: string | undefined): Buffer | undefined =>
    p === undefined ? undefined : readFileSync(isAbsolute(p) ? p : join(dirname(path), p));
  const data = (o: Record<string, unknown>, k: string): Buffer | undefined => {
    const v = str(o, k);
    return v === undefined ? undefined : Buffer.from(v, 'base64');
  };
  if (user['exec'] !== undefined || user['auth-provider'] !== undefined) {
    fail(
      `user ${JSON.stringify(ctx.user)} authenticates with an ${user['exec'] !== undefined ? 'exec credential plugin' : 'auth provider'}, which this CCM does not support: use a token, tokenFile or client certificate`,
    );
  }
  const server = (str(cluster, 'server') ?? fail('cluster has no server')).replace(/\/+$/, '');
  const config: RestConfig = { server };
  const set = <K extends keyof RestConfig>(k: K, v: RestConfig[K] | undefined): void => {
    if (v !== undefined) config[k] = v;
  };
  set(
    'ca',
    data(cluster, 'certificate-authority-data') ?? file(str(cluster, 'certificate-authority')),
  );
  if (cluster['insecure-skip-tls-verify'] === true) config.insecureSkipTLSVerify = true;
  set('tlsServerName', str(cluster, 'tls-server-name'));
  set('proxyUrl', str(cluster, 'proxy-url'));
  set('cert', data(user, 'client-certificate-data') ?? file(str(user, 'client-certificate')));
  set('key', data(user, 'client-key-data') ?? file(str(user, 'client-key')));
  set('token', str(user, 'token'));
  const tokenFile = str(user, 'tokenFile');
  if (tokenFile !== undefined && config.token === undefined)
    config.tokenFile = isAbsolute(tokenFile) ? tokenFile : join(dirname(path), tokenFile);
  set('username', str(user, 'username'));
  set('password', str(user, 'password'));
  return config;
}

/** How often a token file is read again (client-go's cachingTokenSource: one minute). */
const TOKEN_FILE_TTL_MS = 60_000;

/** The Authorization header for a config, re-reading its token file when the last read is stale. */
export class Credentials {
  private readonly config: RestConfig;
  private cached: { value: string; at: number } | undefined;

  constructor(config: RestConfig) {
    this.config = config;
  }

  authorization(now = performance.now()): string | undefined {
    const { token, tokenFile, username, password } = this.config;
    if (token !== undefined) return `Bearer ${token}`;
    if (tokenFile !== undefined) {
      if (this.cached === undefined || now - this.cached.at >= TOKEN_FILE_TTL_MS) {
        try {
          this.cached = { value: readFileSync(tokenFile, 'utf8').trim(), at: now };
        } catch (err) {
          // A rotation in progress: keep the token we have, as client-go does.
          if (this.cached === undefined) throw err;
        }
      }
      return `Bearer ${this.cached.value}`;
    }
    if (username !== undefined || password !== undefined)
      return `Basic ${Buffer.from(`${username ?? ''}:${password ?? ''}`).toString('base64')}`;
    return undefined;
  }
}
