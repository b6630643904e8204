// The chart's Grafana dashboard and PrometheusRule (templates/dashboard.yaml,
// templates/prometheusrule.yaml), as an operator would install them:
//   - every PromQL expression names only metric families the CCM's registry exports (read from the
//     registry as docs/metrics.md is), so renaming a family fails here, not on a dashboard;
//   - the rules pass `promtool check rules`, and `promtool test rules` (test/prometheus/
//     alerts.test.yaml) shows each alert firing on the series it is for and not on others;
//   - every dashboard query parses (promtool's PromQL parser) and the dashboard has the structure
//     Grafana's dashboard schema requires (Grafana publishes that schema as CUE, not JSON Schema:
//     the checks below are the fields and rules its schema reference lists).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { registryFamilies } from '../hack/metrics-doc.ts';
import { CHART_DIR, NAME, find, helm, parseManifest } from './harness/delivery.ts';
import { repoRoot, testbin } from './harness/testbin.ts';

const run = promisify(execFile);

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface RuleGroup {
  name: string;
  rules: Rule[];
}
interface Target {
  expr: string;
  refId: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  datasource?: { type: string; uid: string };
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  editable: boolean;
  graphTooltip: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
  time: { from: string; to: string };
}

/** The chart rendered with the dashboard and the rules on, as `helm install` would. */
async function render(...args: string[]): Promise<{ dashboard: Dashboard; groups: RuleGroup[] }> {
  const objects = parseManifest(
    await helm(
      'template',
      NAME,
      CHART_DIR,
      '--namespace',
      'kube-system',
      '--set',
      'dashboard.enabled=true,prometheusRule.enabled=true',
      ...args,
    ),
  );
  const cm = find(objects, 'ConfigMap', `${NAME}-dashboard`) as unknown as {
    metadata: { labels: Record<string, string> };
    data: Record<string, string>;
  };
  assert.equal(cm.metadata.labels['grafana_dashboard'], '1', "the Grafana sidecar's label");
  const json = cm.data[`${NAME}.json`];
  assert.ok(json, 'the dashboard JSON is in the ConfigMap');
  const rule = find(objects, 'PrometheusRule', NAME) as unknown as {
    spec: { groups: RuleGroup[] };
  };
  return { dashboard: JSON.parse(json) as Dashboard, groups: rule.spec.groups };
}

const KEYWORDS = new Set(
  'and or unless by without on ignoring group_left group_right bool offset inf nan'.split(' '),
);

/**
 * The metric names a PromQL expression selects: identifiers outside strings, label matchers,
 * grouping clauses and range brackets that are not function or aggregation calls.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names: string[] = [];
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = bare.slice((m.index ?? 0) + m[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(m[0])) continue;
    // Numbers like 1e3 or durations were removed or are not identifiers at a word start.
    if (/[0-9.]$/.test(bare.slice(0, m.index ?? 0))) continue;
    names.push(m[0]);
  }
  return names;
}

/** A series name to its family: histograms expose _bucket, _sum and _count series. */
function family(name: string, known: ReadonlySet<string>): string {
  if (known.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return known.has(base) ? base : name;
}

function expressions(dashboard: Dashboard, groups: RuleGroup[]): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of dashboard.panels) {
    for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}"`, expr: t.expr });
  }
  for (const v of dashboard.templating.list) {
    const q = /label_values\(([^,)]+)/.exec(v.definition ?? '');
    if (q?.[1]) out.push({ where: `variable ${v.name}`, expr: q[1] });
  }
  for (const g of groups)
    for (const r of g.rules) out.push({ where: `alert ${r.alert}`, expr: r.expr });
  return out;
}

test('metricNames reads the selected metrics, not functions, labels or keywords', () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.99, sum by (le, controller) (rate(a_bucket{job=~"$job",x="b_c"}[$__rate_interval]))) / on (x) group_left (y) b_total > 0.1 and bool c',
    ),
    ['a_bucket', 'b_total', 'c'],
  );
});

