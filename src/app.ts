// The running program once configuration is valid: Kubernetes client → secure port → Oxide check
// (retried while the API is down: see oxide/startup.ts) → leader election → shared informers and
// the enabled controllers, until the signal aborts. Returns the process exit code; main.ts owns
// signals and process.exit.
import { hostname } from 'node:os';
import { OxideCloudProvider } from './cloud/oxide/provider.ts';
import { UNKNOWN_CLUSTER_ID } from './cloud/oxide/cluster.ts';
import type { ClusterIdentity } from './cloud/oxide/cluster.ts';
import { SharedNameWatch } from './cloud/oxide/same-name.ts';
import { isNamedFloatingIpPolicy } from './cloud/oxide/load-balancer/owner.ts';
import type { CloudProvider } from './cloud/provider.ts';
import type { CcmOptions } from './config/options.ts';
import type { OxideSettings } from './config/oxide.ts';
import type { ControllerContext } from './controllers/controller.ts';
import { controllerRunning } from './controllers/metrics.ts';
import { buildControllers } from './controllers/registry.ts';
import { KubeClient } from './kube/client.ts';
import { ClusterIdReader } from './kube/cluster-id.ts';
import { KubeEventRecorder } from './kube/events.ts';
import { SharedInformers } from './kube/informers.ts';
import { LeaderElector, LeaderFence } from './kube/leader-election.ts';
import type { Fence } from './kube/client.ts';
import type { Logger } from './log.ts';
import { registry } from './metrics-registry.ts';
import type { ControllerName } from './names.ts';
import { ROUTE_CONTROLLER } from './names.ts';
import { OxideClient } from './oxide/client.ts';
import { isOxideError } from './oxide/errors.ts';
import { OxideStartup, ProjectCheckError } from './oxide/startup.ts';
import type { StartupBackoff } from './oxide/startup.ts';
import type { RetryingServer } from './server/listen-retry.ts';
import { serveSecurePort } from './server/secure-port.ts';
import { userAgent } from './version.ts';
import { sleep } from './util/async.ts';

export interface AppConfig {
  options: CcmOptions;
  controllers: readonly ControllerName[];
  oxide: OxideSettings;
  /** How the start-up Oxide check backs off while the API is down (tests shorten it). */
  oxideStartupBackoff?: StartupBackoff;
  /** How often a start refused for a shared cluster name looks again (ms; tests shorten it). */
  sharedNameRecheckMs?: number;
}

/** Exit codes: 0 clean shutdown, 1 startup failure (see oxide/startup.ts) or lost leadership. */
export const EXIT_FAILURE = 1;

/**
 * One line an operator can act on, for a failed startup check. A project's check (with several
 * projects, each is checked) names that project.
 */
export function describeOxideFailure(
  outer: unknown,
  settings: OxideSettings,
  what: string,
): string {
  const project = outer instanceof ProjectCheckError ? outer.project : settings.project;
  const err = outer instanceof ProjectCheckError ? outer.cause : outer;
  const base = err instanceof Error ? err.message : String(err);
  if (!isOxideError(err)) return `${what} failed: ${base}`;
  const several = (settings.projects?.length ?? 1) > 1;
  switch (err.kind) {
    case 'auth':
      // 403: the token was accepted (/v1/me answered), but not for this operation.
      if (err.status === 403)
        return `Oxide API at ${settings.host} forbade ${err.operation} to this token (403): it lacks a permission on project ${JSON.stringify(project)} or the silo${several ? ' (the token needs access to every configured project)' : ''}: ${base}`;
      return `Oxide API at ${settings.host} rejected the token (${err.status}); check OXIDE_TOKEN: ${base}`;
    case 'not_found':
      return `Oxide project ${JSON.stringify(project)} not found at ${settings.host} (or not visible to this token)${several ? '; every configured project must exist' : ''}: ${base}`;
    case 'unavailable':
      return `cannot reach the Oxide API at ${settings.host}: ${base}`;
    default:
      return `${what} failed: ${base}`;
  }
}

