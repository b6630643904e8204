// Fault injection as the CCM's retry and timeout paths will meet it.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Api } from '@oxide/api';
import { type Simulator, startSimulator } from './server.ts';

let sim: Simulator;
let api: Api;

before(async () => {
  sim = await startSimulator({ seed: { instances: [{ name: 'node-a' }] } });
  api = new Api({ host: sim.url, token: sim.token });
});
beforeEach(() => {
  sim.faults.clear();
  sim.requests.reset();
});
after(() => sim.stop());

const view = () =>
  api.methods.instanceView({ path: { instance: 'node-a' }, query: { project: 'k8s' } });

test('503 for N requests, then success; every attempt is counted', async () => {
  sim.faults.add({ operation: 'instance_view', status: 503, times: 2 });
  const first = await view();
  assert.equal(first.response.status, 503);
  assert.equal(first.type === 'error' && first.data.errorCode, 'ServiceNotAvailable');
  assert.equal((await view()).response.status, 503);
  assert.equal((await view()).type, 'success');
  assert.equal(sim.requests.count('instance_view'), 3);
  // Other operations are untouched by a fault keyed on instance_view.
  sim.faults.add({ operation: 'instance_view', status: 500 });
  assert.equal((await api.methods.instanceList({ query: { project: 'k8s' } })).type, 'success');
  assert.deepEqual(sim.requests.byOperation(), { instance_view: 3, instance_list: 1 });
});

test('429 carries Retry-After', async () => {
  sim.faults.add({
    method: 'GET',
    path: /^\/v1\/instances/,
    status: 429,
    retryAfterSeconds: 7,
    times: 1,
  });
  const r = await view();
  assert.equal(r.response.status, 429);
  assert.equal(r.response.headers.get('retry-after'), '7');
  assert.equal((await view()).type, 'success');
});

test('timeout: the request is accepted and never answered', async () => {
  sim.faults.add({ operation: 'instance_list', timeout: true });
  const started = performance.now();
  await assert.rejects(
    fetch(`${sim.url}/v1/instances?project=k8s`, {
      headers: { authorization: `Bearer ${sim.token}` },
      signal: AbortSignal.timeout(200),
    }),
    { name: 'TimeoutError' },
  );
  assert.ok(performance.now() - started >= 190);
  assert.equal(sim.requests.count('instance_list'), 1);
});

test('drop: the socket is destroyed without an answer', async () => {
  sim.faults.add({ operation: 'instance_view', drop: true, times: 1 });
  await assert.rejects(view(), TypeError);
  assert.equal((await view()).type, 'success', 'the next connection works');
});

test('latency: per-fault delay, and the server-wide latencyMs option', async () => {
  sim.faults.add({ operation: 'instance_view', latencyMs: 150, times: 1 });
  let t = performance.now();
  assert.equal((await view()).type, 'success');
  assert.ok(performance.now() - t >= 140);

  const slow = await startSimulator({ latencyMs: 100 });
  try {
    t = performance.now();
    const r = await new Api({ host: slow.url, token: slow.token }).methods.ping({});
    assert.equal(r.type, 'success');
    assert.ok(performance.now() - t >= 90);
  } finally {
    await slow.stop();
  }
});

test('stop() ends requests held by a timeout fault', async () => {
  const s = await startSimulator();
  s.faults.add({ operation: 'ping', timeout: true });
  const pending = fetch(`${s.url}/v1/ping`);
  await new Promise((r) => setTimeout(r, 50));
  const t = performance.now();
  await s.stop();
  assert.ok(performance.now() - t < 1000);
  await assert.rejects(pending, TypeError);
});

test('a query pattern fails only page 2 of a list', async () => {
  sim.faults.add({ operation: 'instance_list', query: /page_token=/, status: 500 });
  const first = await api.methods.instanceList({ query: { project: 'k8s', limit: 1 } });
  assert.equal(first.type, 'success');
  const token = first.type === 'success' ? first.data.nextPage : undefined;
  assert.ok(token);
  const second = await api.methods.instanceList({
    query: { project: 'k8s', limit: 1, pageToken: token },
  });
  assert.equal(second.response.status, 500);
});

test('tokens: another principal is logged by label; a revoked token gets 401', async () => {
  const other = sim.addToken('ccm-b');
  const b = new Api({ host: sim.url, token: other });
  const res = await b.methods.instanceView({
    path: { instance: 'node-a' },
    query: { project: 'k8s' },
  });
  assert.equal(res.type, 'success');
  assert.equal(sim.requests.entries.at(-1)?.principal, 'ccm-b');
  sim.revokeToken(other);
  const denied = await b.methods.instanceView({
    path: { instance: 'node-a' },
    query: { project: 'k8s' },
  });
  assert.equal(denied.response.status, 401);
  sim.addToken('ccm-b', other);
  assert.equal((await view()).type, 'success');
});
