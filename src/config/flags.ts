// The command line, parsed the way upstream's pflag does (`--flag value`, `--flag=value`, Go bool
// and duration syntax, `-v=4`), from one table that also generates --help and docs. Every problem
// is collected, so a broken manifest is fixed in one round instead of one flag per restart.
import { parseDuration, formatDuration } from './duration.ts';
import { defaultOptions } from './options.ts';
import type { CcmOptions } from './options.ts';
import { IGNORED_UPSTREAM_FLAGS } from './upstream-flags.ts';
import { quote } from '../util/quote.ts';

type KeysOfType<T> = {
  [K in keyof CcmOptions]: CcmOptions[K] extends T ? K : never;
}[keyof CcmOptions];

interface BaseSpec {
  /** Without dashes. */
  name: string;
  help: string;
  /** Single-letter form, e.g. `v` for `-v`. */
  shorthand?: string;
}

export type FlagSpec = BaseSpec &
  (
    | { type: 'string'; key: KeysOfType<string> }
    | { type: 'bool'; key: KeysOfType<boolean> }
    | { type: 'int' | 'float' | 'duration'; key: KeysOfType<number>; min?: number }
    | { type: 'list'; key: KeysOfType<string[]> }
  );

export const FLAGS: readonly FlagSpec[] = [
  {
    name: 'cloud-provider',
    type: 'string',
    key: 'cloudProvider',
    help: 'The provider for cloud services. Required; must be "oxide".',
  },
  {
    name: 'cloud-config',
    type: 'string',
    key: 'cloudConfig',
    help: 'Path to the YAML cloud configuration file (Oxide host, token, project, CA). Environment variables win over it.',
  },
  {
    name: 'kubeconfig',
    type: 'string',
    key: 'kubeconfig',
    help: 'Path to a kubeconfig file. Empty: in-cluster service account.',
  },
  {
    name: 'master',
    type: 'string',
    key: 'master',
    help: 'The address of the Kubernetes API server (overrides the kubeconfig server).',
  },
  {
    name: 'cluster-name',
    type: 'string',
    key: 'clusterName',
    help: 'Name of the cluster; the provider uses it to name and find the cloud resources it creates for this cluster. It starts Oxide names: a lowercase letter, then letters, digits and -, at most 58 characters.',
  },
  {
    name: 'cluster-id',
    type: 'string',
    key: 'clusterId',
    help: "Identity of the cluster written into the ownership record of every Oxide object the CCM creates, so that clusters sharing a project never touch each other's objects, even under one --cluster-name. Empty: the UID of the kube-system namespace. A DNS label; set it only to keep an identity across a rebuilt cluster, or to tell apart clusters restored from one etcd (ours, not upstream).",
  },
  {
    name: 'controllers',
    type: 'list',
    key: 'controllers',
    help: 'Controllers to enable: "*" for all, "foo" to enable, "-foo" to disable. Names: cloud-node-controller (cloud-node), cloud-node-lifecycle-controller (cloud-node-lifecycle), service-lb-controller (service), node-route-controller (route).',
  },
  {
    name: 'leader-elect',
    type: 'bool',
    key: 'leaderElect',
    help: 'Elect a leader through a Lease before running the controllers; needed with more than one replica.',
  },
  {
    name: 'leader-elect-lease-duration',
    type: 'duration',
    key: 'leaderElectLeaseDurationMs',
    min: 1,
    help: 'How long standby candidates wait after the last renewal before taking over.',
  },
  {
    name: 'leader-elect-renew-deadline',
    type: 'duration',
    key: 'leaderElectRenewDeadlineMs',
    min: 1,
    help: 'How long the leader keeps retrying to renew before it gives up leading (and exits).',
  },
  {
    name: 'leader-elect-retry-period',
    type: 'duration',
    key: 'leaderElectRetryPeriodMs',
    min: 1,
    help: 'How often candidates try to acquire and the leader renews.',
  },
  {
    name: 'leader-elect-resource-lock',
    type: 'string',
    key: 'leaderElectResourceLock',
    help: 'The lock object type; only "leases" is supported (as in current upstream).',
  },
  {
    name: 'leader-elect-resource-namespace',
    type: 'string',
    key: 'leaderElectResourceNamespace',
    help: 'Namespace of the leader election Lease.',
  },
  {
    name: 'leader-elect-resource-name',
    type: 'string',
    key: 'leaderElectResourceName',
    help: 'Name of the leader election Lease.',
  },
  {
    name: 'concurrent-node-syncs',
    type: 'int',
    key: 'concurrentNodeSyncs',
    min: 1,
    help: 'Nodes initialized in parallel. Upstream defaults to 1; we default to 10 because initializing a Node waits on Oxide API round trips, not CPU, and Kubernetes writes stay bounded by --kube-api-qps.',
  },
  {
    name: 'concurrent-service-syncs',
    type: 'int',
    key: 'concurrentServiceSyncs',
    min: 1,
    help: 'Services reconciled in parallel. Upstream defaults to 1; we default to 10 because a Service reconcile waits on Oxide API round trips (about 0.25 s each), not CPU: with one worker 200 new Services take 50 s of Oxide latency, with 10 their two writes each at --kube-api-qps 20 are the floor (about 19 s).',
  },
  {
    name: 'node-monitor-period',
    type: 'duration',
    key: 'nodeMonitorPeriodMs',
    min: 1,
    help: 'How often the node-lifecycle controller checks Nodes against their instances.',
  },
  {
    name: 'node-status-update-frequency',
    type: 'duration',
    key: 'nodeStatusUpdateFrequencyMs',
    min: 1,
    help: 'How often the node controller refreshes addresses and labels of initialized Nodes.',
  },
  {
    name: 'configure-cloud-routes',
    type: 'bool',
    key: 'configureCloudRoutes',
    help: 'Create routes for Pod CIDRs in the cloud (needs --allocate-node-cidrs).',
  },
  {
    name: 'allocate-node-cidrs',
    type: 'bool',
    key: 'allocateNodeCidrs',
    help: 'Whether Pod CIDRs are allocated to Nodes; with --configure-cloud-routes it turns the route controller on.',
  },
  {
    name: 'cluster-cidr',
    type: 'string',
    key: 'clusterCidr',
    help: 'CIDR range(s) of Pods, comma-separated, one per IP family.',
  },
  {
    name: 'route-reconciliation-period',
    type: 'duration',
    key: 'routeReconciliationPeriodMs',
    min: 1,
    help: 'How often the route controller reconciles cloud routes.',
  },
  {
    name: 'kube-api-qps',
    type: 'float',
    key: 'kubeApiQps',
    min: Number.MIN_VALUE,
    help: 'Sustained requests per second to the Kubernetes API.',
  },
  {
    name: 'kube-api-burst',
    type: 'int',
    key: 'kubeApiBurst',
    min: 1,
    help: 'Burst of requests to the Kubernetes API.',
  },
  {
    name: 'secure-port',
    type: 'int',
    key: 'securePort',
    min: 0,
    help: 'Port serving /healthz, /readyz and /metrics, with delegated authentication and authorization. 0 disables serving.',
  },
  { name: 'bind-address', type: 'string', key: 'bindAddress', help: 'IP address to serve on.' },
  {
    name: 'tls-cert-file',
    type: 'string',
    key: 'tlsCertFile',
    help: 'PEM certificate (chain) to serve with. Empty: a self-signed certificate generated at start.',
  },
  {
    name: 'tls-private-key-file',
    type: 'string',
    key: 'tlsPrivateKeyFile',
    help: 'PEM private key matching --tls-cert-file.',
  },
  {
    name: 'tls-min-version',
    type: 'string',
    key: 'tlsMinVersion',
    help: 'Minimum TLS version supported. Possible values: VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13. Empty: VersionTLS12.',
  },
  {
    name: 'tls-cipher-suites',
    type: 'list',
    key: 'tlsCipherSuites',
    help: "Comma-separated list of cipher suites for the server, by Go's names (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ...). If omitted, Go's default cipher suites are used. TLS 1.3 suites are always on, as in Go.",
  },
  {
    name: 'metrics-plain-http',
    type: 'bool',
    key: 'metricsPlainHttp',
    help: 'Serve /healthz, /readyz and /metrics over plain HTTP instead of HTTPS (ours, not upstream).',
  },
  {
    name: 'authentication-kubeconfig',
    type: 'string',
    key: 'authenticationKubeconfig',
    help: 'kubeconfig file pointing at the "core" kubernetes server with enough rights to create tokenreviews.authentication.k8s.io and read the extension-apiserver-authentication ConfigMap. Empty: the client of --kubeconfig (else in-cluster).',
  },
  {
    name: 'authentication-skip-lookup',
    type: 'bool',
    key: 'authenticationSkipLookup',
    help: 'If false, the authentication kubeconfig is used to look up missing client CA and request-header settings in kube-system/extension-apiserver-authentication.',
  },
  {
    name: 'authentication-token-webhook-cache-ttl',
    type: 'duration',
    key: 'authenticationTokenWebhookCacheTtlMs',
    min: 0,
    help: 'The duration to cache responses from the webhook token authenticator (TokenReview).',
  },
  {
    name: 'authentication-tolerate-lookup-failure',
    type: 'bool',
    key: 'authenticationTolerateLookupFailure',
    help: 'If true, failures to look up missing authentication configuration from the cluster are not fatal. Note that this can result in authentication that treats all requests as anonymous.',
  },
  {
    name: 'client-ca-file',
    type: 'string',
    key: 'clientCaFile',
    help: 'If set, any request presenting a client certificate signed by one of the authorities in the client-ca-file is authenticated with an identity corresponding to the CommonName of the client certificate.',
  },
  {
    name: 'requestheader-client-ca-file',
    type: 'string',
    key: 'requestheaderClientCaFile',
    help: 'Root certificate bundle to use to verify client certificates on incoming requests before trusting usernames in headers specified by --requestheader-username-headers.',
  },
  {
    name: 'requestheader-allowed-names',
    type: 'list',
    key: 'requestheaderAllowedNames',
    help: 'Client certificate common names allowed to provide usernames in headers. Empty: any client certificate validated by --requestheader-client-ca-file.',
  },
  {
    name: 'requestheader-username-headers',
    type: 'list',
    key: 'requestheaderUsernameHeaders',
    help: 'Request headers to inspect for usernames.',
  },
  {
    name: 'requestheader-uid-headers',
    type: 'list',
    key: 'requestheaderUidHeaders',
    help: 'Request headers to inspect for UIDs.',
  },
  {
    name: 'requestheader-group-headers',
    type: 'list',
    key: 'requestheaderGroupHeaders',
    help: 'Request headers to inspect for groups.',
  },
  {
    name: 'requestheader-extra-headers-prefix',
    type: 'list',
    key: 'requestheaderExtraHeadersPrefix',
    help: 'Request header prefixes to inspect for extra user information.',
  },
  {
    name: 'authorization-kubeconfig',
    type: 'string',
    key: 'authorizationKubeconfig',
    help: 'kubeconfig file pointing at the "core" kubernetes server with enough rights to create subjectaccessreviews.authorization.k8s.io. Empty: the client of --kubeconfig (else in-cluster).',
  },
  {
    name: 'authorization-always-allow-paths',
    type: 'list',
    key: 'authorizationAlwaysAllowPaths',
    help: 'HTTP paths authorized without asking the API server (a trailing * matches a prefix). Authentication still applies.',
  },
  {
    name: 'authorization-always-allow-groups',
    type: 'list',
    key: 'authorizationAlwaysAllowGroups',
    help: 'Groups authorized for every path without asking the API server (upstream hard-codes system:masters; the flag is ours).',
  },
  {
    name: 'authorization-webhook-cache-authorized-ttl',
    type: 'duration',
    key: 'authorizationWebhookCacheAuthorizedTtlMs',
    min: 0,
    help: "The duration to cache 'authorized' responses from the webhook authorizer (SubjectAccessReview).",
  },
  {
    name: 'authorization-webhook-cache-unauthorized-ttl',
    type: 'duration',
    key: 'authorizationWebhookCacheUnauthorizedTtlMs',
    min: 0,
    help: "The duration to cache 'unauthorized' responses from the webhook authorizer (SubjectAccessReview).",
  },
  {
    name: 'oxide-lb-firewall',
    type: 'bool',
    key: 'oxideLoadBalancerFirewall',
    help: 'Default of the Service annotation oxide.computer/firewall: open LoadBalancer ports in the VPC firewall (ours, not upstream).',
  },
  {
    name: 'oxide-lb-named-floating-ips',
    type: 'string',
    key: 'oxideLoadBalancerNamedFloatingIps',
    help: 'Which floating IPs a Service may use through the annotation oxide.computer/floating-ip-name: "marked" (only a floating IP whose description contains k8s-service=<cluster-name>/<namespace>/<name> of that Service) or "none" (the annotation is refused). Anyone who can create a Service can write the annotation (ours, not upstream).',
  },
  {
    name: 'oxide-projects',
    type: 'list',
    key: 'oxideProjects',
    help: 'Oxide projects (names or ids, comma-separated) whose instances may be Nodes of this cluster; the first is the default project (floating IPs of Services without the annotation oxide.computer/project). Empty: OXIDE_PROJECT, which may itself be such a list (ours, not upstream).',
  },
  {
    name: 'oxide-routes-vpc',
    type: 'string',
    key: 'oxideRoutesVpc',
    help: "VPC (name) holding the pod-CIDR routes and the cluster router; empty: the VPC of each Node's primary NIC (ours, not upstream).",
  },
  {
    name: 'oxide-request-timeout',
    type: 'duration',
    key: 'oxideRequestTimeoutMs',
    min: 1,
    help: 'Timeout of one Oxide API request (ours, not upstream).',
  },
  {
    name: 'lb-failover',
    type: 'list',
    key: 'lbFailover',
    help: "Signals that move a load balancer off a Node before kube-controller-manager marks it NotReady: health-check (kube-proxy's /healthz, or the Service's healthCheckNodePort, on the target Nodes), instance-state (the Node's instance is not running), lease (the kubelet's Lease in kube-node-lease is stale; off by default: it costs the most at rest and adds least where the health checks reach the Nodes); \"none\" for NotReady only (ours, not upstream). docs/operations.md has the trade-off.",
  },
  {
    name: 'lb-health-check-port',
    type: 'int',
    key: 'lbHealthCheckPort',
    min: 1,
    help: "Port of kube-proxy's /healthz on every Node, checked for externalTrafficPolicy: Cluster (ours, not upstream).",
  },
  {
    name: 'lb-health-check-interval',
    type: 'duration',
    key: 'lbHealthCheckIntervalMs',
    min: 1,
    help: 'How often each load balancer target Node is health-checked (ours, not upstream).',
  },
  {
    name: 'lb-health-check-timeout',
    type: 'duration',
    key: 'lbHealthCheckTimeoutMs',
    min: 1,
    help: 'How long a health check waits for HTTP 200 (ours, not upstream).',
  },
  {
    name: 'lb-health-check-failures',
    type: 'int',
    key: 'lbHealthCheckFailures',
    min: 1,
    help: 'Consecutive failed health checks after which a Node that answered before is failing (ours, not upstream).',
  },
  {
    name: 'lb-lease-stale-after',
    type: 'duration',
    key: 'lbLeaseStaleAfterMs',
    min: 1,
    help: 'A Node whose kubelet Lease was not seen renewed for this long gets no load balancer; kubelet renews every 10 s, so the default is 2.5 renewals (ours, not upstream).',
  },
  {
    name: 'lb-instance-poll-period',
    type: 'duration',
    key: 'lbInstancePollPeriodMs',
    min: 1,
    help: "How often the instances of load balancer target Nodes are checked: one project-wide instance list per period, only while some load balancer has a target; a failed health check of such a Node asks at once. The list is most of what failover costs at rest, hence the long default: where health checks reach the Nodes they bring a stopped instance's list within seconds, and 2s does it without them at several times the CPU (ours, not upstream).",
  },
  {
    name: 'lb-failover-settle-time',
    type: 'duration',
    key: 'lbFailoverSettleTimeMs',
    min: 0,
    help: 'A Node that was out (failing health check, stopped instance, stale Lease) gets load balancers again only after all its signals have been good for this long (ours, not upstream).',
  },
  {
    name: 'v',
    shorthand: 'v',
    type: 'int',
    key: 'verbosity',
    min: 0,
    help: 'Log verbosity, as upstream: 0 start-up and changes, 2 steady-state detail, 4 debug, 5 trace, 6 one line per Kubernetes and Oxide request (method, path, status, latency; never headers or tokens).',
  },
  {
    name: 'logging-format',
    type: 'string',
    key: 'loggingFormat',
    help: 'Log format: "text" (klog lines) or "json" (klog\'s JSON schema: ts, logger, msg, v, err, key/value pairs).',
  },
  {
    name: 'log-json-split-stream',
    type: 'bool',
    key: 'logJsonSplitStream',
    help: 'In JSON format, write error lines to stderr and the others to stdout. Default: everything to stderr, as upstream (which gates this behind LoggingAlphaOptions; we do not).',
  },
  {
    name: 'log-text-split-stream',
    type: 'bool',
    key: 'logTextSplitStream',
    help: 'In text format, write error lines to stderr and the others to stdout. Default: everything to stderr, as upstream.',
  },
  { name: 'version', type: 'bool', key: 'version', help: 'Print the version and exit.' },
  { name: 'help', shorthand: 'h', type: 'bool', key: 'help', help: 'Print this help and exit.' },
];

