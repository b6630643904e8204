import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Node } from '@kubernetes/client-node';
import { failoverCandidates } from './candidates.ts';
import { NodeSignals } from './node-signals.ts';
import type { NodeOut } from './node-signals.ts';
import { EndpointHealth } from './probe-state.ts';
import type { ProbeVerdict } from './probe-state.ts';

const S = 1000;
const settings = {
  leaseStaleAfterMs: 25 * S,
  renewIntervalMs: 10 * S,
  settleMs: 20 * S,
  fullDisruptionFraction: 0.55,
};

/** A small deterministic generator (tests must not depend on luck). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Renews a's..z's Leases every 10 s from t=from to t=to (ms), evaluating every second. */
function run(
  signals: NodeSignals,
  names: string[],
  from: number,
  to: number,
  renewing: (name: string, t: number) => boolean,
): { moved: Map<string, number>; disruptions: number } {
  const moved = new Map<string, number>();
  let disruptions = 0;
  for (let t = from; t <= to; t += S) {
    for (const n of names) if (t % (10 * S) === 0 && renewing(n, t)) signals.leaseRenewed(n, t);
    const e = signals.evaluate(names, t);
    if (e.disruptionChanged && e.fullDisruption) disruptions++;
    for (const [n] of e.out) if (!moved.has(n)) moved.set(n, t);
  }
  return { moved, disruptions };
}

describe('NodeSignals', () => {
  test('a Lease is stale after 2.5 renew intervals by our clock, never on one missed renewal', () => {
    const s = new NodeSignals(settings);
    const names = ['a', 'b', 'c'];
    // c's kubelet dies after its renewal at t=30 s.
    const { moved } = run(s, names, 0, 120 * S, (n, t) => n !== 'c' || t <= 30 * S);
    assert.deepEqual([...moved], [['c', 56 * S]]);
    const e = s.evaluate(names, 120 * S);
    assert.equal(e.out.get('c')?.signal, 'lease');
    assert.equal(e.out.get('c')?.since, 56 * S);
    // One missed renewal (20 s gap) is not stale.
    const one = new NodeSignals(settings);
    const r = run(one, ['a', 'b'], 0, 60 * S, (n, t) => n !== 'b' || t !== 20 * S);
    assert.equal(r.moved.size, 0);
  });

  test('renewals delayed by up to one interval, and the apiserver paused twice for 20 s: never a Node out', () => {
    for (const count of [2, 3, 10, 50]) {
      const s = new NodeSignals(settings);
      const names = Array.from({ length: count }, (_, i) => `n${i}`);
      const rand = prng(count);
      const next = new Map(names.map((n) => [n, rand() * 10 * S]));
      const paused = (t: number) =>
        (t >= 600 * S && t < 620 * S) || (t >= 1200 * S && t < 1220 * S);
      let disruptions = 0;
      for (let t = 0; t <= 1800 * S; t += 250) {
        for (const n of names) {
          if (t >= (next.get(n) ?? 0)) {
            if (paused(t)) continue; // the kubelet retries; its renewal lands after the pause
            s.leaseRenewed(n, t);
            next.set(n, t + 10 * S + rand() * 10 * S); // 10 s interval, delayed by up to 10 s
          }
        }
        const e = s.evaluate(names, t);
        if (e.disruptionChanged && e.fullDisruption) disruptions++;
        assert.equal(e.out.size, 0, `${count} Nodes, t=${t}`);
      }
      assert.ok(disruptions <= 2, `${count} Nodes: ${disruptions} disruptions`);
    }
  });

  test('a dead kubelet among renewing ones is out 25-26 s after its last renewal, at any cluster size', () => {
    for (const count of [2, 3, 10, 100]) {
      const s = new NodeSignals(settings);
      const names = Array.from({ length: count }, (_, i) => `n${i}`);
      const rand = prng(count + 1);
      const next = new Map(names.map((n) => [n, rand() * 10 * S]));
      let last = 0;
      let outAt: number | undefined;
      for (let t = 0; t <= 200 * S && outAt === undefined; t += 250) {
        for (const n of names) {
          if (t >= (next.get(n) ?? 0) && !(n === 'n0' && t > 100 * S)) {
            s.leaseRenewed(n, t);
            if (n === 'n0') last = t;
            next.set(n, t + 10 * S + rand() * 0.4 * S); // kubelet: 10 s with 4 % jitter
          }
        }
        if (s.evaluate(names, t).out.has('n0')) outAt = t;
      }
      assert.ok(outAt !== undefined, `${count} Nodes: never out`);
      const after = outAt - last;
      assert.ok(after > 25 * S && after <= 26 * S, `${count} Nodes: out ${after} ms after`);
    }
  });

  test('full disruption: most Leases stale at once → nothing out, said once; after it every Lease starts afresh', () => {
    const s = new NodeSignals(settings);
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const n of names) s.leaseRenewed(n, 0);
    let entered = 0;
    for (let t = 0; t <= 60 * S; t += S) {
      const e = s.evaluate(names, t);
      if (e.disruptionChanged && e.fullDisruption) entered++;
      // The whole view goes stale together at 26 s: never a Node out.
      assert.equal(e.out.size, 0, `t=${t}`);
    }
    assert.equal(entered, 1);
    // The apiserver is back: renewals arrive one by one; the stragglers are not taken out.
    for (const n of ['a', 'b', 'c']) s.leaseRenewed(n, 61 * S);
    const back = s.evaluate(names, 61 * S);
    assert.equal(back.fullDisruption, false);
    assert.equal(back.disruptionChanged, true);
    assert.equal(back.out.size, 0);
    for (const n of ['d', 'e']) s.leaseRenewed(n, 64 * S);
    for (let t = 62 * S; t <= 80 * S; t += S) assert.equal(s.evaluate(names, t).out.size, 0);
  });

  test('one of two Nodes stale is not a disruption; both is', () => {
    const s = new NodeSignals(settings);
    s.leaseRenewed('a', 0);
    s.leaseRenewed('b', 0);
    s.leaseRenewed('a', 20 * S);
    assert.deepEqual([...s.evaluate(['a', 'b'], 26 * S).out.keys()], ['b']);
    const both = s.evaluate(['a', 'b'], 46 * S);
    assert.equal(both.fullDisruption, true);
    // a is not taken out; b, out before, is not offered again until it settles.
    assert.deepEqual([...both.out.keys()], ['b']);
  });

  test('instance down: out at once (even in full disruption); back only after the settle time', () => {
    const s = new NodeSignals(settings);
    for (const n of ['a', 'b']) s.leaseRenewed(n, 0);
    s.instancesChecked(['a', 'b'], new Map([['a', 'instance stopped']]));
    const e = s.evaluate(['a', 'b'], 1 * S);
    assert.deepEqual(e.out.get('a'), { signal: 'instance', reason: 'instance stopped', since: S });
    assert.deepEqual(e.changed, ['a']);
    s.instancesChecked(['a', 'b'], new Map());
    for (const n of ['a', 'b']) s.leaseRenewed(n, 5 * S);
    assert.equal(s.evaluate(['a', 'b'], 5 * S).out.get('a')?.signal, 'settling');
    assert.equal(s.evaluate(['a', 'b'], 24 * S).out.get('a')?.signal, 'settling');
    const back = s.evaluate(['a', 'b'], 25 * S);
    assert.equal(back.out.size, 0);
    assert.deepEqual(back.changed, ['a']);
  });

  test('a flapping Node never settles: the settle clock restarts at every bad signal', () => {
    const s = new NodeSignals(settings);
    s.leaseRenewed('b', 0);
    for (let t = 0; t <= 100 * S; t += 5 * S) {
      const down = (t / (5 * S)) % 3 === 0 ? new Map([['a', 'instance rebooting']]) : new Map();
      s.instancesChecked(['a'], down);
      s.leaseRenewed('b', t);
      assert.ok(s.evaluate(['a', 'b'], t).out.has('a'), `t=${t}`);
    }
  });
});

