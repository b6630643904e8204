import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FLOATING_IP_DESCRIPTION,
  markedFor,
  needsRecord,
  otherIdentityNamed,
  ownedDescription,
  ownerOf,
  relationOf,
  roleNames,
  roleOf,
} from './owner.ts';
import type { ServiceRef } from './owner.ts';
import { loadBalancerName } from './spec.ts';

const CLUSTER = { name: 'kubernetes', id: '7e0c1c61-33a5-4a37-9d1c-0b6d1bb0c7aa' };
const OTHER = { name: 'kubernetes', id: '2b9d3f6e-5c1b-4d0e-8f7a-9a3c2e1d0b4f' };
const A: ServiceRef = {
  uid: '0c6f7c1e-7d1a-4e43-9a57-2f1f3b0f0a01',
  key: 'kubernetes/p6/a-b',
  cluster: CLUSTER,
};
const B: ServiceRef = {
  uid: '5d2b6a34-1c7e-4b0f-8c55-6a2d9e1f0b02',
  key: 'kubernetes/p6-a/b',
  cluster: CLUSTER,
};
const NAME_OF = (ref: ServiceRef) => ref.key.split('/')[0]!;
/** The record v0.8 wrote: owner, no cluster identity. */
const legacy = (ref: ServiceRef) =>
  `${FLOATING_IP_DESCRIPTION} service-uid=${ref.uid} service=${ref.key}`;

test('owner: Go CCM text is unclaimed; ours carries the UID first; anything else is a user FIP', () => {
  assert.deepEqual(ownerOf(FLOATING_IP_DESCRIPTION), { kind: 'unclaimed' });
  assert.deepEqual(ownerOf(` ${FLOATING_IP_DESCRIPTION}\n`), { kind: 'unclaimed' });
  assert.deepEqual(ownerOf(ownedDescription(A)), {
    kind: 'service',
    uid: A.uid,
    key: A.key,
    clusterId: CLUSTER.id,
  });
  assert.deepEqual(ownerOf(legacy(A)), {
    kind: 'service',
    uid: A.uid,
    key: A.key,
    clusterId: undefined,
  });
  assert.deepEqual(ownerOf('my database IP'), { kind: 'user' });
  assert.deepEqual(ownerOf(`${FLOATING_IP_DESCRIPTION} by hand`), { kind: 'unknown' });
  // A user's text quoting ours later is not ours.
  assert.deepEqual(ownerOf(`see ${ownedDescription(A)}`), { kind: 'user' });
});

test('relation: UID decides; same cluster/namespace/name with another UID is an orphan', () => {
  assert.equal(relationOf(ownedDescription(A), A), 'mine');
  assert.equal(relationOf(ownedDescription(A), B), 'other');
  assert.equal(relationOf(ownedDescription({ ...A, uid: 'older' }), A), 'orphan');
  assert.equal(relationOf(FLOATING_IP_DESCRIPTION, A), 'unclaimed');
  assert.equal(relationOf(`${FLOATING_IP_DESCRIPTION} x`, A), 'other');
  assert.equal(relationOf('', A), 'user');
});

test('record: the identity comes after the owner, so v0.8 (first two tokens) still reads it', () => {
  const tokens = ownedDescription(A).slice(FLOATING_IP_DESCRIPTION.length).trim().split(/\s+/);
  assert.deepEqual(tokens, [
    `service-uid=${A.uid}`,
    `service=${A.key}`,
    `cluster-id=${CLUSTER.id}`,
  ]);
  assert.ok(!needsRecord(ownedDescription(A), A));
  assert.ok(needsRecord(legacy(A), A), 'an earlier record is rewritten once');
});

test("clusters: another cluster's record is never this Service's, whatever its name or UID", () => {
  const theirs = { ...A, cluster: OTHER };
  // Same cluster name, namespace and name (both clusters have p6/a-b): not an orphan.
  assert.equal(relationOf(ownedDescription({ ...theirs, uid: 'their-uid' }), A), 'other');
  // Even its UID (a restored etcd) does not make it this cluster's.
  assert.equal(relationOf(ownedDescription(theirs), A), 'other');
  // This cluster's own orphan is still taken over.
  assert.equal(relationOf(ownedDescription({ ...A, uid: 'older' }), A), 'orphan');
});

