// docs/architecture.md is the map of the code: every file or folder it names must exist, so a
// move or a deletion that forgets the map fails here instead of misleading the next reader. A
// name is a backticked token ending in a file extension or `/`, or a relative link target; it is
// read from the repository root or, written short, inside a folder named before it in the same
// table row, list item or paragraph (`src/kube/` … `informer.ts`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, globSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { repoRoot } from './harness/testbin.ts';

const MAP = 'docs/architecture.md';
const PATH_LIKE = /^[\w.\-/*]+$/;
const NAMES_A_FILE = /\.(ts|md|yaml|yml|json|lock|sh|go|mjs)$|\/$/;

/** Table rows, list items, headings and paragraphs: the span a short name is read within. */
function units(text: string): string[] {
  const out: string[] = [];
  let current: string[] = [];
  const flush = (): void => {
    if (current.length > 0) out.push(current.join('\n'));
    current = [];
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '' || /^\s*(\||#|- |\d+\. )/.test(line)) flush();
    if (line.trim() !== '') current.push(line);
  }
  flush();
  return out;
}

/** The names in one unit that do not resolve. */
function missingIn(unit: string, root: string): string[] {
  const folders: string[] = [];
  const missing: string[] = [];
  const names = [
    ...[...unit.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] as string),
    ...[...unit.matchAll(/\]\(([^)\s#]+)/g)]
      .map((m) => m[1] as string)
      .filter((t) => !/^[a-z]+:/.test(t))
      .map((t) => relative(root, join(root, dirname(MAP), t))),
  ];
  for (const name of names) {
    if (!PATH_LIKE.test(name) || !NAMES_A_FILE.test(name)) continue;
    if (name.includes('*')) {
      if (globSync(name, { cwd: root }).length === 0) missing.push(name);
      continue;
    }
    const found = [name, ...folders.map((f) => join(f, name))].find((p) =>
      existsSync(join(root, p)),
    );
    if (found === undefined) {
      missing.push(name);
      continue;
    }
    folders.unshift(statSync(join(root, found)).isDirectory() ? found : dirname(found));
  }
  return missing;
}

test(`every path ${MAP} names exists`, () => {
  const root = repoRoot;
  const text = readFileSync(join(root, MAP), 'utf8');
  const missing = units(text).flatMap((u) => missingIn(u, root));
  assert.deepEqual(missing, [], `${MAP} names paths that do not exist`);
});

test('a short name resolves only inside a folder named before it', () => {
  const root = repoRoot;
  assert.deepEqual(missingIn('`src/kube/` (`informer.ts`, `workqueue.ts`)', root), []);
  assert.deepEqual(missingIn('`informer.ts` in `src/kube/`', root), ['informer.ts']);
  assert.deepEqual(missingIn('`src/kube/` and `no-such-file.ts`', root), ['no-such-file.ts']);
  assert.deepEqual(missingIn('`test/*-oxide*.test.ts`, `test/*.nothing.ts`', root), [
    'test/*.nothing.ts',
  ]);
});
