// The one-way layering of docs/architecture.md, checked on the real import graph of every product
// file (src/, tests and fixtures excluded) and of the simulator (sim/): the bundler's runtime
// imports plus the compiler's type-only ones (test/harness/import-graph.ts). Every rule is also run
// on a synthetic graph that breaks it, so a rule that can no longer fail is caught too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  importGraph,
  longFiles,
  ruleViolations,
  unitCycles,
  areaOf,
  unreachable,
} from './harness/import-graph.ts';
import type { ImportGraph, LayerRule } from './harness/import-graph.ts';
import { repoRoot } from './harness/testbin.ts';

/** The composition root: it wires the layers, and no layer knows it. */
const COMPOSITION_ROOT = ['src/main.ts', 'src/cli.ts', 'src/app.ts', 'src/metrics-registry.ts'];

interface Rule extends LayerRule {
  /** An import this rule refuses and one it lets through, run on a synthetic graph. */
  refuses: [string, string];
  allows: [string, string];
}

const RULES: Rule[] = [
  {
    from: 'src/',
    forbids: (t) => !t.startsWith('src/'),
    why: 'product code is bundled from src/ alone (no sim/, test/, bench/, hack/)',
    refuses: ['src/oxide/client.ts', 'sim/server.ts'],
    allows: ['src/oxide/client.ts', 'src/oxide/errors.ts'],
  },
  {
    from: 'src/controllers/',
    forbids: (t) => t.startsWith('src/cloud/oxide/') || t.startsWith('src/oxide/'),
    why: 'controllers know Kubernetes and reach the cloud through src/cloud/provider.ts only',
    refuses: ['src/controllers/node/controller.ts', 'src/oxide/instances.ts'],
    allows: ['src/controllers/node/controller.ts', 'src/cloud/provider.ts'],
  },
  {
    from: 'src/cloud/',
    forbids: (t) =>
      ['src/kube/informer.ts', 'src/kube/informers.ts', 'src/kube/workqueue.ts'].includes(t) ||
      t.startsWith('src/controllers/'),
    why: 'the provider knows neither informers, queues nor controllers',
    refuses: ['src/cloud/oxide/instances.ts', 'src/kube/informers.ts'],
    allows: ['src/cloud/oxide/instances.ts', 'src/kube/well-known.ts'],
  },
  {
    from: 'src/cloud/provider.ts',
    forbids: (t) => t.startsWith('src/cloud/oxide/') || t.startsWith('src/oxide/'),
    why: 'the contract between controllers and a cloud names no Oxide type',
    refuses: ['src/cloud/provider.ts', 'src/cloud/oxide/provider.ts'],
    allows: ['src/cloud/provider.ts', 'src/names.ts'],
  },
  {
    from: 'src/oxide/',
    forbids: (t) => ['src/kube/', 'src/cloud/', 'src/controllers/'].some((p) => t.startsWith(p)),
    why: 'the Oxide client knows neither Kubernetes, the provider nor controllers',
    refuses: ['src/oxide/inventory.ts', 'src/cloud/oxide/provider-id.ts'],
    allows: ['src/oxide/inventory.ts', 'src/util/ttl-cache.ts'],
  },
  {
    from: 'src/kube/',
    forbids: (t) => ['src/controllers/', 'src/cloud/', 'src/oxide/'].some((p) => t.startsWith(p)),
    why: 'our client-go knows neither controllers nor any cloud',
    refuses: ['src/kube/informers.ts', 'src/controllers/runner.ts'],
    allows: ['src/kube/informers.ts', 'src/log.ts'],
  },
  {
    from: 'src/util/',
    forbids: (t) => !t.startsWith('src/util/'),
    why: 'util/ is layer-free: it imports nothing of ours outside util/',
    refuses: ['src/util/ttl-cache.ts', 'src/log.ts'],
    allows: ['src/util/ttl-cache.ts', 'src/util/abort.ts'],
  },
  {
    from: (f) => f.startsWith('src/') && !COMPOSITION_ROOT.includes(f),
    forbids: (t) => COMPOSITION_ROOT.includes(t),
    why: 'only the composition root (main, cli, app, metrics-registry) imports itself',
    refuses: ['src/server/server.ts', 'src/metrics-registry.ts'],
    allows: ['src/app.ts', 'src/metrics-registry.ts'],
  },
];

// The unit of the cycle check is the area (src/kube, src/cloud, sim/db, …, or a file directly in
// src/ or sim/). Inside an area a subfolder may use its parent's files (load-balancer/ uses
// ../provider-id.ts): the areas are the layers, their subfolders are steps of one job.

