// The Oxide API version we send (src/oxide/api-version.ts) must give us exactly what the code
// uses. For every operation the product code calls, found by scanning src/ for SDK calls rather
// than from a hand-kept list, the operation and every schema it reaches must be identical in the
// document of the version we send and in the one the SDK was generated from. Then the simulator
// plays a rack on that release and the client works against it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Api } from '@oxide/api';
import { specPath } from '../sim/openapi.ts';
import { startSimulator } from '../sim/server.ts';
import { API_VERSION, releaseForApiVersion } from '../src/oxide/api-version.ts';
import { OxideClient } from '../src/oxide/client.ts';
import { repoRoot } from './harness/testbin.ts';
import { listInstances, viewInstanceById } from '../src/oxide/instances.ts';
import { viewCurrentUser, viewProject } from '../src/oxide/projects.ts';

const SDK_VERSION = new Api().apiVersion;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Doc {
  info: { version: string };
  paths: Record<string, Record<string, { operationId?: string } & Record<string, Json>>>;
  [key: string]: Json | object;
}

function load(version: string): Doc {
  return JSON.parse(readFileSync(specPath(version), 'utf8')) as Doc;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/** SDK method names called anywhere in the product code (`api.methods.instanceView(...)`). */
function calledMethods(): Set<string> {
  const names = new Set<string>();
  for (const file of sourceFiles(join(repoRoot, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bmethods\.([A-Za-z0-9]+)\b/g))
      names.add(m[1] as string);
  }
  return names;
}

const camel = (operationId: string): string =>
  operationId.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

interface Located {
  path: string;
  method: string;
  operation: Json;
}

function operations(doc: Doc): Map<string, Located> {
  const out = new Map<string, Located>();
  for (const [path, methods] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(methods))
      if (op.operationId) out.set(op.operationId, { path, method, operation: op as Json });
  return out;
}

/** Every JSON pointer (`#/components/...`) reachable from `root` through $ref, transitively. */
function reachable(doc: Doc, root: Json): Map<string, Json> {
  const seen = new Map<string, Json>();
  const visit = (node: Json): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      const ref = node['$ref'];
      if (typeof ref === 'string' && !seen.has(ref)) {
        const target = ref
          .replace(/^#\//, '')
          .split('/')
          .reduce<unknown>((at, key) => (at as Record<string, unknown>)[key], doc) as Json;
        seen.set(ref, target);
        visit(target);
      }
      Object.values(node).forEach(visit);
    }
  };
  visit(root);
  return seen;
}

/** What differs for one operation between two documents: [] when identical. */
function differences(older: Doc, newer: Doc, operationId: string): string[] {
  const a = operations(older).get(operationId);
  const b = operations(newer).get(operationId);
  if (!a || !b)
    return [`${operationId}: missing in ${a ? newer.info.version : older.info.version}`];
  const out: string[] = [];
  if (a.path !== b.path || a.method !== b.method)
    out.push(`${operationId}: ${a.method} ${a.path} vs ${b.method} ${b.path}`);
  if (!isDeepStrictEqual(a.operation, b.operation)) out.push(`${operationId}: operation differs`);
  const ra = reachable(older, a.operation);
  const rb = reachable(newer, b.operation);
  for (const ref of new Set([...ra.keys(), ...rb.keys()]))
    if (!isDeepStrictEqual(ra.get(ref), rb.get(ref))) out.push(`${operationId}: ${ref} differs`);
  return out;
}

test('the api-version we send is a known release, older than or equal to the SDK own', () => {
  assert.equal(releaseForApiVersion().release, 20);
  assert.ok(API_VERSION <= SDK_VERSION, `${API_VERSION} vs SDK ${SDK_VERSION}`);
});

test('every operation the code calls is identical in the sent and the SDK version', () => {
  const older = load(API_VERSION);
  const newer = load(SDK_VERSION);
  assert.equal(older.info.version, API_VERSION);
  assert.equal(newer.info.version, SDK_VERSION);
  const byCamel = new Map([...operations(newer).keys()].map((id) => [camel(id), id]));
  const called = [...calledMethods()].sort();
  const ids = called.map((m) => {
    const id = byCamel.get(m);
    assert.ok(id, `src/ calls methods.${m}, which is no operation of ${SDK_VERSION}`);
    return id;
  });
  // A scan that found nothing would prove nothing: the CCM reads instances at the very least.
  assert.ok(ids.includes('instance_view') && ids.includes('current_user_view'), ids.join(' '));
  console.log(`comparing ${ids.length} operations: ${ids.join(', ')}`);
  assert.deepEqual(
    ids.flatMap((id) => differences(older, newer, id)),
    [],
  );
  // The comparison does see a difference where there is one (the only one the docs have).
  assert.notDeepEqual(differences(older, newer, 'ip_pool_list'), []);
});

test('a rack on release 20 serves the client (sent version accepted, SDK version refused)', async () => {
  const sim = await startSimulator({
    seed: { project: 'k8s', instances: [{ name: 'node-a' }] },
    apiVersion: API_VERSION,
  });
  const client = new OxideClient({ host: sim.url, token: sim.token, project: sim.project });
  try {
    assert.equal(client.apiVersion, API_VERSION);
    await viewCurrentUser(client);
    await viewProject(client);
    const [instance] = await listInstances(client);
    assert.equal(instance?.name, 'node-a');
    assert.equal((await viewInstanceById(client, instance.id)).name, 'node-a');
    // The same rack refuses the SDK's own (newer) version, so the successes above used ours.
    const raw = await fetch(`${sim.url}/v1/me`, {
      headers: { authorization: `Bearer ${sim.token}`, 'api-version': SDK_VERSION },
    });
    assert.equal(raw.status, 400);
  } finally {
    await client.close();
    await sim.stop();
  }
});