describe('EndpointHealth', () => {
  const p = { failures: 3, settleMs: 10 * S };
  const ok = { ok: true, answered: true };
  const bad = { ok: false, answered: false };

  test('never answered → unknown however often it fails', () => {
    const h = new EndpointHealth();
    for (let i = 0; i < 10; i++) h.record(bad, i * 2 * S, p);
    assert.equal(h.verdict, 'unknown');
  });

  test('failing after 3 consecutive failures; passing again only after passing for the settle time', () => {
    const h = new EndpointHealth();
    h.record(ok, 0, p);
    h.record(bad, 2 * S, p);
    h.record(bad, 4 * S, p);
    assert.equal(h.verdict, 'passing');
    h.record(ok, 6 * S, p); // a success resets the count
    h.record(bad, 8 * S, p);
    h.record(bad, 10 * S, p);
    h.record({ ok: false, answered: true }, 12 * S, p); // a 503 counts as a failure
    assert.equal(h.verdict, 'failing');
    assert.equal(h.failingSince, 12 * S);
    h.record(ok, 14 * S, p);
    h.record(ok, 20 * S, p);
    assert.equal(h.verdict, 'failing');
    h.record(ok, 24 * S, p);
    assert.equal(h.verdict, 'passing');
  });
});

describe('failoverCandidates', () => {
  const node = (name: string): V1Node => ({ metadata: { name } });
  const names = (nodes: V1Node[]) => nodes.map((n) => n.metadata?.name);
  const eligible = ['a', 'b', 'c', 'd'].map(node);
  const outOf = (entries: [string, NodeOut['signal']][]): Map<string, NodeOut> =>
    new Map(entries.map(([n, signal]) => [n, { signal, reason: signal, since: 0 }]));
  const verdicts =
    (v: Record<string, ProbeVerdict>) =>
    (n: string): ProbeVerdict | undefined =>
      v[n];

  test('out and failing Nodes are never offered', () => {
    const got = failoverCandidates({
      eligible,
      targets: ['a'],
      out: outOf([['b', 'lease']]),
      verdict: verdicts({ c: 'failing', a: 'unknown' }),
      passing: () => false,
    });
    assert.deepEqual(names(got), ['a', 'd']);
  });

  test('a failing target moves only to a Node that passes now; none passes → it stays', () => {
    const input = {
      eligible,
      targets: ['a'],
      out: outOf([]),
      verdict: verdicts({ a: 'failing', b: 'passing', c: 'unknown' }),
      passing: (n: string) => n === 'b',
    };
    assert.deepEqual(names(failoverCandidates(input)), ['b']);
    const blind = failoverCandidates({ ...input, passing: () => false });
    assert.deepEqual(names(blind), ['a', 'b', 'c', 'd']);
  });

  test('everything out: the eligible list as it is (the provider keeps the target)', () => {
    const got = failoverCandidates({
      eligible,
      targets: ['a'],
      out: outOf([
        ['a', 'instance'],
        ['b', 'instance'],
        ['c', 'lease'],
        ['d', 'settling'],
      ]),
      verdict: () => undefined,
      passing: () => false,
    });
    assert.deepEqual(names(got), ['a', 'b', 'c', 'd']);
  });
});
