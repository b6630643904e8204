import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseDuration, formatDuration } from './duration.ts';
import { FLAGS, parseFlags } from './flags.ts';
import { readCommandLine } from './command-line.ts';
import { resolveControllers } from './controllers.ts';
import { defaultOptions } from './options.ts';
import { defaultText, usage } from './usage.ts';
import { IGNORED_UPSTREAM_FLAGS } from './upstream-flags.ts';
import { VERSION } from '../version.ts';

const base = ['--cloud-provider', 'oxide'];

test('Go durations', () => {
  assert.equal(parseDuration('15s'), 15_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('2h45m'), 9_900_000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('1000us'), 1);
  assert.equal(parseDuration('-2s'), -2000);
  for (const bad of ['', '15', 's', '1x', '1s2', '1.s.s', '.s', ' 1s', '1 s']) {
    assert.throws(() => parseDuration(bad), /invalid duration/, bad);
  }
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(300_000), '5m0s');
  assert.equal(formatDuration(500), '500ms');
  assert.equal(formatDuration(15_000), '15s');
});

test('defaults match upstream (and our documented concurrent-node-syncs)', () => {
  const { options, errors, warnings } = parseFlags([]);
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings, []);
  assert.deepEqual(options, defaultOptions());
  assert.equal(options.clusterName, 'kubernetes');
  assert.equal(options.leaderElect, true);
  assert.equal(options.leaderElectLeaseDurationMs, 15_000);
  assert.equal(options.leaderElectRenewDeadlineMs, 10_000);
  assert.equal(options.leaderElectRetryPeriodMs, 2_000);
  assert.equal(options.securePort, 10258);
  assert.equal(options.kubeApiQps, 20);
  assert.equal(options.kubeApiBurst, 30);
  assert.equal(options.nodeStatusUpdateFrequencyMs, 300_000);
  assert.equal(options.concurrentNodeSyncs, 10);
  // k8s.io/apiserver's delegating options as k8s.io/cloud-provider sets them.
  assert.deepEqual(options.authorizationAlwaysAllowPaths, ['/healthz', '/readyz', '/livez']);
  assert.deepEqual(options.authorizationAlwaysAllowGroups, ['system:masters']);
  assert.equal(options.authenticationTokenWebhookCacheTtlMs, 10_000);
  assert.equal(options.authorizationWebhookCacheAuthorizedTtlMs, 10_000);
  assert.equal(options.authorizationWebhookCacheUnauthorizedTtlMs, 10_000);
  assert.deepEqual(options.requestheaderUsernameHeaders, ['x-remote-user']);
  assert.equal(options.authenticationSkipLookup, false);
  assert.equal(options.authenticationTolerateLookupFailure, false);
});

