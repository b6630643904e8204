// A providerID naming an instance of another project in the silo (a view by id reaches it) is
// refused, by name of the project or its UUID in the configuration; never reported as gone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { V1Node } from '@kubernetes/client-node';
import { startSimulator } from '../../../sim/server.ts';
import type { Simulator } from '../../../sim/server.ts';
import { OxideClient } from '../../oxide/client.ts';
import { InstanceNotFoundError } from '../provider.ts';
import { ForeignInstanceError } from './instance-lookup.ts';
import { OxideCloudProvider } from './provider.ts';

let sim: Simulator;
let theirsId: string;
const clients: OxideClient[] = [];

function provider(project: string): OxideCloudProvider {
  const client = new OxideClient({ host: sim.url, token: sim.token, project, maxRetries: 0 });
  clients.push(client);
  return new OxideCloudProvider({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client,
    inventory: { ttlMs: 0 },
  });
}

const node = (name: string, id: string): V1Node => ({
  metadata: { name },
  spec: { providerID: `oxide://${id}` },
});

before(async () => {
  sim = await startSimulator({
    seed: {
      project: 'k8s',
      instances: [{ name: 'own', nics: [{ primary: true, v4: '172.30.0.5' }] }],
    },
    latencyMs: 0,
  });
  sim.db.addProject('other');
  theirsId = sim.db.addInstance({
    name: 'theirs',
    project: 'other',
    nics: [{ v4: '172.30.0.9' }],
  }).id;
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sim.stop();
});

test('another project’s instance: metadata refused, existence an error, never "gone"', async () => {
  const theirs = sim.db.findInstance(theirsId);
  const own = sim.db.findInstance('own');
  const projectId = sim.db.project('k8s').id;
  for (const configured of ['k8s', projectId]) {
    const instances = provider(configured).instances();
    await assert.rejects(
      instances.instanceMetadata(node('evil', theirs.id)),
      (err: unknown) =>
        err instanceof ForeignInstanceError &&
        !(err instanceof InstanceNotFoundError) &&
        err.message.includes(`instance ${theirs.id}`) &&
        err.message.includes('is not in project'),
    );
    await assert.rejects(instances.instanceExists(node('evil', theirs.id)), ForeignInstanceError);
    await assert.rejects(instances.instanceShutdown(node('evil', theirs.id)), ForeignInstanceError);
    // The project's own instance still resolves by id (from the inventory or a view).
    const md = await instances.instanceMetadata(node('own', own.id));
    assert.equal(md.providerID, `oxide://${own.id}`);
  }
});

test('the project id is looked up once per provider, and only when a view by id is needed', async () => {
  const theirs = sim.db.findInstance(theirsId);
  const instances = provider('k8s').instances();
  sim.requests.reset();
  await instances.instanceMetadata(node('own', sim.db.findInstance('own').id));
  assert.equal(sim.requests.count('project_view'), 0, 'found in the project inventory');
  for (let i = 0; i < 3; i++) {
    await assert.rejects(instances.instanceMetadata(node('evil', theirs.id)), ForeignInstanceError);
  }
  assert.equal(sim.requests.count('project_view'), 1);
});
