// Our metric families against upstream's: every family test/harness/upstream-ccm-metrics.ts says we mirror
// is in the registry with upstream's type, label names and buckets; every family a live Go CCM
// v0.7.1 serves is either ours or listed with the reason we lack it; docs/metrics.md is what the
// registry renders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { register as globalRegistry } from 'prom-client';
import { METRICS_DOC, renderMetricsDoc } from '../hack/metrics-doc.ts';
import { describeFamilies, registry } from '../src/metrics-registry.ts';
import { registerProcessMetrics } from '../src/process-metrics.ts';
import { ALL_CONTROLLERS, NODE_CONTROLLER, SERVICE_CONTROLLER } from '../src/names.ts';
import { repoRoot } from './harness/testbin.ts';
import {
  GO_RUNTIME_PREFIX,
  UPSTREAM_CCM_FAMILIES,
  UPSTREAM_MANAGED_CONTROLLERS,
  UPSTREAM_QUEUE_NAMES,
} from './harness/upstream-ccm-metrics.ts';

registerProcessMetrics(registry);
const ours = new Map(describeFamilies().map((f) => [f.name, f]));

test('every upstream family we mirror: same name, type, labels and buckets', () => {
  const mirrored = UPSTREAM_CCM_FAMILIES.filter((u) => u.mirrored);
  for (const up of mirrored) {
    const f = ours.get(up.name);
    assert.ok(f, `${up.name} missing`);
    assert.equal(f.type, up.type, up.name);
    assert.deepEqual(f.labels, [...up.labels].sort(), up.name);
    if (up.buckets) {
      assert.equal(f.buckets?.length, up.buckets.length, up.name);
      up.buckets.forEach((b, i) => {
        const got = f.buckets?.[i] ?? NaN;
        assert.ok(
          Math.abs(got - b) <= 1e-12 * Math.max(1, b),
          `${up.name} bucket ${i}: ${got} != ${b}`,
        );
      });
    }
  }
  console.log(`upstream families mirrored: ${mirrored.length}; our families: ${ours.size}`);
});

test('an upstream family listed as not exposed is not in the registry', () => {
  // Adding one (say, delegated-authentication metrics) means marking it mirrored in
  // test/harness/upstream-ccm-metrics.ts with upstream's labels, so this test checks them.
  for (const up of UPSTREAM_CCM_FAMILIES)
    if (!up.mirrored) assert.ok(!ours.has(up.name), `${up.name} is exposed now: mark it mirrored`);
});

test('label values: upstream queue names and managed-controller names', () => {
  assert.equal(NODE_CONTROLLER.workqueue, UPSTREAM_QUEUE_NAMES.node);
  assert.equal(SERVICE_CONTROLLER.workqueue, UPSTREAM_QUEUE_NAMES.service);
  assert.deepEqual(
    ALL_CONTROLLERS.map((c) => c.alias),
    [...UPSTREAM_MANAGED_CONTROLLERS.names],
  );
});

test('every family of a live Go CCM v0.7.1 is ours or listed with a reason', () => {
  // Recorded from a running Go CCM, kept in the repository (test/reference/README.md).
  const goFamilies = readFileSync(`${repoRoot}/test/reference/go-ccm-v0.7.1-metrics.txt`, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const listed = new Set(UPSTREAM_CCM_FAMILIES.map((u) => u.name));
  const runtime = goFamilies.filter((n) => n.startsWith(GO_RUNTIME_PREFIX));
  const shared = goFamilies.filter((n) => ours.has(n));
  const unexplained = goFamilies.filter(
    (n) => !ours.has(n) && !listed.has(n) && !n.startsWith(GO_RUNTIME_PREFIX),
  );
  assert.deepEqual(unexplained, []);
  // Every mirrored family the Go CCM serves is one we serve.
  for (const u of UPSTREAM_CCM_FAMILIES)
    if (u.mirrored && goFamilies.includes(u.name)) assert.ok(ours.has(u.name), u.name);
  console.log(
    `Go CCM v0.7.1 families: ${goFamilies.length}; also ours: ${shared.length}; Go runtime (go_*): ${runtime.length}; listed as not applicable: ${goFamilies.length - shared.length - runtime.length}`,
  );
});

test("every family is in the registry the composition root fills, none in prom-client's global one", () => {
  // A family declared without `registers: []` would land in the global registry too, which
  // nothing serves; one never registered at the root would be missing from docs/metrics.md.
  assert.deepEqual(
    globalRegistry.getMetricsAsArray().map((m) => m.name),
    [],
  );
});

test('docs/metrics.md is generated from the registry (make metrics-doc)', () => {
  assert.equal(readFileSync(METRICS_DOC, 'utf8'), renderMetricsDoc(), 'run make metrics-doc');
});