test('every flag in both --flag value and --flag=value forms', () => {
  const argv = [
    '--cloud-provider=oxide',
    '--cloud-config',
    '/etc/oxide/cloud.yaml',
    '--kubeconfig=/k',
    '--master',
    'https://10.0.0.1:6443',
    '--cluster-name',
    'prod',
    '--cluster-id=prod-1',
    '--controllers=cloud-node,-service',
    '--leader-elect=false',
    '--leader-elect-lease-duration',
    '30s',
    '--leader-elect-renew-deadline=20s',
    '--leader-elect-retry-period',
    '1m',
    '--leader-elect-resource-lock',
    'leases',
    '--leader-elect-resource-namespace=ccm',
    '--leader-elect-resource-name',
    'oxide',
    '--concurrent-node-syncs',
    '3',
    '--concurrent-service-syncs=4',
    '--node-monitor-period',
    '7s',
    '--node-status-update-frequency=1m30s',
    '--configure-cloud-routes=false',
    '--allocate-node-cidrs',
    '--cluster-cidr',
    '10.244.0.0/16,fd00::/48',
    '--route-reconciliation-period=15s',
    '--kube-api-qps',
    '50.5',
    '--kube-api-burst=100',
    '--secure-port',
    '0',
    '--bind-address=127.0.0.1',
    '--tls-cert-file',
    '/c',
    '--tls-private-key-file=/k2',
    '--tls-min-version',
    'VersionTLS13',
    '--tls-cipher-suites=TLS_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
    '--metrics-plain-http=false',
    '--oxide-lb-firewall',
    '--oxide-lb-named-floating-ips=none',
    '--oxide-routes-vpc=pods',
    '--oxide-projects',
    'k8s,other',
    '--oxide-request-timeout',
    '45s',
    '--lb-failover=lease,instance-state',
    '--lb-health-check-port',
    '10257',
    '--lb-health-check-interval=5s',
    '--lb-health-check-timeout',
    '1s',
    '--lb-health-check-failures=2',
    '--lb-lease-stale-after',
    '15s',
    '--lb-instance-poll-period=4s',
    '--lb-failover-settle-time',
    '1m',
    '--authentication-kubeconfig',
    '/authn',
    '--authentication-skip-lookup',
    '--authentication-token-webhook-cache-ttl=1m',
    '--authentication-tolerate-lookup-failure=true',
    '--client-ca-file',
    '/ca',
    '--requestheader-client-ca-file=/rh',
    '--requestheader-allowed-names',
    'front-proxy-client,aggregator',
    '--requestheader-username-headers=X-User',
    '--requestheader-uid-headers',
    'X-Uid',
    '--requestheader-group-headers=X-Group',
    '--requestheader-extra-headers-prefix',
    'X-Extra-',
    '--authorization-kubeconfig=/authz',
    '--authorization-always-allow-paths',
    '/healthz,/debug/*',
    '--authorization-always-allow-groups=',
    '--authorization-webhook-cache-authorized-ttl',
    '5m',
    '--authorization-webhook-cache-unauthorized-ttl=0s',
    '-v=5',
    '--logging-format',
    'json',
    '--log-json-split-stream',
    '--log-text-split-stream=true',
  ];
  const { options, errors } = parseFlags(argv);
  assert.deepEqual(errors, []);
  assert.deepEqual(options, {
    ...defaultOptions(),
    cloudProvider: 'oxide',
    cloudConfig: '/etc/oxide/cloud.yaml',
    kubeconfig: '/k',
    master: 'https://10.0.0.1:6443',
    clusterName: 'prod',
    clusterId: 'prod-1',
    controllers: ['cloud-node', '-service'],
    leaderElect: false,
    leaderElectLeaseDurationMs: 30_000,
    leaderElectRenewDeadlineMs: 20_000,
    leaderElectRetryPeriodMs: 60_000,
    leaderElectResourceLock: 'leases',
    leaderElectResourceNamespace: 'ccm',
    leaderElectResourceName: 'oxide',
    concurrentNodeSyncs: 3,
    concurrentServiceSyncs: 4,
    nodeMonitorPeriodMs: 7_000,
    nodeStatusUpdateFrequencyMs: 90_000,
    configureCloudRoutes: false,
    allocateNodeCidrs: true,
    clusterCidr: '10.244.0.0/16,fd00::/48',
    routeReconciliationPeriodMs: 15_000,
    kubeApiQps: 50.5,
    kubeApiBurst: 100,
    securePort: 0,
    bindAddress: '127.0.0.1',
    tlsCertFile: '/c',
    tlsPrivateKeyFile: '/k2',
    tlsMinVersion: 'VersionTLS13',
    tlsCipherSuites: ['TLS_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
    metricsPlainHttp: false,
    oxideLoadBalancerFirewall: true,
    oxideLoadBalancerNamedFloatingIps: 'none',
    oxideRoutesVpc: 'pods',
    oxideProjects: ['k8s', 'other'],
    oxideRequestTimeoutMs: 45_000,
    authenticationKubeconfig: '/authn',
    authenticationSkipLookup: true,
    authenticationTokenWebhookCacheTtlMs: 60_000,
    authenticationTolerateLookupFailure: true,
    clientCaFile: '/ca',
    requestheaderClientCaFile: '/rh',
    requestheaderAllowedNames: ['front-proxy-client', 'aggregator'],
    requestheaderUsernameHeaders: ['X-User'],
    requestheaderUidHeaders: ['X-Uid'],
    requestheaderGroupHeaders: ['X-Group'],
    requestheaderExtraHeadersPrefix: ['X-Extra-'],
    authorizationKubeconfig: '/authz',
    authorizationAlwaysAllowPaths: ['/healthz', '/debug/*'],
    authorizationAlwaysAllowGroups: [],
    authorizationWebhookCacheAuthorizedTtlMs: 300_000,
    authorizationWebhookCacheUnauthorizedTtlMs: 0,
    verbosity: 5,
    loggingFormat: 'json',
    logJsonSplitStream: true,
    logTextSplitStream: true,
    lbFailover: ['lease', 'instance-state'],
    lbHealthCheckPort: 10257,
    lbHealthCheckIntervalMs: 5_000,
    lbHealthCheckTimeoutMs: 1_000,
    lbHealthCheckFailures: 2,
    lbLeaseStaleAfterMs: 15_000,
    lbInstancePollPeriodMs: 4_000,
    lbFailoverSettleTimeMs: 60_000,
  });
  // The table and the test cover the same flags: a new flag must be added here too.
  const covered = new Set(
    argv.filter((a) => a.startsWith('-')).map((a) => a.replace(/^-+/, '').split('=')[0]),
  );
  for (const f of FLAGS) {
    if (!['version', 'help', 'metrics-plain-http'].includes(f.name))
      assert.ok(covered.has(f.name), f.name);
  }
});

test('verbosity forms: -v 4, -v=4, -v4, --v=4, --v 4', () => {
  for (const argv of [['-v', '4'], ['-v=4'], ['-v4'], ['--v=4'], ['--v', '4']]) {
    const { options, errors } = parseFlags(argv);
    assert.deepEqual(errors, [], argv.join(' '));
    assert.equal(options.verbosity, 4, argv.join(' '));
  }
});

test('Go bool syntax', () => {
  for (const [arg, want] of [
    ['--leader-elect', true],
    ['--leader-elect=false', false],
    ['--leader-elect=0', false],
    ['--leader-elect=F', false],
    ['--leader-elect=TRUE', true],
    ['--leader-elect=t', true],
  ] as const) {
    assert.equal(parseFlags([arg]).options.leaderElect, want, arg);
  }
  // pflag never consumes the next argument for a bool flag.
  const { errors } = parseFlags(['--leader-elect', 'false']);
  assert.deepEqual(errors, ['unexpected argument "false": this command takes only flags']);
  assert.deepEqual(parseFlags(['--leader-elect=nope']).errors, [
    '--leader-elect: invalid boolean "nope" (use --leader-elect=true or --leader-elect=false)',
  ]);
});

test('--version, --version=raw, -h and --help', () => {
  assert.equal(parseFlags(['--version']).options.version, true);
  assert.equal(parseFlags(['--version=raw']).options.version, true);
  assert.equal(parseFlags(['--version=false']).options.version, false);
  assert.equal(parseFlags(['-h']).options.help, true);
  assert.equal(parseFlags(['--help']).options.help, true);
});

test('repeated --controllers append, like pflag string slices', () => {
  const { options } = parseFlags(['--controllers', 'cloud-node', '--controllers=route']);
  assert.deepEqual(options.controllers, ['cloud-node', 'route']);
});

test('controller selection: *, names, aliases, -name, first match wins', () => {
  const names = (entries: string[]): string[] =>
    resolveControllers(entries).enabled.map((c) => c.alias);
  assert.deepEqual(names(['*']), ['cloud-node', 'cloud-node-lifecycle', 'service', 'route']);
  assert.deepEqual(names(['*', '-route']), ['cloud-node', 'cloud-node-lifecycle', 'service']);
  assert.deepEqual(names(['-route', '*']), ['cloud-node', 'cloud-node-lifecycle', 'service']);
  assert.deepEqual(names(['cloud-node-controller', 'service']), ['cloud-node', 'service']);
  assert.deepEqual(names(['-service-lb-controller', '*']), [
    'cloud-node',
    'cloud-node-lifecycle',
    'route',
  ]);
  assert.deepEqual(names([]), []);
  assert.deepEqual(names(['service', '-service']), ['service']);
  const { errors } = resolveControllers(['*', 'nodeipam', '-bogus']);
  assert.equal(errors.length, 2);
  assert.match(
    errors[0] ?? '',
    /^--controllers: unknown controller "nodeipam"; known: cloud-node-controller \(cloud-node\)/,
  );
  assert.match(errors[1] ?? '', /unknown controller "bogus"/);
});

test('upstream flags we do not implement are accepted with one warning each', () => {
  const { options, errors, warnings } = parseFlags([
    '--use-service-account-credentials',
    '--profiling=false',
    '--feature-gates',
    'Foo=true',
    '--cert-dir',
    '/c',
    '--logtostderr',
    '--vmodule=x=2',
    '--feature-gates',
    'Bar=true',
    '--cluster-name',
    'after',
  ]);
  assert.deepEqual(errors, []);
  assert.equal(options.clusterName, 'after', 'value flags consumed exactly one argument');
  assert.deepEqual(warnings, [
    'flag --use-service-account-credentials is accepted for compatibility with upstream and ignored',
    'flag --profiling is accepted for compatibility with upstream and ignored',
    'flag --feature-gates is accepted for compatibility with upstream and ignored',
    'flag --cert-dir is accepted for compatibility with upstream and ignored',
    'flag --logtostderr is accepted for compatibility with upstream and ignored',
    'flag --vmodule is accepted for compatibility with upstream and ignored',
  ]);
});

test('bad values: every problem collected, one line each', () => {
  const { errors } = readCommandLine([
    '--cloud-provider',
    'aws',
    '--leader-elect-lease-duration',
    '15x',
    '--concurrent-node-syncs',
    'ten',
    '--concurrent-service-syncs=0',
    '--kube-api-qps',
    'fast',
    '--secure-port',
    '70000',
    '--bind-address',
    'localhost',
    '--controllers',
    '*,bogus',
    '--cluster-cidr',
    '10.0.0.0/33',
    '--tls-cert-file',
    '/only-cert',
    '--no-such-flag',
    '-x',
    'positional',
    '--kubeconfig',
  ]);
  assert.deepEqual(errors, [
    '--leader-elect-lease-duration: invalid duration "15x" (examples: 15s, 1m30s, 500ms)',
    '--concurrent-node-syncs: invalid integer "ten"',
    '--concurrent-service-syncs: must be positive, got 0',
    '--kube-api-qps: invalid number "fast"',
    'unknown flag --no-such-flag',
    'unknown shorthand flag "-x"',
    'unexpected argument "positional": this command takes only flags',
    'flag needs an argument: --kubeconfig',
    '--controllers: unknown controller "bogus"; known: cloud-node-controller (cloud-node), cloud-node-lifecycle-controller (cloud-node-lifecycle), service-lb-controller (service), node-route-controller (route)',
    '--cloud-provider "aws" is not supported: this cloud-controller-manager only implements "oxide"',
    '--secure-port 70000 is not a port (0-65535)',
    '--bind-address "localhost" is not an IP address',
    '--tls-cert-file and --tls-private-key-file must be given together',
    '--cluster-cidr: "10.0.0.0/33" is not a CIDR',
  ]);
  for (const e of errors) assert.ok(!e.includes('\n'));
});

test('--cloud-provider is required', () => {
  assert.deepEqual(readCommandLine([]).errors, [
    '--cloud-provider is required and must be "oxide"',
  ]);
  assert.deepEqual(readCommandLine(base).errors, []);
});

test('--lb-failover: known signals or none, not both', () => {
  assert.deepEqual(readCommandLine(base).options.lbFailover, ['health-check', 'instance-state']);
  assert.deepEqual(readCommandLine([...base, '--lb-failover=none']).errors, []);
  assert.deepEqual(readCommandLine([...base, '--lb-failover=lease,ping']).errors, [
    '--lb-failover: "ping" is not one of "health-check", "instance-state", "lease", "none"',
  ]);
  assert.deepEqual(readCommandLine([...base, '--lb-failover=none,lease']).errors, [
    '--lb-failover: "none" cannot be combined with a signal',
  ]);
});

test('--oxide-lb-named-floating-ips: marked (default) or none', () => {
  assert.equal(readCommandLine(base).options.oxideLoadBalancerNamedFloatingIps, 'marked');
  assert.deepEqual(readCommandLine([...base, '--oxide-lb-named-floating-ips=none']).errors, []);
  assert.deepEqual(readCommandLine([...base, '--oxide-lb-named-floating-ips=any']).errors, [
    '--oxide-lb-named-floating-ips "any" is not one of "marked", "none"',
  ]);
});

test('--cluster-name starts Oxide names; --cluster-id is a DNS label', () => {
  assert.deepEqual(readCommandLine([...base, '--cluster-name=prod-EU1']).errors, []);
  assert.deepEqual(readCommandLine([...base, '--cluster-name', 'a b']).errors, [
    `--cluster-name "a b" cannot start an Oxide name: it must begin with a lowercase ASCII letter and contain only ASCII letters, digits and '-'`,
  ]);
  assert.deepEqual(readCommandLine([...base, `--cluster-name=${'a'.repeat(300)}`]).errors, [
    `--cluster-name "${'a'.repeat(77)}..." is 300 characters; at most 58 (Oxide names have at most 63, and the CCM names objects <cluster-name>-pods and <cluster-name>-<namespace>-<service>)`,
  ]);
  assert.deepEqual(readCommandLine([...base, `--cluster-name=${'a'.repeat(58)}`]).errors, []);
  assert.match(readCommandLine([...base, '--cluster-name=1abc']).errors.join(), /cannot start/);
  assert.match(readCommandLine([...base, '--cluster-name=']).errors.join(), /must not be empty/);

  assert.equal(readCommandLine(base).options.clusterId, '', 'default: the kube-system UID');
  assert.deepEqual(
    readCommandLine([...base, '--cluster-id=0c6f7c1e-7d1a-4e43-9a57-2f1f3b0f0a01']).errors,
    [],
  );
  assert.deepEqual(readCommandLine([...base, '--cluster-id=Prod 1']).errors, [
    `--cluster-id "Prod 1" is not a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit)`,
  ]);
  assert.match(
    readCommandLine([...base, `--cluster-id=${'a'.repeat(64)}`]).errors.join(),
    /at most 63/,
  );
});

test('leader election timing relations, as client-go checks them', () => {
  const errors = readCommandLine([
    ...base,
    '--leader-elect-lease-duration=10s',
    '--leader-elect-renew-deadline=10s',
    '--leader-elect-retry-period=9s',
  ]).errors;
  assert.deepEqual(errors, [
    '--leader-elect-lease-duration (10s) must be greater than --leader-elect-renew-deadline (10s)',
    '--leader-elect-renew-deadline (10s) must be greater than 1.2 × --leader-elect-retry-period (9s)',
  ]);
  // Irrelevant when leader election is off.
  assert.deepEqual(
    readCommandLine([...base, '--leader-elect=false', '--leader-elect-lease-duration=1s']).errors,
    [],
  );
});

test('without --cluster-cidr the route controller does not start, as the Go CCM started', () => {
  const cmd = readCommandLine([...base, '--allocate-node-cidrs']);
  assert.deepEqual(cmd.errors, []);
  assert.ok(!cmd.controllers.some((c) => c.name === 'node-route-controller'));
  assert.ok(cmd.controllers.some((c) => c.name === 'cloud-node-controller'));
  assert.deepEqual(cmd.warnings, [
    'node-route-controller not started: --allocate-node-cidrs and --configure-cloud-routes need --cluster-cidr',
  ]);
  const withCidr = readCommandLine([
    ...base,
    '--allocate-node-cidrs',
    '--cluster-cidr=10.0.0.0/16',
  ]);
  assert.ok(withCidr.controllers.some((c) => c.name === 'node-route-controller'));
  assert.deepEqual(
    readCommandLine([...base, '--allocate-node-cidrs', '--configure-cloud-routes=false']).errors,
    [],
  );
});

test('--help lists every flag with its default; VERSION matches package.json', () => {
  const text = usage();
  for (const f of FLAGS) assert.ok(text.includes(`--${f.name}`), f.name);
  assert.match(text, /--leader-elect-lease-duration duration\s+.*\(default 15s\)/);
  assert.match(text, /--node-status-update-frequency duration\s+.*\(default 5m0s\)/);
  assert.match(text, /--use-service-account-credentials/);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  assert.equal(VERSION, pkg.version);
});

test('docs/configuration.md documents every flag with its default, and every ignored flag', () => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  for (const f of FLAGS) {
    const row = doc.split('\n').find((l) => l.startsWith('|') && l.includes(`--${f.name}\``));
    assert.ok(row, `no row for --${f.name}`);
    const def = defaultText(f);
    if (def !== '')
      assert.ok(row.includes(`\`${def}\``), `--${f.name} default ${def} not in: ${row}`);
  }
  for (const name of Object.keys(IGNORED_UPSTREAM_FLAGS))
    assert.ok(doc.includes(`\`--${name}\``), name);
});

