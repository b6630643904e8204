import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimDb } from './db.ts';
import { stackParts } from './db/nics.ts';
import { loadSeed } from './seed.ts';

test('the demo seed builds the world it describes', () => {
  const db = new SimDb(loadSeed(new URL('./seeds/demo.yaml', import.meta.url).pathname));
  assert.deepEqual(
    db.instances.map((i) => [i.name, i.runState]),
    [
      ['k8s-control-plane-0', 'running'],
      ['k8s-worker-0', 'running'],
      ['k8s-worker-1', 'running'],
      ['k8s-worker-2', 'stopped'],
    ],
  );
  const stack = (name: string) =>
    db.nics.find((n) => n.instanceId === db.findInstance(name).id && n.primary)?.ipStack.type;
  assert.equal(stack('k8s-worker-0'), 'dual_stack');
  assert.equal(stack('k8s-worker-1'), 'v4');
  const w1 = db.instanceExternalIps(db.findInstance('k8s-worker-1').id);
  assert.deepEqual(w1.map((e) => e.kind).sort(), ['ephemeral', 'snat']);
  const cp = db.instanceExternalIps(db.findInstance('k8s-control-plane-0').id);
  assert.deepEqual(
    cp.map((e) => e.kind),
    ['floating'],
  );
  assert.deepEqual(
    db.pools.map((p) => [p.pool.name, p.pool.ipVersion, p.pool.isDefault]),
    [
      ['default-v4', 'v4', true],
      ['default-v6', 'v6', true],
    ],
  );
});

test('JSON seeds load; bad seeds fail with the file name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-seed-'));
  try {
    const json = join(dir, 'seed.json');
    writeFileSync(
      json,
      JSON.stringify({ project: 'p1', instances: [{ name: 'a', nics: [{ v4: '172.30.0.9' }] }] }),
    );
    const db = new SimDb(loadSeed(json));
    assert.equal(db.defaultProject, 'p1');
    const nic = db.nics[0];
    assert.ok(nic);
    assert.equal(stackParts(nic.ipStack).v4?.ip, '172.30.0.9');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'instances:\n  - hostname: x\n');
    assert.throws(() => loadSeed(bad), /bad\.yaml: instances\[0\] needs a name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('NIC addresses: auto skips the reserved low addresses; out-of-subnet is refused', () => {
  const db = new SimDb({ instances: [{ name: 'a' }, { name: 'b' }] });
  const ips = db.nics.map((n) => stackParts(n.ipStack).v4?.ip);
  assert.deepEqual(ips, ['172.30.0.5', '172.30.0.6']);
  assert.throws(() => db.addNic('a', { v4: '10.0.0.1' }), /not in subnet/);
  assert.throws(() => db.addNic('a', { v4: '172.30.0.6' }), /not available/);
});
