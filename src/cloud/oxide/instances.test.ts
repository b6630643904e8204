// The Instances provider against the real simulator over HTTP: lookup, existence, shutdown,
// metadata, retries, and how many Oxide calls a burst of Nodes costs.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node } from '@kubernetes/client-node';
import { startSimulator } from '../../../sim/server.ts';
import { OxideClient } from '../../oxide/client.ts';
import type { OxideClientOptions } from '../../oxide/client.ts';
import { OxideError } from '../../oxide/errors.ts';
import { InstanceNotFoundError } from '../provider.ts';
import type { InstanceMetadata } from '../provider.ts';
import { AmbiguousInstanceError } from './instance-lookup.ts';
import { OxideCloudProvider } from './provider.ts';
import { listInstances, viewInstanceByName } from '../../oxide/instances.ts';
import { viewCurrentUser, viewProject } from '../../oxide/projects.ts';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../log.ts';
import { inventoryMetrics } from '../../oxide/metrics.ts';

type Sim = Awaited<ReturnType<typeof startSimulator>>;

const GONE_ID = '6a1f8a0e-5b7c-4d2e-9f30-1234567890ab';

let sim: Sim;
const clients: OxideClient[] = [];

function client(overrides: Partial<OxideClientOptions> = {}): OxideClient {
  const c = new OxideClient({
    host: sim.url,
    token: sim.token,
    project: sim.project,
    timeoutMs: 300,
    maxRetries: 2,
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    ...overrides,
  });
  clients.push(c);
  return c;
}

/** A provider whose inventory never serves stale state, so each test sees the sim as it is. */
function provider(overrides: Partial<OxideClientOptions> = {}, ttlMs = 0) {
  return new OxideCloudProvider({
    cluster: { name: 'kubernetes', id: 'cluster-a' },
    client: client(overrides),
    inventory: { ttlMs },
  });
}

/** The v6 address the simulator allocated (VPC prefixes are random ULAs, as in Nexus). */
function v6(instanceName: string, nicName = 'net0'): string {
  const instance = sim.db.findInstance(instanceName);
  const nic = sim.db.nics.find((n) => n.instanceId === instance.id && n.name === nicName);
  const stack = nic?.ipStack;
  if (stack?.type === 'v6') return stack.value.ip;
  if (stack?.type === 'dual_stack') return stack.value.v6.ip;
  throw new Error(`${instanceName}/${nicName} has no v6 address`);
}

function node(name: string, providerID?: string): V1Node {
  return { metadata: { name }, spec: providerID ? { providerID } : {} };
}

before(async () => {
  sim = await startSimulator({
    seed: {
      project: 'k8s',
      instances: [
        {
          name: 'n1',
          hostname: 'n1',
          ncpus: 4,
          memoryGiB: 16,
          nics: [{ primary: true, v4: '172.30.0.5', v6: 'auto' }],
          ephemeralIp: '198.51.100.20',
          snatIp: '198.51.100.21',
        },
      ],
    },
    latencyMs: 0,
  });
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sim.stop();
});

beforeEach(() => {
  sim.faults.clear();
});

