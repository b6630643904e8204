// `node hack/routes-teardown.ts --cluster-name NAME [--cluster-id ID] [--vpc NAME ...] [--dry-run]`: removes the
// pod-CIDR routes, the `<cluster>-pods` router and its subnet attachments that the CCM's route
// controller made, for a cluster being torn down or whose route controller was turned off
// (docs/routes.md). Oxide credentials as the CCM reads them: OXIDE_HOST/OXIDE_TOKEN/OXIDE_PROJECT,
// OXIDE_PROFILE, or --cloud-config FILE; every project of a comma-separated OXIDE_PROJECT in turn
// (routes are per project). Stop the CCM's route controller first, or it recreates what this
// removes. --cluster-id: the cluster's identity (its kube-system UID, in the router's record;
// docs/clusters.md); without it only a router written before identities is removed.
import { parseArgs } from 'node:util';
import { loadOxideConfig } from '../src/config/oxide.ts';
import { OxideClient } from '../src/oxide/client.ts';
import { teardownRoutes } from './routes-teardown/teardown.ts';

const { values } = parseArgs({
  options: {
    'cluster-name': { type: 'string', default: 'kubernetes' },
    'cluster-id': { type: 'string', default: '' },
    vpc: { type: 'string', multiple: true, default: ['default'] },
    'cloud-config': { type: 'string', default: '' },
    'dry-run': { type: 'boolean', default: false },
  },
  strict: true,
});

const { settings, errors } = loadOxideConfig(process.env, values['cloud-config']);
if (!settings) {
  for (const e of errors) console.error(e);
  process.exit(2);
}
const client = new OxideClient({
  host: settings.host,
  token: settings.token,
  project: settings.project,
  ...(settings.ca ? { ca: settings.ca } : {}),
});
try {
  for (const project of settings.projects ?? [settings.project]) {
    const result = await teardownRoutes(client.forProject(project), {
      clusterName: values['cluster-name'],
      clusterId: values['cluster-id'],
      vpcs: values.vpc,
      dryRun: values['dry-run'],
      log: (line) => console.log(line),
    });
    console.log(
      `project ${project}: ${values['dry-run'] ? 'would remove' : 'removed'}: ${result.routesDeleted.length} route(s), ` +
        `${result.subnetsDetached.length} subnet attachment(s), ${result.routersDeleted.length} router(s)` +
        (result.routersKept.length > 0 ? `; kept ${result.routersKept.join(', ')}` : ''),
    );
  }
} catch (err) {
  console.error(`routes teardown failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await client.close();
}