/**
 * The Kubernetes client: kubeconfig, else in-cluster; --master overrides the server URL. A
 * client of the leader's work takes the leader's fence: it stops the moment leadership does.
 */
export function loadKube(options: CcmOptions, fence?: Fence): KubeClient {
  const clientOptions = {
    qps: options.kubeApiQps,
    burst: options.kubeApiBurst,
    userAgent: userAgent(),
    ...(fence ? { fence } : {}),
  };
  const client = KubeClient.load(options.kubeconfig || undefined, clientOptions);
  if (!options.master) return client;
  return new KubeClient(
    { ...client.config, server: options.master.replace(/\/+$/, '') },
    clientOptions,
  );
}

/** Readiness of the leader's work: informers synced and controllers started. */
class LeaderWork {
  synced = false;
  private informers: SharedInformers | undefined;
  /** Controllers whose run() threw: /healthz fails so the kubelet restarts the process. */
  readonly failed: string[] = [];
  private readonly kube: KubeClient;
  private readonly config: AppConfig;
  private readonly log: Logger;
  private readonly fence: Fence | undefined;

  constructor(kube: KubeClient, config: AppConfig, log: Logger, fence: Fence | undefined) {
    this.kube = kube;
    this.config = config;
    this.log = log;
    this.fence = fence;
  }

  /** Caches synced and the apiserver answering their client (see SharedInformers.health). */
  informerHealth(): string | undefined {
    if (!this.synced || !this.informers) return 'caches not synced yet';
    return this.informers.health();
  }