test('every dashboard and alert query names only families the registry exports', async () => {
  const { dashboard, groups } = await render();
  const known = new Set(registryFamilies().map((f) => f.name));
  const used = new Set<string>();
  const unknown: string[] = [];
  for (const { where, expr } of expressions(dashboard, groups)) {
    const names = metricNames(expr);
    assert.ok(names.length > 0, `${where} selects a metric: ${expr}`);
    for (const n of names) {
      const f = family(n, known);
      if (known.has(f)) used.add(f);
      else unknown.push(`${where}: ${n}`);
    }
  }
  assert.deepEqual(unknown, [], 'names the registry does not export (renamed or removed?)');
  // The panels the issue asks for are there: Nodes, Services, reconciles, workqueues, Oxide API,
  // load-balancer syncs after Node changes, leader, memory and CPU.
  for (const f of [
    'oxide_ccm_nodes',
    'oxide_ccm_load_balancer_services',
    'oxide_ccm_reconcile_total',
    'oxide_ccm_reconcile_duration_seconds',
    'workqueue_depth',
    'workqueue_retries_total',
    'oxide_api_requests_total',
    'oxide_api_request_duration_seconds',
    'service_controller_nodesync_latency_seconds',
    'leader_election_master_status',
    'process_resident_memory_bytes',
    'process_cpu_seconds_total',
  ]) {
    assert.ok(used.has(f), `${f} is on the dashboard or in an alert`);
  }
});

test('the rules pass promtool check rules and promtool test rules (firing and not firing)', async () => {
  const { groups } = await render();
  assert.deepEqual(groups[0]?.rules.map((r) => r.alert).sort(), [
    'OxideCCMDown',
    'OxideCCMNoLeader',
    'OxideCCMNodesUninitialized',
    'OxideCCMOxideAPIErrors',
    'OxideCCMServicesPendingIngress',
    'OxideCCMWorkqueueStuck',
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'occm-rules-'));
  try {
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }));
    copyFileSync(
      join(repoRoot, 'test', 'prometheus', 'alerts.test.yaml'),
      join(dir, 'alerts.test.yaml'),
    );
    const promtool = testbin('promtool');
    const check = await run(promtool, ['check', 'rules', join(dir, 'rules.yaml')]);
    assert.match(check.stdout, /SUCCESS: 6 rules found/);
    const unit = await run(promtool, ['test', 'rules', join(dir, 'alerts.test.yaml')]);
    assert.match(unit.stdout, /SUCCESS/);

    // And the same unit tests fail when a threshold changes: they do test the rules.
    const strict = await render('--set', 'prometheusRule.nodeUninitializedFor=30m');
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: strict.groups }));
    await assert.rejects(
      run(promtool, ['test', 'rules', join(dir, 'alerts.test.yaml')]),
      /OxideCCMNodesUninitialized/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the selector value narrows every alert to the series it names', async () => {
  const { groups } = await render('--set', 'prometheusRule.selector=namespace="ccm"');
  for (const r of groups[0]?.rules ?? []) {
    assert.match(r.expr, /\{namespace="ccm"[,}]/, r.alert);
    assert.doesNotMatch(r.expr, /job=/, r.alert);
  }
});

test('every dashboard query parses as PromQL', async () => {
  const { dashboard } = await render();
  const promtool = testbin('promtool');
  for (const p of dashboard.panels) {
    for (const t of p.targets ?? []) {
      // Grafana's variables, as Grafana substitutes them before sending the query.
      const expr = t.expr.replaceAll('$__rate_interval', '5m').replaceAll('$job', '.+');
      await run(promtool, ['promql', 'format', '--experimental', expr]).catch((err: unknown) => {
        throw new Error(`panel "${p.title}": ${expr}: ${String(err)}`);
      });
    }
  }
});