describe('lookup', () => {
  it('by Node name = instance name, with Go CCM metadata', async () => {
    const md = await provider().instances().instanceMetadata(node('n1'));
    const n1 = await viewInstanceByName(client(), 'n1');
    assert.equal(md.providerID, `oxide://${n1.id}`);
    assert.equal(md.instanceType, '4-16');
    assert.deepEqual(md.nodeAddresses, [
      { type: 'Hostname', address: 'n1' },
      { type: 'InternalIP', address: '172.30.0.5' },
      { type: 'InternalIP', address: v6('n1') },
      { type: 'ExternalIP', address: '198.51.100.20' },
    ]);
    assert.deepEqual(md.additionalLabels, {
      'oxide.computer/instance-id': n1.id,
      'oxide.computer/project': 'k8s',
    });
    assert.equal(md.zone, '');
    assert.equal(md.region, '');
  });

  it('by providerID, whatever the Node is called', async () => {
    const inst = sim.db.addInstance({
      name: 'by-id',
      hostname: 'by-id',
      nics: [{ v4: '172.30.0.20' }],
    });
    const md = await provider()
      .instances()
      .instanceMetadata(node('unrelated', `oxide://${inst.id}`));
    assert.equal(md.providerID, `oxide://${inst.id}`);
    assert.deepEqual(
      md.nodeAddresses.map((a) => a.address),
      ['by-id', '172.30.0.20'],
    );
  });

  it('by hostname when no instance has the Node name', async () => {
    const inst = sim.db.addInstance({ name: 'capi-abc12', hostname: 'worker-h1' });
    const md = await provider().instances().instanceMetadata(node('worker-h1'));
    assert.equal(md.providerID, `oxide://${inst.id}`);
    assert.equal(md.nodeAddresses[0]?.address, 'worker-h1');
  });

  it('two candidates (one by name, one by hostname) is an ambiguity error, not a guess', async () => {
    sim.db.addInstance({ name: 'amb', hostname: 'amb-host' });
    sim.db.addInstance({ name: 'amb-other', hostname: 'amb' });
    const instances = provider().instances();
    await assert.rejects(instances.instanceMetadata(node('amb')), (err: unknown) => {
      assert.ok(err instanceof AmbiguousInstanceError);
      assert.match(err.message, /ambiguous/);
      assert.match(err.message, /amb-other/);
      return true;
    });
    await assert.rejects(instances.instanceExists(node('amb')), AmbiguousInstanceError);
  });

  it('a missing instance is InstanceNotFoundError for metadata', async () => {
    await assert.rejects(
      provider().instances().instanceMetadata(node('never-was')),
      InstanceNotFoundError,
    );
  });
});

describe('instanceExists', () => {
  it('true by providerID and by name', async () => {
    const n1 = await viewInstanceByName(client(), 'n1');
    const instances = provider().instances();
    assert.equal(await instances.instanceExists(node('x', `oxide://${n1.id}`)), true);
    assert.equal(await instances.instanceExists(node('n1')), true);
  });

  it('missing from the inventory is not proof: true until a view by id answers 404', async () => {
    const p = provider({}, 60_000);
    const instances = p.instances();
    await p.inventory.snapshot(); // cached for a minute, before 'late' exists
    const late = sim.db.addInstance({ name: 'late', hostname: 'late' });
    const byId = node('late', `oxide://${late.id}`);
    assert.equal(await instances.instanceExists(byId), true);
    sim.db.deleteInstance('late');
    sim.requests.reset();
    assert.equal(await instances.instanceExists(byId), false);
    assert.equal(sim.requests.count('instance_view'), 1, 'absence confirmed by a direct view');
    assert.equal(sim.requests.count('instance_list'), 0);
  });

  it('false by name only after a fresh list and a view by name both miss', async () => {
    const instances = provider().instances();
    sim.requests.reset();
    assert.equal(await instances.instanceExists(node('no-such-node')), false);
    assert.ok(sim.requests.count('instance_list') >= 1);
    assert.equal(sim.requests.count('instance_view'), 1);
  });

  const faults = [
    ['503', { status: 503 }],
    ['500', { status: 500 }],
    ['timeout', { timeout: true }],
    ['429', { status: 429, retryAfterSeconds: 0 }],
    ['401', { status: 401 }],
    ['dropped connection', { drop: true }],
  ] as const;
  for (const [label, fault] of faults) {
    it(`throws, never false, on ${label} while confirming by id`, async () => {
      sim.faults.add({ operation: 'instance_view', times: 100, ...fault });
      await assert.rejects(
        provider()
          .instances()
          .instanceExists(node('gone', `oxide://${GONE_ID}`)),
        (err: unknown) => err instanceof OxideError && err.kind !== 'not_found',
      );
    });
    it(`throws, never false, on ${label} while listing for a name lookup`, async () => {
      sim.faults.add({ operation: 'instance_list', times: 100, ...fault });
      await assert.rejects(
        provider().instances().instanceExists(node('no-such-node')),
        (err: unknown) => err instanceof OxideError && err.kind !== 'not_found',
      );
    });
  }

  it('an unparseable providerID throws instead of reporting the Node gone', async () => {
    await assert.rejects(
      provider().instances().instanceExists(node('x', 'aws:///i-123')),
      /oxide:\/\//,
    );
  });
});

