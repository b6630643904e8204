// The import graph of the repository's own TypeScript, for the layering guard
// (test/layering.test.ts). Two sources, neither a tokenizer of ours:
// - esbuild's metafile of a bundle with every file as an entry point: the runtime imports, resolved
//   as hack/bundle.ts resolves them for the image (static, dynamic and re-exports);
// - the compiler's module-resolution trace (`tsc --traceResolution --noCheck`): every import
//   TypeScript resolves, type-only ones included. esbuild erases `import type` before it resolves
//   anything, so without this a type-only arrow (say a controller naming an Oxide type) would
//   pass unseen.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { build } from 'esbuild';

export interface ImportEdge {
  /** Repository-relative posix paths. */
  from: string;
  to: string;
  /** runtime: in the bundle; type: erased when bundled (only the compiler sees it). */
  kind: 'runtime' | 'type';
}

export interface ImportGraph {
  /** The files scanned (tests excluded), sorted. */
  files: string[];
  /** Each importer-target pair once; runtime when the bundle has it. Packages and built-ins left out. */
  edges: ImportEdge[];
}

/** Fixtures of tests live in a folder of this name and are no product files. */
export const FIXTURES = 'fixtures';

/** The non-test TypeScript files under each of `dirs` (repository-relative). */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(posix.join(root, dir), { withFileTypes: true }).flatMap((e) => {
      const path = posix.join(dir, e.name);
      if (e.isDirectory()) return e.name === FIXTURES ? [] : walk(path);
      return /\.[cm]?ts$/.test(e.name) && !/\.test\.[cm]?ts$/.test(e.name) ? [path] : [];
    });
  return dirs.flatMap(walk).sort();
}

/** The graph of the non-test files under `dirs`, read from the bundler and the compiler. */
export async function importGraph(root: string, dirs: readonly string[]): Promise<ImportGraph> {
  const files = sourceFiles(root, dirs);
  const scanned = new Set(files);
  const edges = new Map<string, ImportEdge>();
  const add = (from: string, to: string, kind: ImportEdge['kind']): void => {
    if (!scanned.has(from) || to.startsWith('node_modules/') || from === to) return;
    const key = `${from}\0${to}`;
    if (!edges.has(key) || kind === 'runtime') edges.set(key, { from, to, kind });
  };
  for (const { from, to } of compilerImports(root)) add(from, to, 'type');
  for (const { from, to } of await bundlerImports(root, files)) add(from, to, 'runtime');
  return {
    files,
    edges: [...edges.values()].sort((a, b) =>
      a.from === b.from ? (a.to < b.to ? -1 : 1) : a.from < b.from ? -1 : 1,
    ),
  };
}

async function bundlerImports(
  root: string,
  files: readonly string[],
): Promise<{ from: string; to: string }[]> {
  const result = await build({
    absWorkingDir: posix.resolve(root),
    entryPoints: [...files],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    write: false,
    metafile: true,
    outdir: 'import-graph.out',
    logLevel: 'silent',
  });
  return Object.entries(result.metafile.inputs).flatMap(([from, input]) =>
    input.imports.filter((i) => i.external !== true).map((i) => ({ from, to: i.path })),
  );
}

/**
 * Every relative import the compiler resolves, from its trace. Our specifiers name the file
 * (`./x.ts`, tsconfig's allowImportingTsExtensions) and there are no path aliases, so the target is
 * the specifier joined to the importer's folder; one that does not exist is reported by tsc itself.
 */
function compilerImports(root: string): { from: string; to: string }[] {
  const tsc = posix.join(root, 'node_modules', '.bin', 'tsc');
  const trace = execFileSync(
    tsc,
    ['-p', 'tsconfig.json', '--noEmit', '--noCheck', '--traceResolution'],
    { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  const abs = posix.resolve(root);
  const out: { from: string; to: string }[] = [];
  for (const m of trace.matchAll(
    /^======== Resolving module '(\.[^']*)' from '([^']+)'\. ========$/gm,
  )) {
    const spec = m[1] as string;
    const importer = posix.relative(abs, m[2] as string);
    const target = posix.normalize(posix.join(posix.dirname(importer), spec));
    if (existsSync(posix.join(abs, target))) out.push({ from: importer, to: target });
  }
  return out;
}

// ---- the checks, pure over a graph (so a synthetic graph shows each one failing) ----------------

export interface LayerRule {
  /** Importers: files whose path starts with this, or for which this says true. */
  from: string | ((file: string) => boolean);
  /** The targets this layer must not import. */
  forbids: (target: string) => boolean;
  why: string;
}

/** One line per edge a rule forbids: `from -> to (kind): why`. */
export function ruleViolations(graph: ImportGraph, rules: readonly LayerRule[]): string[] {
  const out: string[] = [];
  for (const e of graph.edges)
    for (const rule of rules)
      if (
        (typeof rule.from === 'string' ? e.from.startsWith(rule.from) : rule.from(e.from)) &&
        rule.forbids(e.to)
      )
        out.push(`${e.from} -> ${e.to} (${e.kind}): ${rule.why}`);
  return out;
}

/**
 * The area a file belongs to for the cycle check: the folder directly under its root (src/kube,
 * sim/db), or the file itself when it sits directly in the root (src/app.ts, sim/db.ts: those
 * folders hold the composition root beside small shared modules, not one package).
 */
export function areaOf(file: string): string {
  const parts = file.split('/');
  return parts.length <= 2 ? file : parts.slice(0, 2).join('/');
}

/** Every set of units that import each other in a circle (strongly connected, more than one). */
export function unitCycles(graph: ImportGraph, unit: (file: string) => string): string[][] {
  const next = new Map<string, Set<string>>();
  for (const e of graph.edges) {
    const a = unit(e.from);
    const b = unit(e.to);
    if (a === b) continue;
    if (!next.has(a)) next.set(a, new Set());
    next.get(a)?.add(b);
  }
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string | undefined;
    do {
      w = stack.pop();
      if (w === undefined) break;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) cycles.push(component.sort());
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles.sort((a, b) => ((a[0] ?? '') < (b[0] ?? '') ? -1 : 1));
}

/** The files under `under` that `entry` does not reach, type-only imports included. */
export function unreachable(graph: ImportGraph, entry: string, under: string): string[] {
  const next = new Map<string, string[]>();
  for (const e of graph.edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const seen = new Set([entry]);
  const todo = [entry];
  for (let f = todo.pop(); f !== undefined; f = todo.pop())
    for (const t of next.get(f) ?? []) {
      if (seen.has(t)) continue;
      seen.add(t);
      todo.push(t);
    }
  return graph.files.filter((f) => f.startsWith(under) && !seen.has(f));
}

/** Files over `limit` lines, with their length. */
export function longFiles(root: string, files: readonly string[], limit: number): string[] {
  return files.flatMap((f) => {
    const lines = readFileSync(posix.join(root, f), 'utf8').split('\n').length - 1;
    return lines > limit ? [`${f} (${lines})`] : [];
  });
}
