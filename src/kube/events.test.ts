import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventCorrelator } from './events.ts';
import type { EventBody } from './events.ts';

function ev(message: string, name = 'node-a', reason = 'InitializationFailed'): EventBody {
  const now = '2026-01-01T00:00:00Z';
  return {
    metadata: { namespace: 'default' },
    involvedObject: { apiVersion: 'v1', kind: 'Node', name, uid: `uid-${name}` },
    type: 'Warning',
    reason,
    message,
    count: 1,
    firstTimestamp: now,
    lastTimestamp: now,
    source: { component: 'cloud-node-controller', host: 'h' },
    reportingComponent: 'cloud-node-controller',
    reportingInstance: 'h',
  };
}

test('a repeated event is created once, then its count is patched', () => {
  const c = new EventCorrelator();
  const first = c.correlate(ev('boom'));
  assert.equal(first.action, 'create');
  const second = c.correlate(ev('boom'));
  const third = c.correlate(ev('boom'));
  assert.equal(second.action, 'patch');
  assert.equal(third.action, 'patch');
  if (first.action !== 'create' || third.action !== 'patch') return;
  assert.equal(third.event.metadata.name, first.event.metadata.name);
  assert.equal(third.event.count, 3);
  assert.match(first.event.metadata.name ?? '', /^node-a\.[0-9a-f]+$/);
});

test('more than 10 different messages for one object and reason are combined into one event', () => {
  const c = new EventCorrelator();
  const actions = Array.from({ length: 12 }, (_, i) => c.correlate(ev(`failure ${i}`)));
  assert.deepEqual(
    actions.map((a) => a.action),
    [...Array<string>(10).fill('create'), 'patch', 'patch'],
  );
  const last = actions[11];
  assert.ok(last && last.action === 'patch');
  assert.equal(last.event.message, '(combined from similar events): failure 11');
  assert.equal(last.event.count, 3);
  // Another reason or another object is not combined.
  assert.equal(c.correlate(ev('failure 0', 'node-b')).action, 'create');
  assert.equal(c.correlate(ev('x', 'node-a', 'Synced')).action, 'create');
});

test('the aggregation window restarts after 10 minutes', () => {
  let now = 0;
  const c = new EventCorrelator({}, () => now);
  for (let i = 0; i < 9; i++) c.correlate(ev(`m${i}`));
  now += 601_000;
  const next = c.correlate(ev('m9'));
  assert.ok(next.action === 'create');
  assert.equal(next.event.message, 'm9');
});

test('the spam filter admits 25 events per object, then one per 5 minutes', () => {
  let now = 0;
  const c = new EventCorrelator({}, () => now);
  const admitted = Array.from({ length: 40 }, () => c.correlate(ev('same'))).filter(
    (a) => a.action !== 'skip',
  );
  assert.equal(admitted.length, 25);
  now += 299_000;
  assert.equal(c.correlate(ev('same')).action, 'skip');
  now += 2_000;
  const after = c.correlate(ev('same'));
  assert.ok(after.action === 'patch');
  // Suppressed repeats still count: the admitted patch carries them all.
  assert.equal(after.event.count, 42);
  // Other objects have their own budget.
  assert.equal(c.correlate(ev('same', 'node-b')).action, 'create');
});

test('forget makes the next event a create', () => {
  const c = new EventCorrelator();
  const first = c.correlate(ev('boom'));
  assert.ok(first.action === 'create');
  c.forget(first.key);
  assert.equal(c.correlate(ev('boom')).action, 'create');
});