test('clusters: a record without identity is adopted only while no other cluster uses the name', () => {
  const older = legacy({ ...A, uid: 'older' });
  assert.equal(relationOf(legacy(A), A), 'mine', 'its UID: mine, shared or not');
  assert.equal(relationOf(legacy(A), A, true), 'mine');
  assert.equal(relationOf(older, A), 'orphan', 'unambiguous: the only cluster of this name');
  assert.equal(relationOf(older, A, true), 'other', 'another cluster of this name could own it');
  assert.equal(relationOf(FLOATING_IP_DESCRIPTION, A, true), 'other');

  const project = [legacy(A), ownedDescription({ ...B, cluster: OTHER }), 'a user FIP'].map(
    ownerOf,
  );
  assert.equal(otherIdentityNamed(project, CLUSTER), OTHER.id);
  assert.equal(otherIdentityNamed(project, OTHER), undefined, 'no other identity under its name');
  // Another identity under another cluster name does not make the name shared.
  const elsewhere = ownedDescription({ ...B, key: 'prod/p6-a/b', cluster: OTHER });
  assert.equal(otherIdentityNamed([ownerOf(elsewhere)], CLUSTER), undefined);
});

test('clusters: without its identity (RBAC forbids reading it), records as v0.8, none naming one taken', () => {
  const unknown: ServiceRef = { ...A, cluster: { name: NAME_OF(A), id: '' } };
  assert.equal(ownedDescription(unknown), legacy(A), 'no cluster-id token');
  assert.equal(relationOf(legacy(A), unknown), 'mine');
  assert.equal(relationOf(ownedDescription(A), unknown), 'mine', 'its UID, under any identity');
  assert.ok(!needsRecord(ownedDescription(A), unknown), 'an identity is never stripped');
  assert.equal(relationOf(ownedDescription({ ...A, uid: 'older' }), unknown), 'other');
  assert.equal(relationOf(legacy({ ...A, uid: 'older' }), unknown), 'orphan');
  assert.equal(otherIdentityNamed([ownerOf(ownedDescription(A))], unknown.cluster), CLUSTER.id);
});

test('names: plain is the Go name; the alternative is distinct, stable and never a Kubernetes name', () => {
  const base = 'kubernetes-p6-a-b';
  const a = roleNames(base, 'primary', A.uid);
  const b = roleNames(base, 'primary', B.uid);
  assert.equal(a.plain, base);
  assert.equal(b.plain, base);
  assert.notEqual(a.alternative, b.alternative);
  assert.deepEqual(roleNames(base, 'primary', A.uid), a, 'stable');
  assert.match(a.alternative, /^kubernetes-p6-a-b-H[0-9a-f]{8}$/);
  assert.equal(roleOf(a.alternative), 'primary');

  const six = roleNames(base, 'v6', A.uid);
  assert.equal(six.plain, 'kubernetes-p6-a-b-IPv6');
  assert.match(six.alternative, /^kubernetes-p6-a-b-H[0-9a-f]{8}-IPv6$/);
  assert.equal(roleOf(six.alternative), 'v6');
  assert.equal(roleOf(roleNames(base, 'v4', A.uid).alternative), 'v4');

  // The 63-character cut: the same plain name, distinct alternatives, every name at most 63.
  const long = loadBalancerName('kubernetes', {
    metadata: { namespace: 'team', name: `${'x'.repeat(60)}-one` },
  });
  assert.equal(long.length, 63);
  for (const role of ['primary', 'v4', 'v6'] as const) {
    const n = roleNames(long, role, A.uid);
    assert.ok(n.plain.length <= 63 && n.alternative.length <= 63, `${role}: ${n.alternative}`);
    assert.ok(!n.alternative.endsWith('--') && !/--H/.test(n.alternative));
    assert.notEqual(n.alternative, roleNames(long, role, B.uid).alternative);
  }
});

test('marked user FIPs: exactly one k8s-service token, this Service', () => {
  assert.ok(markedFor('web front k8s-service=kubernetes/p6/a-b', A));
  assert.ok(!markedFor('k8s-service=kubernetes/p6/a-b', B));
  assert.ok(!markedFor('k8s-service=kubernetes/p6/a-bc', A));
  assert.ok(!markedFor('k8s-service=kubernetes/p6/a-b k8s-service=kubernetes/p6-a/b', A));
  assert.ok(!markedFor('', A));
  // A mark naming a cluster identity serves that cluster only; one without, only while the
  // cluster name is not shared.
  assert.ok(markedFor(`k8s-service=kubernetes/p6/a-b cluster-id=${CLUSTER.id}`, A, true));
  assert.ok(!markedFor(`k8s-service=kubernetes/p6/a-b cluster-id=${OTHER.id}`, A));
  assert.ok(!markedFor('k8s-service=kubernetes/p6/a-b', A, true));
});