describe('instanceShutdown', () => {
  it('follows run_state: stopped is shut down, running is not', async () => {
    const inst = sim.db.addInstance({ name: 'sleepy', hostname: 'sleepy' });
    const instances = provider().instances();
    const byId = node('sleepy', `oxide://${inst.id}`);
    assert.equal(await instances.instanceShutdown(byId), false);
    sim.db.setRunState('sleepy', 'stopped');
    assert.equal(await instances.instanceShutdown(byId), true);
    assert.equal(await instances.instanceShutdown(node('sleepy')), true);
    sim.db.setRunState('sleepy', 'running');
    assert.equal(await instances.instanceShutdown(byId), false);
  });

  it('a definitively missing instance is InstanceNotFoundError', async () => {
    await assert.rejects(
      provider()
        .instances()
        .instanceShutdown(node('x', `oxide://${GONE_ID}`)),
      InstanceNotFoundError,
    );
  });
});

describe('instanceMetadata addresses', () => {
  const addresses = async (name: string, pageSize?: number) =>
    (
      await provider(pageSize ? { pageSize } : {})
        .instances()
        .instanceMetadata(node(name))
    ).nodeAddresses;

  it('v4-only', async () => {
    sim.db.addInstance({
      name: 'only4',
      hostname: 'only4',
      nics: [{ primary: true, v4: '172.30.1.4' }],
    });
    assert.deepEqual(await addresses('only4'), [
      { type: 'Hostname', address: 'only4' },
      { type: 'InternalIP', address: '172.30.1.4' },
    ]);
  });

  it('v6-only', async () => {
    sim.db.addInstance({ name: 'only6', hostname: 'only6', nics: [{ primary: true, v6: 'auto' }] });
    assert.deepEqual(await addresses('only6'), [
      { type: 'Hostname', address: 'only6' },
      { type: 'InternalIP', address: v6('only6') },
    ]);
  });

  it('multi-NIC across several NIC pages, NIC by NIC in API order', async () => {
    sim.db.addInstance({
      name: 'multi',
      hostname: 'multi',
      nics: [
        { name: 'net0', primary: true, v4: '172.30.2.10', v6: 'auto' },
        { name: 'net1', v4: '172.30.2.11' },
        { name: 'net2', v6: 'auto' },
      ],
    });
    sim.requests.reset();
    assert.deepEqual(await addresses('multi', 2), [
      { type: 'Hostname', address: 'multi' },
      { type: 'InternalIP', address: '172.30.2.10' },
      { type: 'InternalIP', address: v6('multi', 'net0') },
      { type: 'InternalIP', address: '172.30.2.11' },
      { type: 'InternalIP', address: v6('multi', 'net2') },
    ]);
    assert.ok(
      sim.requests.count('vpc_subnet_list_network_interfaces') >= 2,
      'read every NIC page of the subnet',
    );
  });

  it('floating IP is an ExternalIP, SNAT never', async () => {
    sim.db.addInstance({
      name: 'fipped',
      hostname: 'fipped',
      nics: [{ primary: true, v4: '172.30.3.3' }],
      snatIp: 'auto',
    });
    sim.db.createFloatingIp({ name: 'fip-1', ip: '198.51.100.77', instance: 'fipped' });
    assert.deepEqual(await addresses('fipped'), [
      { type: 'Hostname', address: 'fipped' },
      { type: 'InternalIP', address: '172.30.3.3' },
      { type: 'ExternalIP', address: '198.51.100.77' },
    ]);
  });
});

