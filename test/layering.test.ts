// The one-way layering of docs/architecture.md, checked on the import specifiers of every product
// file (src/, tests excluded): the image is built from src/ alone, so nothing there may reach the
// simulator, the tests, the benchmarks or hack/; controllers know Kubernetes and reach the cloud
// only through src/cloud/provider.ts; the Oxide provider knows Oxide and not how Kubernetes
// objects are watched or reconciled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { repoRoot } from './harness/testbin.ts';

interface Rule {
  from: string;
  forbids: (target: string) => boolean;
  why: string;
}

const RULES: Rule[] = [
  {
    from: 'src/',
    forbids: (t) => !t.startsWith('src/'),
    why: 'product code is bundled from src/ alone (no sim/, test/, bench/, hack/)',
  },
  {
    from: 'src/controllers/',
    forbids: (t) => t.startsWith('src/cloud/oxide/') || t.startsWith('src/oxide/'),
    why: 'controllers reach the cloud through src/cloud/provider.ts only',
  },
  {
    from: 'src/cloud/oxide/',
    forbids: (t) => t.startsWith('src/kube/informer') || t.startsWith('src/controllers/'),
    why: 'the Oxide provider does not know informers or controllers',
  },
];

/**
 * The module specifiers a TypeScript source imports or re-exports, statically or with a dynamic
 * import() of a string literal, in source order. Comments are skipped; string and template
 * contents are kept apart so an import written inside one is not taken for code.
 */
function importSpecifiers(source: string): string[] {
  const code = blankCommentsAndStrings(source);
  const specs: string[] = [];
  const patterns = [
    // import x from '…', import type { … } from '…', export * from '…', export { … } from '…'
    /\b(?:import|export)\b[^;'"`()]*?\bfrom\s*(['"])/g,
    // import '…' (for its side effects)
    /\bimport\s*(['"])/g,
    // import('…')
    /\bimport\s*\(\s*(['"`])/g,
  ];
  const found: { at: number; spec: string }[] = [];
  for (const re of patterns) {
    for (const m of code.matchAll(re)) {
      const quoteAt = m.index + m[0].length - 1;
      const end = source.indexOf(m[1] as string, quoteAt + 1);
      found.push({ at: quoteAt, spec: source.slice(quoteAt + 1, end) });
    }
  }
  for (const f of found.sort((a, b) => a.at - b.at)) specs.push(f.spec);
  return specs;
}

/**
 * The source with comments and the insides of string, template and regular-expression literals
 * replaced by spaces (quotes stay, offsets are unchanged), so patterns only ever match code.
 */
function blankCommentsAndStrings(src: string): string {
  const out = src.split('');
  const blank = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  // Where `/` starts a regular expression rather than a division.
  const regexMay = (i: number): boolean => {
    let j = i - 1;
    while (j >= 0 && /\s/.test(src[j] as string)) j--;
    if (j < 0) return true;
    if ('(,=:[!&|?{};+-*%<>~^'.includes(src[j] as string)) return true;
    const word = /([A-Za-z]+)$/.exec(src.slice(Math.max(0, j - 10), j + 1))?.[1];
    return (
      word !== undefined && /^(return|typeof|case|in|of|void|delete|throw|new|else|do)$/.test(word)
    );
  };
  const templateDepth: number[] = [];
  let braces = 0;
  let i = 0;
  const skipQuoted = (quote: string): void => {
    const start = i + 1;
    i++;
    while (i < src.length && src[i] !== quote) {
      if (src[i] === '\\') i++;
      else if (quote === '`' && src[i] === '$' && src[i + 1] === '{') {
        blank(start, i);
        templateDepth.push(braces);
        i += 2;
        return;
      }
      i++;
    }
    blank(start, i);
    i++;
  };
  while (i < src.length) {
    const c = src[i];
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      const end = src.indexOf('\n', i);
      const stop = end === -1 ? src.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end === -1 ? src.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      skipQuoted(c);
    } else if (c === '}' && templateDepth.at(-1) === braces) {
      // back inside a template literal after its ${…}
      templateDepth.pop();
      skipQuoted('`');
    } else if (c === '/' && regexMay(i)) {
      const start = i + 1;
      i++;
      let inClass = false;
      while (i < src.length && src[i] !== '\n' && (inClass || src[i] !== '/')) {
        if (src[i] === '\\') i++;
        else if (src[i] === '[') inClass = true;
        else if (src[i] === ']') inClass = false;
        i++;
      }
      blank(start, i);
      i++;
    } else {
      if (c === '{') braces++;
      if (c === '}') braces--;
      i++;
    }
  }
  return out.join('');
}

function productFiles(dir = 'src'): string[] {
  const files: string[] = [];
  for (const e of readdirSync(posix.join(repoRoot, dir), { withFileTypes: true })) {
    const path = posix.join(dir, e.name);
    if (e.isDirectory()) files.push(...productFiles(path));
    else if (/\.(m|c)?[jt]s$/.test(e.name) && !/\.test\.[jt]s$/.test(e.name)) files.push(path);
  }
  return files;
}

test('the import scanner finds static, type-only, re-exported and dynamic imports, not comments or strings', () => {
  const source = [
    "import a from './a.ts';",
    "import type { B } from '../b.ts';",
    'import {',
    '  c,',
    '  type D,',
    "} from '../../c/d.ts';",
    "import './side-effect.ts';",
    "export * from './e.ts';",
    "export { f } from './f.ts';",
    "// import g from './commented.ts';",
    "/* import('./block-commented.ts') */",
    'const s = "import h from \'./in-a-string.ts\'";',
    "const t = `import('./in-a-template.ts') ${s.replace(/'/g, '`')}`;",
    "const m = await import('./dynamic.ts');",
    'const n = await import(`./dynamic-template.ts`);',
  ].join('\n');
  assert.deepEqual(importSpecifiers(source), [
    './a.ts',
    '../b.ts',
    '../../c/d.ts',
    './side-effect.ts',
    './e.ts',
    './f.ts',
    './dynamic.ts',
    './dynamic-template.ts',
  ]);
});

test('product files import along the layers only', () => {
  const files = productFiles();
  assert.ok(files.length > 50, `found only ${files.length} product files under src/`);
  const violations: string[] = [];
  for (const file of files) {
    for (const spec of importSpecifiers(readFileSync(posix.join(repoRoot, file), 'utf8'))) {
      if (!spec.startsWith('.')) continue; // packages and node: built-ins
      const target = posix.normalize(posix.join(posix.dirname(file), spec));
      for (const rule of RULES) {
        if (file.startsWith(rule.from) && rule.forbids(target)) {
          violations.push(`${file} imports ${target}: ${rule.why}`);
        }
      }
    }
  }
  assert.deepEqual(violations, []);
});
