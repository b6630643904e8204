// Checks across flags that the parser cannot make one flag at a time. Each problem is one line.
import { isIP } from 'node:net';
import { clusterIdProblem, clusterNameProblem } from '../cloud/oxide/cluster.ts';
import {
  NAMED_FLOATING_IP_POLICIES,
  isNamedFloatingIpPolicy,
} from '../cloud/oxide/load-balancer/owner.ts';
import { LOGGING_FORMATS } from '../log.ts';
import { tlsPolicy } from './tls-policy.ts';
import { PROVIDER_NAME } from '../names.ts';
import { formatDuration } from './duration.ts';
import { FAILOVER_SIGNALS } from './failover-signals.ts';
import type { CcmOptions } from './options.ts';
import { quote } from '../util/quote.ts';

// client-go's leaderelection.JitterFactor: the renew deadline must leave room for one jittered
// retry, else NewLeaderElector refuses the configuration.
const JITTER_FACTOR = 1.2;

/**
 * As Go's net.ParseCIDR, which KCM applies to the same flag: node:net's isIP also takes a zone
 * id (`fe80::%eth0/64`), which no route destination can carry (Oxide refuses it, every time).
 */
function validCidr(text: string): boolean {
  const [ip, bits, extra] = text.split('/');
  if (ip === undefined || bits === undefined || extra !== undefined || !/^\d+$/.test(bits))
    return false;
  const family = ip.includes('%') ? 0 : isIP(ip);
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}

export function validateOptions(o: CcmOptions): string[] {
  const errors: string[] = [];
  if (o.cloudProvider === '')
    errors.push(`--cloud-provider is required and must be "${PROVIDER_NAME}"`);
  else if (o.cloudProvider !== PROVIDER_NAME)
    errors.push(
      `--cloud-provider ${quote(o.cloudProvider)} is not supported: this cloud-controller-manager only implements "${PROVIDER_NAME}"`,
    );
  const nameProblem = clusterNameProblem(o.clusterName);
  if (nameProblem) errors.push(nameProblem);
  const idProblem = o.clusterId === '' ? undefined : clusterIdProblem(o.clusterId);
  if (idProblem) errors.push(idProblem);
  if (!(LOGGING_FORMATS as readonly string[]).includes(o.loggingFormat))
    errors.push(
      `--logging-format ${quote(o.loggingFormat)} is not supported; use ${LOGGING_FORMATS.map((f) => JSON.stringify(f)).join(' or ')}`,
    );
  if (o.leaderElect) {
    const d = formatDuration;
    if (o.leaderElectLeaseDurationMs <= o.leaderElectRenewDeadlineMs)
      errors.push(
        `--leader-elect-lease-duration (${d(o.leaderElectLeaseDurationMs)}) must be greater than --leader-elect-renew-deadline (${d(o.leaderElectRenewDeadlineMs)})`,
      );
    if (o.leaderElectRenewDeadlineMs <= JITTER_FACTOR * o.leaderElectRetryPeriodMs)
      errors.push(
        `--leader-elect-renew-deadline (${d(o.leaderElectRenewDeadlineMs)}) must be greater than ${JITTER_FACTOR} × --leader-elect-retry-period (${d(o.leaderElectRetryPeriodMs)})`,
      );
    if (o.leaderElectResourceLock !== 'leases')
      errors.push(
        `--leader-elect-resource-lock ${quote(o.leaderElectResourceLock)} is not supported; use "leases"`,
      );
    if (o.leaderElectResourceNamespace === '')
      errors.push('--leader-elect-resource-namespace must not be empty');
    if (o.leaderElectResourceName === '')
      errors.push('--leader-elect-resource-name must not be empty');
  }
  if (!isNamedFloatingIpPolicy(o.oxideLoadBalancerNamedFloatingIps))
    errors.push(
      `--oxide-lb-named-floating-ips ${quote(o.oxideLoadBalancerNamedFloatingIps)} is not one of ${NAMED_FLOATING_IP_POLICIES.map((p) => JSON.stringify(p)).join(', ')}`,
    );
  if (o.securePort > 65535) errors.push(`--secure-port ${o.securePort} is not a port (0-65535)`);
  if (isIP(o.bindAddress) === 0)
    errors.push(`--bind-address ${quote(o.bindAddress)} is not an IP address`);
  if ((o.tlsCertFile === '') !== (o.tlsPrivateKeyFile === ''))
    errors.push('--tls-cert-file and --tls-private-key-file must be given together');
  errors.push(...tlsPolicy(o.tlsMinVersion, o.tlsCipherSuites).errors);
  if (o.metricsPlainHttp && o.tlsCertFile !== '')
    errors.push('--metrics-plain-http cannot be combined with --tls-cert-file');
  for (const path of o.authorizationAlwaysAllowPaths) {
    if (path.slice(0, -1).includes('*'))
      errors.push(
        `--authorization-always-allow-paths: only a trailing * is allowed, got ${quote(path)}`,
      );
  }
  if (o.metricsPlainHttp && (o.clientCaFile !== '' || o.requestheaderClientCaFile !== ''))
    errors.push(
      '--client-ca-file and --requestheader-client-ca-file need client certificates, so HTTPS; they cannot be combined with --metrics-plain-http',
    );
  const signals = o.lbFailover.filter((s) => s !== 'none');
  for (const s of signals) {
    if (!(FAILOVER_SIGNALS as readonly string[]).includes(s))
      errors.push(
        `--lb-failover: ${JSON.stringify(s)} is not one of ${[...FAILOVER_SIGNALS, 'none'].map((f) => JSON.stringify(f)).join(', ')}`,
      );
  }
  if (signals.length > 0 && o.lbFailover.includes('none'))
    errors.push('--lb-failover: "none" cannot be combined with a signal');
  if (o.lbHealthCheckPort > 65535)
    errors.push(`--lb-health-check-port ${o.lbHealthCheckPort} is not a port (1-65535)`);
  for (const cidr of o.clusterCidr
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    if (!validCidr(cidr)) errors.push(`--cluster-cidr: ${quote(cidr)} is not a CIDR`);
  }
  return errors;
}
