// Nodes in several projects (--oxide-projects a,b): the Instances capability against the
// simulator, whose silo holds the two configured projects and a third one that is not. A
// providerID finds its instance in whichever configured project holds it (the instance's
// project_id says which); a Node without one is looked up by name in every project; a name in
// two projects is ambiguous; an unconfigured project's instance is refused; and only a 404 says
// an instance is gone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { V1Node } from '@kubernetes/client-node';
import { startSimulator } from '../../../sim/server.ts';
import type { Simulator } from '../../../sim/server.ts';
import { OxideClient } from '../../oxide/client.ts';
import { AmbiguousInstanceError, ForeignInstanceError } from './instance-lookup.ts';
import { ADDITIONAL_LABELS } from './metadata.ts';
import { OxideCloudProvider } from './provider.ts';

let sim: Simulator;
const clients: OxideClient[] = [];

function provider(projects: string[], ttlMs = 0): OxideCloudProvider {
  const client = new OxideClient({
    host: sim.url,
    token: sim.token,
    project: projects[0] ?? 'a',
    maxRetries: 0,
  });
  clients.push(client);
  return new OxideCloudProvider({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client,
    projects,
    inventory: { ttlMs },
  });
}

const node = (name: string, providerID?: string, project?: string): V1Node => ({
  metadata: { name, ...(project ? { labels: { [ADDITIONAL_LABELS.project]: project } } : {}) },
  spec: providerID ? { providerID } : {},
});

const idOf = (name: string, project: string): string => {
  const p = sim.db.project(project);
  const found = sim.db.instances.find((i) => i.name === name && i.projectId === p.id);
  if (!found) throw new Error(`no instance ${name} in ${project}`);
  return found.id;
};

/** Instance lists of a project (first pages: the query names the project). */
const lists = (project: string): number =>
  sim.requests.entries.filter(
    (e) =>
      e.operationId === 'instance_list' &&
      e.query.includes(`project=${project}&`) &&
      !e.query.includes('page_token'),
  ).length;

before(async () => {
  sim = await startSimulator({
    seed: {
      project: 'a',
      instances: [
        { name: 'a1', nics: [{ primary: true, v4: '172.30.0.5' }] },
        { name: 'twin', nics: [{ primary: true, v4: '172.30.0.6' }] },
      ],
    },
    latencyMs: 0,
  });
  sim.db.addProject('b');
  sim.db.addProject('c');
  sim.db.addInstance({ name: 'b1', project: 'b', nics: [{ primary: true, v4: '172.30.0.7' }] });
  sim.db.addInstance({ name: 'twin', project: 'b', nics: [{ primary: true, v4: '172.30.0.8' }] });
  sim.db.addInstance({ name: 'c1', project: 'c', nics: [{ primary: true, v4: '172.30.0.9' }] });
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sim.stop();
});

test('a providerID in the second project: providerID, addresses and project label from there', async () => {
  const instances = provider(['a', 'b']).instances();
  const id = idOf('b1', 'b');
  const md = await instances.instanceMetadata(node('b1', `oxide://${id}`));
  assert.equal(md.providerID, `oxide://${id}`);
  assert.deepEqual(md.nodeAddresses, [
    { type: 'Hostname', address: 'b1' },
    { type: 'InternalIP', address: '172.30.0.7' },
  ]);
  assert.equal(md.additionalLabels[ADDITIONAL_LABELS.project], 'b');
  assert.equal(await instances.instanceExists(node('b1', `oxide://${id}`)), true);
  // The same instance by name alone: found in b, not in a.
  const byName = await instances.instanceMetadata(node('b1'));
  assert.equal(byName.providerID, `oxide://${id}`);
});

test('one project configured: the second project’s instance is refused, never "gone"', async () => {
  const instances = provider(['a']).instances();
  const id = idOf('b1', 'b');
  await assert.rejects(
    instances.instanceMetadata(node('b1', `oxide://${id}`)),
    (err: unknown) =>
      err instanceof ForeignInstanceError && /is not in project a;/.test(err.message),
  );
  await assert.rejects(instances.instanceExists(node('b1', `oxide://${id}`)), ForeignInstanceError);
});