const synthetic = (edges: [string, string][]): ImportGraph => ({
  files: [...new Set(edges.flat())].sort(),
  edges: edges.map(([from, to]) => ({ from, to, kind: 'runtime' })),
});

// ---- each rule, shown to fail --------------------------------------------------------------------

test('each layering rule refuses the import it names and lets the neighbouring one through', () => {
  for (const rule of RULES) {
    assert.equal(ruleViolations(synthetic([rule.refuses]), [rule]).length, 1, rule.why);
    assert.deepEqual(ruleViolations(synthetic([rule.allows]), [rule]), [], rule.why);
  }
});

test('a circle between areas is found; one within an area, or a one-way chain, is not', () => {
  assert.deepEqual(
    unitCycles(
      synthetic([
        ['sim/db.ts', 'sim/db/vpcs.ts'],
        ['sim/db/vpcs.ts', 'sim/db.ts'],
        ['src/kube/client.ts', 'src/server/tls.ts'],
        ['src/server/authn.ts', 'src/kube/client.ts'],
      ]),
      areaOf,
    ),
    [
      ['sim/db', 'sim/db.ts'],
      ['src/kube', 'src/server'],
    ],
  );
  assert.deepEqual(
    unitCycles(
      synthetic([
        ['src/cloud/oxide/provider.ts', 'src/cloud/oxide/load-balancer/placement.ts'],
        ['src/cloud/oxide/load-balancer/placement.ts', 'src/cloud/oxide/provider-id.ts'],
        ['src/app.ts', 'src/kube/client.ts'],
        ['src/kube/client.ts', 'src/log.ts'],
      ]),
      areaOf,
    ),
    [],
  );
});

test('a product file that src/main.ts does not reach is found', () => {
  const graph = synthetic([
    ['src/main.ts', 'src/app.ts'],
    ['src/app.ts', 'src/kube/client.ts'],
    ['src/kube/orphan.ts', 'src/kube/client.ts'],
  ]);
  assert.deepEqual(unreachable(graph, 'src/main.ts', 'src/'), ['src/kube/orphan.ts']);
});

test('the graph has type-only imports (which esbuild erases) and skips fixtures and tests', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'layering-'));
  try {
    mkdirSync(join(dir, 'src', 'fixtures'), { recursive: true });
    cpSync(join(repoRoot, 'tsconfig.json'), join(dir, 'tsconfig.json'));
    symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'src', 'a.ts'), "import type { B } from './b.ts';\nexport let a: B;\n");
    writeFileSync(
      join(dir, 'src', 'b.ts'),
      "import { c } from './c.ts';\nexport type B = 1;\nc();\n",
    );
    writeFileSync(join(dir, 'src', 'c.ts'), 'export const c = (): void => undefined;\n');
    writeFileSync(join(dir, 'src', 'c.test.ts'), "import { c } from './c.ts';\nc();\n");
    writeFileSync(join(dir, 'src', 'fixtures', 'f.ts'), "import { c } from '../c.ts';\nc();\n");
    const graph = await importGraph(dir, ['src']);
    assert.deepEqual(graph.files, ['src/a.ts', 'src/b.ts', 'src/c.ts']);
    assert.deepEqual(graph.edges, [
      { from: 'src/a.ts', to: 'src/b.ts', kind: 'type' },
      { from: 'src/b.ts', to: 'src/c.ts', kind: 'runtime' },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- the repository --------------------------------------------------------------------------------

const graph = await importGraph(repoRoot, ['src', 'sim']);

test('product files and the simulator import along the layers only', () => {
  assert.ok(graph.files.filter((f) => f.startsWith('src/')).length > 50, 'src/ scanned');
  assert.deepEqual(ruleViolations(graph, RULES), []);
});

test('no circle between areas (each folder of src/ and sim/, each file directly in them)', () => {
  assert.deepEqual(unitCycles(graph, areaOf), []);
});

test('every product file is reached from src/main.ts (no dead code or fixture in the product set)', () => {
  assert.deepEqual(unreachable(graph, 'src/main.ts', 'src/'), []);
});

test('import-graph numbers', () => {
  const product = graph.files.filter((f) => f.startsWith('src/'));
  const edges = graph.edges.filter((e) => e.from.startsWith('src/'));
  const long = longFiles(repoRoot, product, 300);
  console.log(
    `product files: ${product.length}; imports between them: ${edges.length} (type-only: ${edges.filter((e) => e.kind === 'type').length}); over 300 lines: ${long.length} (${long.join(', ')}); arrows back up: ${ruleViolations(graph, RULES).length}; circles between areas: ${unitCycles(graph, areaOf).length}`,
  );
});