  async run(signal: AbortSignal, cloud: CloudProvider): Promise<void> {
    // Named loggers: the klog header's source says which part logged (docs/operations.md#logs).
    const informers = new SharedInformers(this.kube, this.log.named('informers'));
    this.informers = informers;
    const host = hostname();
    // Events go through a client of their own, like upstream's event broadcaster: recording
    // them never delays a controller's writes.
    const events = loadKube(this.config.options, this.fence);
    const contextFor = (): ControllerContext => ({
      kube: loadKube(this.config.options, this.fence),
      cloud,
      informers,
      recorder: (component, kind) =>
        new KubeEventRecorder(events, component, host, this.log.named('events'), { kind }),
      log: this.log,
      clusterName: this.config.options.clusterName,
    });
    const controllers = buildControllers(contextFor, this.config.options, this.config.controllers);
    informers.start(signal);
    const runs = controllers.map((c) => {
      this.log.info({ controller: c.name.name }, 'starting controller');
      // running_managed_controllers names controllers by upstream's short names (cloud-node, …).
      controllerRunning(c.name.alias, true);
      return c
        .run(signal)
        .catch((err: unknown) => {
          this.failed.push(c.name.name);
          this.log.error({ controller: c.name.name, err: String(err) }, 'controller failed');
        })
        .finally(() => controllerRunning(c.name.alias, false));
    });
    await informers
      .waitForSync(signal)
      .then(() => {
        this.synced = true;
        this.log.info({ controllers: controllers.map((c) => c.name.name) }, 'caches synced');
      })
      .catch(() => undefined);
    if (controllers.length === 0) {
      // As upstream's startControllers, which blocks until stopped whatever it started: the
      // process keeps serving health and metrics (and holding the Lease). Exiting 0 at once
      // looked like success and, under a Deployment, restarted in a loop.
      this.log.warn(
        'no controller runs (--controllers disabled them all, or their flags keep them off): ' +
          'serving health and metrics only until stopped',
      );
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    await Promise.all(runs);
    await informers.stopped();
    this.synced = false;
    this.log.info('controllers stopped');
  }
}

/**
 * The client for TokenReview / SubjectAccessReview: the given kubeconfig, else the controllers'
 * own configuration (--kubeconfig, else in-cluster). Upstream's QPS/burst for delegation (200 /
 * 400): probes and scrapes must not wait behind the controllers' budget.
 */
function delegationClient(options: CcmOptions, kubeconfig: string): KubeClient {
  const limits = { qps: 200, burst: 400 };
  if (kubeconfig !== '') return KubeClient.load(kubeconfig, { ...limits, userAgent: userAgent() });
  return loadKube({ ...options, kubeApiQps: limits.qps, kubeApiBurst: limits.burst });
}

/** The secure port with this process's checks (server/secure-port.ts serves them). */
function serve(
  options: CcmOptions,
  elector: LeaderElector | undefined,
  work: LeaderWork,
  oxide: OxideClient,
  startup: OxideStartup,
  cluster: () => string | undefined,
  log: Logger,
): Promise<RetryingServer | undefined> {
  const standby = (): boolean => elector !== undefined && !elector.isLeader();
  return serveSecurePort(
    options,
    {
      healthChecks: {
        ping: () => undefined,
        controllers: () =>
          work.failed.length === 0 ? undefined : `controllers failed: ${work.failed.join(', ')}`,
        ...(elector ? { leaderElection: () => elector.check() } : {}),
      },
      // A standby is ready: it is healthy and waiting, and a rolling update must be able to
      // proceed while the old replica leads. So past the start, these are the leader's.
      readyChecks: {
        // One check, two cases, told apart by the reason: at start, until the token and project
        // check out ("Oxide API not available (retrying): …"; down or failing at start is not
        // unhealthy, a restart would not help); then 30 s without a usable answer ("no usable
        // answer from the Oxide API for 31s: …").
        oxide: () => startup.notReady ?? (standby() ? undefined : oxide.unreachable()),
        informerSync: () => (standby() ? undefined : work.informerHealth()),
        // The leader's: the cluster identity not read yet, or another cluster under this
        // --cluster-name in a project (cloud/oxide/same-name.ts).
        cluster: () => (standby() ? undefined : cluster()),
      },
      metrics: registry,
    },
    (kubeconfig) => delegationClient(options, kubeconfig),
    log,
  );
}

export async function runApp(config: AppConfig, log: Logger, signal: AbortSignal): Promise<number> {
  const { options, oxide } = config;
  // Every Oxide call and every controller's Kubernetes call goes through this fence: once the
  // Lease is lost (or may be, after a freeze), nothing more is sent and what is in flight aborts.
  const fence = options.leaderElect ? new LeaderFence() : undefined;
  const client = new OxideClient({
    ...(fence ? { fence } : {}),
    host: oxide.host,
    token: oxide.token,
    project: oxide.project,
    timeoutMs: options.oxideRequestTimeoutMs,
    ...(oxide.ca ? { ca: oxide.ca } : {}),
  });
  let server: RetryingServer | undefined;
  try {
    let kube: KubeClient;
    try {
      kube = loadKube(options);
    } catch (err) {
      log.error(
        `cannot load Kubernetes client configuration: ${err instanceof Error ? err.message : String(err)}`,
      );
      return EXIT_FAILURE;
    }
    const work = new LeaderWork(kube, config, log, fence);
    const elector = options.leaderElect
      ? new LeaderElector({
          kube,
          namespace: options.leaderElectResourceNamespace,
          name: options.leaderElectResourceName,
          leaseDurationMs: options.leaderElectLeaseDurationMs,
          renewDeadlineMs: options.leaderElectRenewDeadlineMs,
          retryPeriodMs: options.leaderElectRetryPeriodMs,
          releaseOnCancel: true,
          ...(fence ? { fence } : {}),
          log: log.named('leader-election'),
        })
      : undefined;
    const startup = new OxideStartup(
      client,
      log,
      (err) => describeOxideFailure(err, oxide, 'Oxide startup check'),
      config.oxideStartupBackoff,
      oxide.projects ?? [oxide.project],
    );
    const identity = new ClusterIdReader(kube, log);
    let sharedName: SharedNameWatch | undefined;
    let refused: string | undefined;
    const clusterCheck = (): string | undefined =>
      (options.clusterId === '' ? identity.notReady : undefined) ??
      refused ??
      sharedName?.problem();
    // Serving comes first, so that /healthz and /readyz answer while the Oxide API is down.
    try {
      server = await serve(
        options,
        elector,
        work,
        client,
        startup,
        clusterCheck,
        log.named('server'),
      );
    } catch (err) {
      log.error(
        `cannot serve on ${options.bindAddress}:${options.securePort}: ${err instanceof Error ? err.message : String(err)}`,
      );
      return EXIT_FAILURE;
    }

    const checked = await startup.wait(signal);
    if (checked === 'aborted') return 0;
    if (checked === 'fatal') return EXIT_FAILURE;
    log.info(
      {
        host: oxide.host,
        project: oxide.project,
        ...((oxide.projects?.length ?? 1) > 1 ? { projects: oxide.projects } : {}),
        apiVersion: client.apiVersion,
      },
      'Oxide API reachable, token and project valid',
    );

    // The leader's first step (standbys wait for the Lease, not for these): the cluster's
    // identity, read once per process, then the look for another cluster under this name. The
    // provider is made from them; undefined when the signal ended the wait.
    let cloud: OxideCloudProvider | undefined;
    const prepare = async (s: AbortSignal): Promise<OxideCloudProvider | undefined> => {
      if (cloud) return cloud;
      const id = options.clusterId || (await identity.read(s, UNKNOWN_CLUSTER_ID));
      if (id === undefined) return undefined;
      const cluster: ClusterIdentity = { name: options.clusterName, id };
      log.info({ clusterName: cluster.name, clusterId: cluster.id }, 'cluster identity');
      const watch = new SharedNameWatch(cluster, log);
      sharedName = watch;
      // Never a silent tug of war: while the project's records show another cluster under this
      // name, this one does not start (nothing of either is touched) and says why.
      const recheckMs = config.sharedNameRecheckMs ?? 30_000;
      // The routers are looked at only where the route controller will run.
      const routesOn =
        config.controllers.some((c) => c.name === ROUTE_CONTROLLER.name) &&
        options.allocateNodeCidrs &&
        options.configureCloudRoutes;
      for (;;) {
        try {
          refused = await watch.check(
            (oxide.projects ?? [oxide.project]).map((p) => client.forProject(p)),
            routesOn ? { vpc: options.oxideRoutesVpc } : undefined,
            s,
          );
        } catch (err) {
          if (s.aborted) return undefined;
          refused = `cannot check the project's records for another cluster of this name (retrying): ${err instanceof Error ? err.message : String(err)}`;
          log.warn(refused);
        }
        if (refused === undefined) break;
        await sleep(recheckMs, s);
        if (s.aborted) return undefined;
      }
      cloud = new OxideCloudProvider({
        client,
        cluster,
        sharedName: watch,
        ...(oxide.projects ? { projects: oxide.projects } : {}),
        loadBalancerFirewall: options.oxideLoadBalancerFirewall,
        // validateOptions refused anything else.
        ...(isNamedFloatingIpPolicy(options.oxideLoadBalancerNamedFloatingIps)
          ? { namedFloatingIps: options.oxideLoadBalancerNamedFloatingIps }
          : {}),
        ...(options.oxideRoutesVpc !== '' ? { routesVpc: options.oxideRoutesVpc } : {}),
        ...(oxide.region ? { region: oxide.region } : {}),
        ...(oxide.zone ? { zone: oxide.zone } : {}),
        // A failed NIC walk is tried again once per address refresh.
        inventory: {
          walkRetryMs: options.nodeStatusUpdateFrequencyMs,
          log: log.named('oxide-inventory'),
        },
        logger: log.named('oxide-load-balancer'),
      });
      return cloud;
    };
    const lead = async (s: AbortSignal): Promise<void> => {
      const prepared = await prepare(s);
      if (prepared) await work.run(s, prepared);
    };

    if (!elector) {
      await lead(signal);
      return 0;
    }
    const outcome = await elector.run(signal, { onStartedLeading: lead });
    return outcome === 'lost' ? EXIT_FAILURE : 0;
  } finally {
    await server?.close();
    await client.close();
  }
}
