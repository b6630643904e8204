// The informer against the real apiserver: initial list, watch events, and that a watch which
// ends (server timeout) resumes without losing or replaying changes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { waitFor } from '../../test/harness/context.ts';
import { testKube, uniqueName } from '../../test/harness/kube.ts';
import type { KubeClient } from './client.ts';
import { Informer } from './informer.ts';

let kube: KubeClient;
let ns: string;
const abort = new AbortController();
let running: Promise<void> | undefined;

before(async () => {
  ({ client: kube } = await testKube());
  ns = uniqueName('informer');
  await kube.post('/api/v1/namespaces', { metadata: { name: ns } });
});

after(async () => {
  abort.abort();
  await running;
});

const cm = (name: string, v: string): V1ConfigMap => ({ metadata: { name }, data: { v } });

test('lists, then follows adds, updates and deletes across watch restarts', async () => {
  const path = `/api/v1/namespaces/${ns}/configmaps`;
  await kube.post(path, cm('before', '1'));
  const seen: string[] = [];
  const informer = new Informer<V1ConfigMap>(kube, { path, watchTimeoutSeconds: 1 });
  informer.addHandlers({
    add: (o) => seen.push(`add ${o.metadata?.name}`),
    update: (a, b) => {
      if (a.metadata?.resourceVersion !== b.metadata?.resourceVersion)
        seen.push(`update ${b.metadata?.name}=${b.data?.['v']}`);
    },
    delete: (o) => seen.push(`delete ${o.metadata?.name}`),
  });
  running = informer.run(abort.signal);
  await informer.waitForSync(abort.signal);
  assert.deepEqual(
    informer.list().map((o) => o.metadata?.name),
    ['before'],
  );

  await kube.post(path, cm('a', '1'));
  // Let at least two 1 s watches end and resume in between.
  await new Promise((r) => setTimeout(r, 2500));
  await kube.patch(`${path}/a`, 'merge', { data: { v: '2' } });
  await kube.delete(`${path}/before`);
  await waitFor('events', () => seen.length >= 4, 10_000);
  assert.deepEqual(seen, ['add before', 'add a', 'update a=2', 'delete before']);
  assert.equal(informer.get(`${ns}/a`)?.data?.['v'], '2');
  assert.equal(informer.get(`${ns}/before`), undefined);
});