describe('client', () => {
  it('retries a 503 and then succeeds', async () => {
    sim.faults.add({ operation: 'instance_view', status: 503, times: 2 });
    sim.requests.reset();
    const inst = await viewInstanceByName(client(), 'n1');
    assert.equal(inst.name, 'n1');
    assert.equal(sim.requests.count('instance_view'), 3);
  });

  it('honours Retry-After on 429', async () => {
    sim.faults.add({ operation: 'instance_view', status: 429, retryAfterSeconds: 1, times: 1 });
    const started = performance.now();
    await viewInstanceByName(client(), 'n1');
    assert.ok(performance.now() - started >= 900, 'waited for Retry-After');
  });

  it('never retries a 404', async () => {
    sim.requests.reset();
    await assert.rejects(viewInstanceByName(client(), 'nope'), (err: unknown) => {
      return err instanceof OxideError && err.kind === 'not_found' && err.status === 404;
    });
    assert.equal(sim.requests.count('instance_view'), 1);
  });

  it('checks credentials and the project; a bad token is auth and never echoed', async () => {
    await viewCurrentUser(client());
    assert.equal((await viewProject(client())).name, 'k8s');
    const secret = 'oxide-token-not-the-real-one-1234567890';
    await assert.rejects(viewCurrentUser(client({ token: secret })), (err: unknown) => {
      assert.ok(err instanceof OxideError);
      assert.equal(err.kind, 'auth');
      assert.ok(!`${err.message} ${err.stack} ${JSON.stringify(err)}`.includes(secret));
      return true;
    });
    await assert.rejects(viewProject(client({ project: 'nope' })), /not_found|not found/i);
  });

  it('the token appears in no error, whatever the failure', async () => {
    for (const fault of [{ status: 503 }, { timeout: true }, { drop: true }, { status: 400 }]) {
      sim.faults.clear();
      sim.faults.add({ operation: 'instance_list', times: 100, ...fault });
      await assert.rejects(listInstances(client()), (err: unknown) => {
        assert.ok(err instanceof OxideError);
        assert.ok(!`${err.message} ${err.stack} ${JSON.stringify(err)}`.includes(sim.token));
        return true;
      });
    }
  });
});

