// The process's one Prometheus registry, filled here at the composition root from the families
// each layer declares beside its code (src/kube/metrics.ts, src/controllers/metrics.ts and each
// controller's metrics.ts (the service controller's failover: failover/metrics.ts), src/oxide/metrics.ts, src/server/delegated-metrics.ts), as upstream's
// packages register theirs into component-base's legacy registry. Where upstream (client-go,
// component-base, k8s.io/cloud-provider, k8s.io/controller-manager) has a metric for the same
// thing, ours has its name, labels, label values and buckets, so dashboards and alerts written for
// the Go CCM keep working; docs/metrics.md is generated from this registry (`make metrics-doc`)
// and says which upstream family each one mirrors. Ours carry the `oxide_` prefix.
import { Gauge, Registry } from 'prom-client';
import { registerControllerMetrics } from './controllers/metrics.ts';
import { registerNodeControllerMetrics } from './controllers/node/metrics.ts';
import { registerFailoverMetrics } from './controllers/service/failover/metrics.ts';
import { registerServiceControllerMetrics } from './controllers/service/metrics.ts';
import { registerStateMetrics } from './controllers/state-metrics.ts';
import { registerKubeMetrics } from './kube/metrics.ts';
import { releaseForApiVersion } from './oxide/api-version.ts';
import { registerOxideMetrics } from './oxide/metrics.ts';
import { registerDelegatedMetrics } from './server/delegated-metrics.ts';
import { compareNames } from './util/compare.ts';
import { VERSION } from './version.ts';

export const registry = new Registry();

registerKubeMetrics(registry);
registerControllerMetrics(registry);
registerNodeControllerMetrics(registry);
registerServiceControllerMetrics(registry);
registerFailoverMetrics(registry);
registerStateMetrics(registry);
registerOxideMetrics(registry);
registerDelegatedMetrics(registry);

// ---- build info (component-base/metrics kubernetes_build_info, and ours) ------------------------

const [major = '0', minor = '0'] = VERSION.split('.');
const platform = `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`;

/**
 * Set at build time by hack/bundle.ts (esbuild define): the commit, clean or dirty, and the build
 * date (the commit time, for reproducible images). A run from source does not know which commit
 * it runs, so all three are empty rather than guessed.
 */
declare const __OCCM_GIT_COMMIT__: string | undefined;
declare const __OCCM_GIT_TREE_STATE__: string | undefined;
declare const __OCCM_BUILD_DATE__: string | undefined;
const gitCommit = typeof __OCCM_GIT_COMMIT__ === 'string' ? __OCCM_GIT_COMMIT__ : '';
const gitTreeState = typeof __OCCM_GIT_TREE_STATE__ === 'string' ? __OCCM_GIT_TREE_STATE__ : '';
const buildDate = typeof __OCCM_BUILD_DATE__ === 'string' ? __OCCM_BUILD_DATE__ : '';

export const buildInfoMetrics = {
  kubernetes: new Gauge({
    name: 'kubernetes_build_info',
    help: "A metric with a constant '1' value labeled by major, minor, git version, git commit, git tree state, build date, Go version, and compiler from which Kubernetes was built, and platform on which it is running.",
    labelNames: [
      'major',
      'minor',
      'git_version',
      'git_commit',
      'git_tree_state',
      'build_date',
      'go_version',
      'compiler',
      'platform',
    ],
    registers: [registry],
  }),
  ours: new Gauge({
    name: 'oxide_cloud_controller_manager_build_info',
    help: "A metric with a constant '1' value labeled by this program's version, git commit, the Node.js version running it and the Oxide API version it speaks.",
    labelNames: ['version', 'git_commit', 'nodejs_version', 'oxide_api_version'],
    registers: [registry],
  }),
};
// The CCM's own version, as third-party CCMs built with -ldflags report theirs; the runtime
// stands in for Go: go_version is the Node.js version, compiler "nodejs".
buildInfoMetrics.kubernetes.set(
  {
    major,
    minor,
    git_version: `v${VERSION}`,
    git_commit: gitCommit,
    git_tree_state: gitTreeState,
    build_date: buildDate,
    go_version: process.version,
    compiler: 'nodejs',
    platform,
  },
  1,
);
buildInfoMetrics.ours.set(
  {
    version: VERSION,
    git_commit: gitCommit,
    nodejs_version: process.version,
    oxide_api_version: releaseForApiVersion().apiVersion,
  },
  1,
);

// ---- introspection (docs/metrics.md and the parity test) ----------------------------------------

export interface FamilyDescription {
  name: string;
  type: string;
  help: string;
  /** Sorted. */
  labels: string[];
  /** Histogram upper bounds, without +Inf. */
  buckets?: number[];
}

/** Every family in the registry, sorted by name. */
export function describeFamilies(): FamilyDescription[] {
  return registry
    .getMetricsAsArray()
    .map((m) => {
      const raw = m as unknown as {
        labelNames?: readonly string[];
        upperBounds?: readonly number[];
      };
      const d: FamilyDescription = {
        name: m.name,
        type: String(m.type),
        help: m.help,
        labels: [...(raw.labelNames ?? [])].sort(),
      };
      if (d.type === 'histogram' && raw.upperBounds) d.buckets = [...raw.upperBounds];
      return d;
    })
    .sort((a, b) => compareNames(a.name, b.name));
}