test('--tls-min-version and --tls-cipher-suites: Go names as upstream; unknown ones are usage errors', () => {
  const base = ['--cloud-provider=oxide'];
  for (const ok of [
    [],
    ['--tls-min-version=VersionTLS12'],
    [
      '--tls-min-version=VersionTLS13',
      '--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
    ],
    ['--tls-cipher-suites=TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_AES_256_GCM_SHA384'],
  ])
    assert.deepEqual(readCommandLine([...base, ...ok]).errors, [], ok.join(' '));
  assert.deepEqual(
    readCommandLine([
      ...base,
      '--tls-min-version=TLSv1.2',
      '--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,ECDHE-RSA-AES128-GCM-SHA256,TLS_RSA_WITH_RC4_128_SHA',
    ]).errors,
    [
      '--tls-min-version: unknown tls version "TLSv1.2" (possible values: VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13)',
      "--tls-cipher-suites: cipher suite ECDHE-RSA-AES128-GCM-SHA256 not supported or doesn't exist",
      "--tls-cipher-suites: cipher suite TLS_RSA_WITH_RC4_128_SHA (OpenSSL RC4-SHA) is not available in this build's OpenSSL",
    ],
  );
});

test('secure-port authentication: prefix paths only with a trailing *, CA files need HTTPS', () => {
  const base = ['--cloud-provider=oxide'];
  assert.deepEqual(
    readCommandLine([...base, '--authorization-always-allow-paths=/healthz,/a*b,/debug/*']).errors,
    ['--authorization-always-allow-paths: only a trailing * is allowed, got "/a*b"'],
  );
  assert.deepEqual(
    readCommandLine([...base, '--metrics-plain-http', '--client-ca-file=/ca']).errors,
    [
      '--client-ca-file and --requestheader-client-ca-file need client certificates, so HTTPS; they cannot be combined with --metrics-plain-http',
    ],
  );
  assert.match(
    readCommandLine([...base, '--authorization-webhook-cache-authorized-ttl=-1s']).errors.join(),
    /^--authorization-webhook-cache-authorized-ttl: must not be negative/,
  );
});