test('an instance of an unconfigured project is refused, naming the configured ones', async () => {
  const instances = provider(['a', 'b']).instances();
  const id = idOf('c1', 'c');
  await assert.rejects(
    instances.instanceMetadata(node('c1', `oxide://${id}`)),
    (err: unknown) =>
      err instanceof ForeignInstanceError && err.message.includes('is not in projects a, b'),
  );
  await assert.rejects(instances.instanceExists(node('c1', `oxide://${id}`)), ForeignInstanceError);
  // By name it is simply not in any configured project.
  assert.equal(await instances.instanceExists(node('c1')), false);
});

test('a name in two configured projects is ambiguous: an error naming both, never a guess', async () => {
  const instances = provider(['a', 'b']).instances();
  await assert.rejects(
    instances.instanceMetadata(node('twin')),
    (err: unknown) =>
      err instanceof AmbiguousInstanceError &&
      err.message.includes(`${idOf('twin', 'a')} in project a`) &&
      err.message.includes(`${idOf('twin', 'b')} in project b`),
  );
  await assert.rejects(instances.instanceExists(node('twin')), AmbiguousInstanceError);
  // With its providerID the Node is not ambiguous.
  const md = await instances.instanceMetadata(node('twin', `oxide://${idOf('twin', 'b')}`));
  assert.equal(md.additionalLabels[ADDITIONAL_LABELS.project], 'b');
});

test('gone only on a 404: an instance deleted in b is gone, the ones in a are not', async () => {
  const instances = provider(['a', 'b']).instances();
  const gone = sim.db.addInstance({ name: 'b-gone', project: 'b', nics: [{ primary: true }] });
  const providerID = `oxide://${gone.id}`;
  assert.equal(await instances.instanceExists(node('b-gone', providerID)), true);
  sim.db.deleteInstance(gone.id);
  assert.equal(await instances.instanceExists(node('b-gone', providerID)), false);
  assert.equal(await instances.instanceExists(node('b-gone')), false);
  assert.equal(await instances.instanceExists(node('a1', `oxide://${idOf('a1', 'a')}`)), true);
});

test('the Node’s project label is read first: a lookup by id lists only that project', async () => {
  const instances = provider(['a', 'b'], 60_000).instances();
  const id = idOf('b1', 'b');
  sim.requests.reset();
  for (let i = 0; i < 5; i++) {
    await instances.instanceShutdown(node('b1', `oxide://${id}`, 'b'));
  }
  assert.equal(lists('b'), 1, 'one list of b serves every lookup');
  assert.equal(lists('a'), 0, 'project a is not listed for a Node labelled b');
  assert.equal(sim.requests.count('instance_view'), 0);
});

/** First pages of a list operation for a project. */
const firstPages = (operation: string, project: string): number =>
  sim.requests.entries.filter(
    (e) =>
      e.operationId === operation &&
      e.query.includes(`project=${project}&`) &&
      !e.query.includes('page_token'),
  ).length;

test('calls grow only with projects in use: 20 Nodes of b joining cost one list and one NIC walk of b', async () => {
  const names = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
  for (const [i, name] of names.entries()) {
    sim.db.addInstance({ name, project: 'b', nics: [{ primary: true, v4: `172.30.3.${i + 10}` }] });
  }
  // Registered by name (kubelet without --provider-id): a name is looked for in every project.
  const byName = provider(['a', 'b'], 60_000).instances();
  sim.requests.reset();
  const joined = await Promise.all(names.map((n) => byName.instanceMetadata(node(n))));
  assert.ok(joined.every((md) => md.additionalLabels[ADDITIONAL_LABELS.project] === 'b'));
  assert.equal(firstPages('instance_list', 'b'), 1);
  assert.equal(firstPages('instance_list', 'a'), 1, 'a is listed once for all 20 names');
  assert.equal(firstPages('vpc_list', 'b'), 1, 'one NIC walk of b');
  assert.equal(firstPages('vpc_list', 'a'), 0, 'no NIC walk of a, which has none of them');
  assert.equal(sim.requests.count('instance_network_interface_list'), 0);
  // Initialized Nodes (providerID and project label): a is not read at all.
  const byId = provider(['a', 'b'], 60_000).instances();
  sim.requests.reset();
  await Promise.all(
    names.map((n) => byId.instanceMetadata(node(n, `oxide://${idOf(n, 'b')}`, 'b'))),
  );
  assert.equal(firstPages('instance_list', 'b'), 1);
  assert.equal(firstPages('instance_list', 'a'), 0);
  assert.equal(firstPages('vpc_list', 'a'), 0);
  assert.equal(sim.requests.count('project_view'), 0);
});
