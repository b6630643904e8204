import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseTarget, rendezvousOrder } from './target.ts';

const nodes = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ nodeName: `node-${i}`, instanceId: `i-${i}` }));
const yes = () => Promise.resolve(true);

test('rendezvous order is stable when unrelated Nodes come and go', () => {
  const all = nodes(8);
  for (let s = 0; s < 50; s++) {
    const key = `svc-${s}`;
    const top = rendezvousOrder(key, all)[0];
    assert.ok(top);
    const without = all.filter((c) => c !== all.find((x) => x !== top));
    assert.equal(rendezvousOrder(key, without)[0], top, 'removing another Node keeps the winner');
  }
});

test('the current target is kept while eligible, even when another ranks higher', async () => {
  const all = nodes(4);
  const ranked = rendezvousOrder('svc', all);
  const last = ranked.at(-1)!;
  const kept = await chooseTarget({
    serviceKey: 'svc',
    candidates: all,
    current: last.instanceId,
    load: new Map(),
    accepts: yes,
  });
  assert.equal(kept, last);
});

test('bounded load spreads 100 Services over 5 Nodes within 1.25 × average + 1', async () => {
  const all = nodes(5);
  const load = new Map<string, number>();
  for (let s = 0; s < 100; s++) {
    const c = await chooseTarget({ serviceKey: `svc-${s}`, candidates: all, load, accepts: yes });
    assert.ok(c);
    load.set(c.instanceId, (load.get(c.instanceId) ?? 0) + 1);
  }
  for (const count of load.values()) assert.ok(count <= Math.ceil((100 * 1.25) / 5), String(count));
});

test('hard constraints skip Nodes; the bound yields when nothing else fits; none → undefined', async () => {
  const all = nodes(3);
  const only = all[2]!;
  const heavy = new Map([[only.instanceId, 10]]);
  const c = await chooseTarget({
    serviceKey: 's',
    candidates: all,
    load: heavy,
    accepts: (x) => Promise.resolve(x === only),
  });
  assert.equal(c, only);
  const none = await chooseTarget({
    serviceKey: 's',
    candidates: all,
    load: new Map(),
    accepts: () => Promise.resolve(false),
  });
  assert.equal(none, undefined);
});