// The Go CCM's --help, recorded in the repository (test/reference/README.md).
const GO_FLAGS = new URL('../../test/reference/go-ccm-v0.7.1-flags.txt', import.meta.url);

test('every flag of the Go CCM v0.7.1 binary is accepted', () => {
  const names = readFileSync(GO_FLAGS, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  assert.equal(names.length, 84);
  const ours = new Map(FLAGS.map((f) => [f.name, f]));
  // Values for flags whose default is empty and whose value is checked.
  const samples: Record<string, string[]> = {
    'cloud-provider': ['--cloud-provider=oxide'],
    'cluster-cidr': ['--cluster-cidr=10.0.0.0/16'],
    'tls-cert-file': ['--tls-cert-file=/c.pem', '--tls-private-key-file=/k.pem'],
    'tls-private-key-file': ['--tls-cert-file=/c.pem', '--tls-private-key-file=/k.pem'],
    'tls-min-version': ['--tls-min-version=VersionTLS13'],
    'tls-cipher-suites': ['--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
  };
  for (const name of names) {
    if (name === 'help' || name === 'version') continue;
    const spec = ours.get(name);
    assert.ok(spec || IGNORED_UPSTREAM_FLAGS[name], `--${name} is neither implemented nor ignored`);
    // A value our parser accepts for the flag's type: its own default, or any text when ignored.
    const value = spec
      ? spec.type === 'bool'
        ? 'true'
        : defaultText(spec) || 'x'
      : IGNORED_UPSTREAM_FLAGS[name] === 'bool'
        ? 'false'
        : 'x';
    const args = samples[name] ?? [`--${name}=${value}`];
    const { errors } = readCommandLine([...base, ...args]);
    assert.deepEqual(errors, [], args.join(' '));
    if (!spec && IGNORED_UPSTREAM_FLAGS[name] === 'value') {
      // The separate-argument form consumes exactly the next argument.
      const split = parseFlags([`--${name}`, value, '--cluster-name=after']);
      assert.deepEqual(split.errors, [], `--${name} ${value}`);
      assert.equal(split.options.clusterName, 'after', `--${name} ${value}`);
    }
  }
});

test('a huge flag value is echoed cut, with its length', () => {
  const { errors } = parseFlags([`--leader-elect-retry-period=${'x'.repeat(102_400)}`]);
  assert.equal(errors.length, 1);
  assert.ok((errors[0] ?? '').length < 300, `${errors[0]?.length} characters`);
  assert.match(errors[0] ?? '', /invalid duration "x+"… \(102400 characters\) \(examples/);
});

test('--cluster-cidr with a zone id is no CIDR (Oxide refuses it as a route destination)', () => {
  const base = ['--cloud-provider=oxide'];
  assert.deepEqual(readCommandLine([...base, '--cluster-cidr=fe80::%eth0/64']).errors, [
    '--cluster-cidr: "fe80::%eth0/64" is not a CIDR',
  ]);
  assert.deepEqual(
    readCommandLine([...base, '--cluster-cidr=fd00:10::/48,10.0.0.0/16']).errors,
    [],
  );
});