describe('inventory', () => {
  // These count calls: a per-request timeout on a loaded machine would add retries to the count,
  // so they get a timeout far above any round trip here (the timeout tests use the short one).
  const counting = { timeoutMs: 30_000 };

  it('100 concurrent instanceMetadata calls cost one instance_list and one NIC walk', async () => {
    for (let i = 0; i < 100; i++) {
      sim.db.addInstance({ name: `burst-${i}`, hostname: `burst-${i}`, nics: [{ v4: 'auto' }] });
    }
    const instances = provider(counting, 2_000).instances();
    sim.requests.reset();
    const all = await Promise.all(
      Array.from({ length: 100 }, (_, i) => instances.instanceMetadata(node(`burst-${i}`))),
    );
    assert.equal(new Set(all.map((m) => m.providerID)).size, 100);
    // One scan of the project: its first page plus the empty last page Dropshot always ends with.
    const lists = sim.requests.entries.filter((e) => e.operationId === 'instance_list');
    assert.equal(lists.filter((e) => !e.query.includes('page_token')).length, 1, 'one scan');
    assert.equal(lists.length, 2);
    assert.equal(sim.requests.count('instance_view'), 0);
    // NICs: one walk of the project's subnets (one subnet: its page and the empty last page).
    assert.equal(sim.requests.count('instance_network_interface_list'), 0);
    assert.equal(sim.requests.count('vpc_list'), 1);
    assert.equal(sim.requests.count('vpc_subnet_list'), 1);
    assert.equal(sim.requests.count('vpc_subnet_list_network_interfaces'), 2);
    // Ephemeral and SNAT addresses exist only per instance.
    assert.equal(sim.requests.count('instance_external_ip_list'), 100);
  });

  it('an address refresh costs list pages, not a call per Node; a floating IP shows at the next refresh', async () => {
    for (let i = 0; i < 100; i++) {
      sim.db.addInstance({
        name: `rf-${i}`,
        hostname: `rf-${i}`,
        nics: [{ v4: 'auto' }],
        ...(i === 0 ? { ephemeralIp: 'auto' } : {}),
      });
    }
    const p = new OxideCloudProvider({
      cluster: { name: 'kubernetes', id: 'cluster-a' },
      client: client(counting),
      inventory: { ttlMs: 2_000, instanceIpTtlMs: 60_000 },
    });
    const instances = p.instances();
    const all = (): Promise<Awaited<ReturnType<typeof instances.instanceMetadata>>[]> =>
      Promise.all(
        Array.from({ length: 100 }, (_, i) => instances.instanceMetadata(node(`rf-${i}`))),
      );
    const externals = (m: { nodeAddresses: { type: string; address: string }[] }): string[] =>
      m.nodeAddresses.filter((a) => a.type === 'ExternalIP').map((a) => a.address);
    const first = await all();
    const ephemeral = externals(first[0]!);
    assert.equal(ephemeral.length, 1, 'the ephemeral IP from the instance list');
    const fip = sim.db.createFloatingIp({ name: 'rf-fip', instance: 'rf-1' });
    // A refresh: every Node again.
    sim.requests.reset();
    const refreshed = await all();
    assert.equal(sim.requests.count('instance_external_ip_list'), 0);
    assert.equal(sim.requests.count('instance_network_interface_list'), 0);
    const fipLists = sim.requests.entries.filter((e) => e.operationId === 'floating_ip_list');
    assert.equal(fipLists.filter((e) => !e.query.includes('page_token')).length, 1, 'one list');
    assert.ok(sim.requests.count() <= 10, `${sim.requests.count()} calls for 100 Nodes`);
    assert.deepEqual(externals(refreshed[0]!), ephemeral, 'the ephemeral IP, cached');
    assert.deepEqual(externals(refreshed[1]!), [fip.ip], 'the new floating IP, from the list');
    assert.deepEqual(externals(refreshed[2]!), []);
  });

  it('lookups of identity share one list for identityTtlMs; a run-state lookup takes a fresh one', async () => {
    for (let i = 0; i < 5; i++) {
      sim.db.addInstance({ name: `id-${i}`, hostname: `id-${i}`, nics: [{ v4: 'auto' }] });
    }
    const p = new OxideCloudProvider({
      cluster: { name: 'kubernetes', id: 'cluster-a' },
      client: client(counting),
      inventory: { ttlMs: 20, identityTtlMs: 60_000 },
    });
    const instances = p.instances();
    const scans = (): number =>
      sim.requests.entries.filter(
        (e) => e.operationId === 'instance_list' && !e.query.includes('page_token'),
      ).length;
    sim.requests.reset();
    // Nodes joining slowly (a low --kube-api-qps): each lookup comes after the state TTL.
    for (let i = 0; i < 5; i++) {
      await instances.instanceMetadata(node(`id-${i}`));
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.equal(scans(), 1, 'one list for five Nodes met over 150 ms');
    // Whether an instance is shut down is its state: older than ttlMs will not do.
    await instances.instanceShutdown(node('id-0'));
    assert.equal(scans(), 2);
  });

  it('a refused NIC walk: per-instance lists, at most 2 calls per Node, retried once per period, logged once', async () => {
    for (let i = 0; i < 50; i++) {
      sim.db.addInstance({ name: `fb-${i}`, hostname: `fb-${i}`, nics: [{ v4: 'auto' }] });
    }
    const lines: Record<string, unknown>[] = [];
    const stream = new PassThrough();
    stream.on('data', (d: Buffer) => {
      for (const l of d.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
    });
    const log = createLogger({ format: 'json', errorStream: stream });
    const p = new OxideCloudProvider({
      cluster: { name: 'kubernetes', id: 'cluster-a' },
      client: client(counting),
      inventory: { ttlMs: 2_000, walkRetryMs: 60_000, log },
    });
    const instances = p.instances();
    const fallback = async (): Promise<number> =>
      (await inventoryMetrics.nicWalkFallback.get()).values[0]?.value ?? -1;
    sim.faults.add({ operation: 'vpc_list', status: 403 });
    try {
      sim.requests.reset();
      const first = await Promise.all(
        Array.from({ length: 50 }, (_, i) => instances.instanceMetadata(node(`fb-${i}`))),
      );
      assert.equal(new Set(first.map((m) => m.providerID)).size, 50);
      assert.ok(first.every((m) => m.nodeAddresses.some((a) => a.type === 'InternalIP')));
      assert.equal(sim.requests.count('vpc_list'), 1, 'the refused walk is tried once');
      assert.equal(sim.requests.count('instance_network_interface_list'), 50);
      const calls = sim.requests.count();
      assert.ok(calls <= 2 * 50 + 3, `${calls} Oxide calls for 50 Nodes`);
      assert.equal(await fallback(), 1);
      // A resync pass in the same period reads each Node's own list again and does not try the
      // walk again; other lookups (a load balancer's target) answer from those lists.
      sim.requests.reset();
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => instances.instanceMetadata(node(`fb-${i}`))),
      );
      assert.equal(sim.requests.count('vpc_list'), 0);
      assert.equal(sim.requests.count('instance_network_interface_list'), 50);
      sim.requests.reset();
      const id = sim.db.findInstance('fb-0').id;
      assert.ok((await p.inventory.nics(id)).length > 0);
      assert.equal(sim.requests.count(), 0, 'cached as the walk would be');
      const warnings = lines.filter((l) =>
        String(l['msg']).startsWith("cannot list the project's NICs"),
      );
      assert.equal(warnings.length, 1, 'one warning for the change of state');
      assert.equal(warnings[0]?.['operation'], 'vpc_list');
      assert.equal(warnings[0]?.['status'], 403);
    } finally {
      sim.faults.clear();
    }
    // The walk works again: once the retry period is over it is used, and the change is logged.
    const healed = new OxideCloudProvider({
      cluster: { name: 'kubernetes', id: 'cluster-a' },
      client: client(counting),
      inventory: { ttlMs: 2_000, walkRetryMs: 0, log },
    });
    sim.faults.add({ operation: 'vpc_list', status: 403, times: 1 });
    sim.requests.reset();
    await healed.instances().instanceMetadata(node('fb-1'));
    assert.equal(sim.requests.count('vpc_list'), 2, 'refused, then tried again');
    assert.equal(sim.requests.count('instance_network_interface_list'), 0);
    assert.equal(await fallback(), 0);
    assert.ok(lines.some((l) => String(l['msg']).startsWith("listing the project's NICs again")));
  });

  it('metadata read again (a resync pass) comes from one newer NIC walk, shared; a first read from the cached one', async () => {
    for (let i = 0; i <= 20; i++) {
      sim.db.addInstance({ name: `again-${i}`, hostname: `again-${i}`, nics: [{ v4: 'auto' }] });
    }
    const instances = provider(counting, 2_000).instances();
    const pass = (): Promise<InstanceMetadata[]> =>
      Promise.all(
        Array.from({ length: 20 }, (_, i) => instances.instanceMetadata(node(`again-${i}`))),
      );
    await pass();
    // A Node's first read: the walk the others started answers it (NIC views live 60 s).
    sim.requests.reset();
    await instances.instanceMetadata(node('again-20'));
    assert.equal(sim.requests.count('vpc_list'), 0);

    sim.db.setNicIps('again-7', { v4: '172.30.3.77' });
    sim.requests.reset();
    const again = await pass();
    // One walk (vpc_list once) for the 20 re-reads, though the first walk's view is still cached.
    assert.equal(sim.requests.count('vpc_list'), 1);
    assert.equal(sim.requests.count('instance_network_interface_list'), 0);
    assert.ok(
      again[7]?.nodeAddresses.some((a) => a.address === '172.30.3.77'),
      JSON.stringify(again[7]?.nodeAddresses),
    );
  });

  it('a burst of lookups for missing Nodes shares one fresh list before the views by name', async () => {
    const instances = provider(counting, 2_000).instances();
    sim.requests.reset();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => instances.instanceExists(node(`absent-${i}`))),
    );
    assert.deepEqual(new Set(answers), new Set([false]));
    const scans = sim.requests.entries.filter(
      (e) => e.operationId === 'instance_list' && !e.query.includes('page_token'),
    );
    assert.equal(
      scans.length,
      2,
      'the first scan, then one fresh scan shared by all that joined the first late',
    );
    assert.equal(sim.requests.count('instance_view'), 20);
  });
});
