// The repository holds everything its tests read: the Oxide OpenAPI documents (sim/openapi/) and
// the Go CCM's flag and metric lists (test/reference/), each byte for byte as published or
// recorded, with the sha256 its README gives. Nothing may reach outside the checkout for them: a
// fresh clone with nothing beside it must pass, with nothing skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from './harness/testbin.ts';

const COPIES = ['sim/openapi', 'test/reference'];

/** `name` → sha256 from the README's table rows (| `name` | … | `hash` |). */
function recorded(dir: string): Map<string, string> {
  const readme = readFileSync(join(repoRoot, dir, 'README.md'), 'utf8');
  const out = new Map<string, string>();
  for (const m of readme.matchAll(/^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$/gm))
    out.set(m[1] as string, m[2] as string);
  return out;
}

test('every reference copy is in the repository with the sha256 its README records', () => {
  for (const dir of COPIES) {
    const hashes = recorded(dir);
    const files = readdirSync(join(repoRoot, dir)).filter((f) => f !== 'README.md');
    assert.deepEqual([...hashes.keys()].sort(), files.sort(), `${dir}/README.md lists every file`);
    for (const [name, want] of hashes) {
      const got = createHash('sha256')
        .update(readFileSync(join(repoRoot, dir, name)))
        .digest('hex');
      assert.equal(got, want, `${dir}/${name} differs from the published copy`);
    }
  }
});

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules' || e.name === '.git' || e.name === 'dist') return [];
    const path = join(dir, e.name);
    return e.isDirectory() ? walk(path) : [path];
  });
}

test('no file of the repository reads or names the folder beside the checkout', () => {
  // Spelled in two parts so this file does not match itself.
  const outside = ['../' + 'shared', '/work/' + 'shared'];
  const offenders = walk(repoRoot)
    .filter((p) => !p.endsWith('.json'))
    .filter((p) => {
      const text = readFileSync(p, 'utf8');
      return outside.some((s) => text.includes(s));
    })
    .map((p) => relative(repoRoot, p));
  assert.deepEqual(offenders, []);
});