test('the dashboard has the structure of a Grafana dashboard', async () => {
  const { dashboard } = await render();
  // The required top-level fields of Grafana's dashboard schema and their types.
  assert.equal(typeof dashboard.title, 'string');
  assert.equal(typeof dashboard.editable, 'boolean');
  assert.ok([0, 1, 2].includes(dashboard.graphTooltip));
  assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 36);
  assert.match(dashboard.uid, /^[a-zA-Z0-9_-]{1,40}$/);
  assert.ok(dashboard.time.from && dashboard.time.to);
  const vars = new Set(dashboard.templating.list.map((v) => v.name));
  assert.ok(vars.has('datasource') && vars.has('job'));

  const ids = new Set<number>();
  const cells = new Set<string>();
  for (const p of dashboard.panels) {
    assert.ok(Number.isInteger(p.id) && !ids.has(p.id), `panel ids are unique: ${p.id}`);
    ids.add(p.id);
    assert.ok(['row', 'timeseries', 'stat'].includes(p.type), `${p.title}: a core panel type`);
    const { x, y, w, h } = p.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24 && h > 0 && y >= 0, `${p.title}: inside 24 columns`);
    // No two panels cover the same grid cell.
    for (let i = x; i < x + w; i++) {
      for (let j = y; j < y + h; j++) {
        assert.ok(!cells.has(`${i},${j}`), `${p.title} overlaps another panel at ${i},${j}`);
        cells.add(`${i},${j}`);
      }
    }
    if (p.type === 'row') continue;
    assert.ok((p.targets ?? []).length > 0, `${p.title} has queries`);
    assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title);
    const refs = new Set<string>();
    for (const t of p.targets ?? []) {
      assert.ok(!refs.has(t.refId), `${p.title}: refIds are unique`);
      refs.add(t.refId);
      assert.deepEqual(t.datasource, p.datasource, `${p.title}: the panel's data source`);
      // Every variable a query uses is defined (Grafana's built-ins aside).
      for (const m of t.expr.matchAll(/\$(\w+)/g)) {
        if (!m[1]?.startsWith('__')) assert.ok(vars.has(m[1] ?? ''), `${p.title}: $${m[1]}`);
      }
    }
  }
});

test('the dashboard ConfigMap and the rule are off by default and follow their values', async () => {
  const defaults = parseManifest(
    await helm('template', NAME, CHART_DIR, '--namespace', 'kube-system'),
  );
  assert.equal(
    defaults.some((o) => o.kind === 'ConfigMap' || o.kind === 'PrometheusRule'),
    false,
  );
  const objects = parseManifest(
    await helm(
      'template',
      NAME,
      CHART_DIR,
      '--namespace',
      'kube-system',
      '--set',
      'dashboard.enabled=true,dashboard.namespace=monitoring,prometheusRule.enabled=true,prometheusRule.namespace=monitoring',
      '--set-json',
      'dashboard.annotations={"grafana_folder":"Kubernetes"}',
      '--set-json',
      'prometheusRule.labels={"release":"kube-prometheus-stack"}',
      '--set-json',
      'prometheusRule.additionalLabels={"team":"platform"}',
    ),
  );
  const cm = find(objects, 'ConfigMap') as unknown as {
    metadata: { namespace: string; annotations: Record<string, string> };
  };
  assert.equal(cm.metadata.namespace, 'monitoring');
  assert.deepEqual(cm.metadata.annotations, { grafana_folder: 'Kubernetes' });
  const rule = find(objects, 'PrometheusRule') as unknown as {
    metadata: { namespace: string; labels: Record<string, string> };
    spec: { groups: RuleGroup[] };
  };
  assert.equal(rule.metadata.namespace, 'monitoring');
  assert.equal(rule.metadata.labels['release'], 'kube-prometheus-stack');
  for (const r of rule.spec.groups[0]?.rules ?? []) assert.equal(r.labels['team'], 'platform');
  // The PodMonitor still lives in the release namespace, so the default selector names its job.
  assert.match(
    rule.spec.groups[0]?.rules[0]?.expr ?? '',
    /job="kube-system\/oxide-cloud-controller-manager"/,
  );
});