const byName = new Map(FLAGS.map((f) => [f.name, f]));
const byShorthand = new Map(FLAGS.filter((f) => f.shorthand).map((f) => [f.shorthand ?? '', f]));

export interface ParsedFlags {
  options: CcmOptions;
  /** Upstream flags accepted but ignored: one line each, for the log once it exists. */
  warnings: string[];
  /** Usage errors, one line each. */
  errors: string[];
}

/** strconv.ParseBool, which is what pflag uses. */
function parseBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
  return undefined;
}

function parseNumber(
  spec: FlagSpec & { type: 'int' | 'float' | 'duration' },
  text: string,
): number {
  let value: number;
  if (spec.type === 'duration') value = parseDuration(text);
  else if (spec.type === 'int') {
    if (!/^[+-]?\d+$/.test(text)) throw new Error(`invalid integer ${quote(text)}`);
    value = Number(text);
  } else {
    value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value))
      throw new Error(`invalid number ${quote(text)}`);
  }
  if (spec.min !== undefined && value < spec.min) {
    const shown = spec.type === 'duration' ? formatDuration(value) : String(value);
    throw new Error(
      spec.min === 0 ? `must not be negative, got ${shown}` : `must be positive, got ${shown}`,
    );
  }
  return value;
}

export function parseFlags(argv: readonly string[]): ParsedFlags {
  const options = defaultOptions();
  const warnings: string[] = [];
  const errors: string[] = [];
  const seenLists = new Set<string>();
  const warned = new Set<string>();

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      for (const extra of argv.slice(i + 1))
        errors.push(`unexpected argument ${quote(extra)}: this command takes only flags`);
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      errors.push(`unexpected argument ${quote(arg)}: this command takes only flags`);
      continue;
    }
    const long = arg.startsWith('--');
    const body = arg.slice(long ? 2 : 1);
    const eq = body.indexOf('=');
    let name = eq >= 0 ? body.slice(0, eq) : body;
    let inline: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    let spec: FlagSpec | undefined;
    if (long) spec = byName.get(name);
    else {
      // pflag shorthand: -v, -v=4, -v4, -h.
      spec = byShorthand.get(name.slice(0, 1));
      if (spec && name.length > 1 && inline === undefined) inline = name.slice(1);
      else if (spec && name.length > 1) spec = undefined;
      if (!spec) {
        errors.push(`unknown shorthand flag ${quote(arg)}`);
        continue;
      }
      name = spec.name;
    }
    const display = `--${name}`;

    if (!spec) {
      const ignored = IGNORED_UPSTREAM_FLAGS[name];
      if (ignored === undefined) {
        errors.push(`unknown flag ${display}`);
        continue;
      }
      if (ignored === 'value' && inline === undefined) {
        if (i + 1 >= argv.length) errors.push(`flag needs an argument: ${display}`);
        i++;
      }
      if (!warned.has(name)) {
        warned.add(name);
        warnings.push(`flag ${display} is accepted for compatibility with upstream and ignored`);
      }
      continue;
    }

    if (spec.type === 'bool') {
      const text = inline ?? 'true';
      // --version=raw is upstream's machine-readable form; we print the same either way.
      const value = spec.key === 'version' && text === 'raw' ? true : parseBool(text);
      if (value === undefined)
        errors.push(
          `${display}: invalid boolean ${quote(text)} (use ${display}=true or ${display}=false)`,
        );
      else options[spec.key] = value;
      continue;
    }

    let text = inline;
    if (text === undefined) {
      if (i + 1 >= argv.length) {
        errors.push(`flag needs an argument: ${display}`);
        continue;
      }
      text = argv[++i] ?? '';
    }
    try {
      switch (spec.type) {
        case 'string':
          options[spec.key] = text;
          break;
        case 'list': {
          const items = text
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== '');
          // pflag string slices: the first occurrence replaces the default, later ones append.
          options[spec.key] = seenLists.has(spec.name) ? [...options[spec.key], ...items] : items;
          seenLists.add(spec.name);
          break;
        }
        default:
          options[spec.key] = parseNumber(spec, text);
      }
    } catch (err) {
      errors.push(`${display}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { options, warnings, errors };
}
