// The event recorder against a real kube-apiserver: a message of any length is stored cut to
// 1024 characters (events.k8s.io's limit on `note`) with its length noted, in the Event it
// creates and in the patch that counts a repeat. Messages quote what tenants wrote; without the
// cap one 100 KB annotation became a 100,113-character Event in etcd.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CoreV1EventList } from '@kubernetes/client-node';
import { KubeEventRecorder, MESSAGE_LIMIT, SERVICE_KIND } from '../src/kube/events.ts';
import { silentLogger } from '../src/log.ts';
import { waitFor } from './harness/context.ts';
import { testKube, uniqueName } from './harness/kube.ts';

test('a 100 KB message is stored as 1024 characters, created and counted', async () => {
  const { client } = await testKube();
  const recorder = new KubeEventRecorder(client, 'test', 'host', silentLogger, {
    kind: SERVICE_KIND,
  });
  const name = uniqueName('svc');
  const object = { metadata: { name, namespace: 'default', uid: name } };
  const message = `Error syncing load balancer: ${'x'.repeat(100_000)}`;
  recorder.event(object, 'Warning', 'SyncLoadBalancerFailed', message);
  recorder.event(object, 'Warning', 'SyncLoadBalancerFailed', message);
  await recorder.flush();
  const stored = await waitFor('event counted twice', async () => {
    const list = await client.get<CoreV1EventList>('/api/v1/namespaces/default/events', {
      query: { fieldSelector: `involvedObject.name=${name}` },
    });
    return list.items.find((e) => e.count === 2);
  });
  assert.equal(stored.message?.length, MESSAGE_LIMIT);
  assert.ok(stored.message?.startsWith('Error syncing load balancer: xxx'));
  assert.ok(stored.message?.endsWith('… (cut from 100029 characters)'), stored.message?.slice(-60));
});
