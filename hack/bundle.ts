// Bundles the CCM into one ESM file for the container image, which carries no node_modules:
// `node hack/bundle.ts [--entry src/main.ts] [--outfile dist/…mjs] [--no-minify]`.
// Prints the output size and the largest inputs so bundle growth is visible in review.
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    entry: { type: 'string', default: join(root, 'src', 'main.ts') },
    outfile: { type: 'string', default: join(root, 'dist', 'oxide-cloud-controller-manager.mjs') },
    'no-minify': { type: 'boolean', default: false },
  },
});

// Dependencies published as CommonJS (pino, prom-client, client-node) call require() for Node
// built-ins; an ESM bundle has no require, so give it one. The names are prefixed so they cannot
// collide with identifiers esbuild keeps at the top level.
const banner = [
  "import { createRequire as __occmCreateRequire } from 'node:module';",
  'const require = __occmCreateRequire(import.meta.url);',
].join('\n');

const result = await build({
  absWorkingDir: root,
  entryPoints: [values.entry],
  outfile: values.outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  minify: !values['no-minify'],
  // Names stay readable in stack traces and in pino's error serialisation.
  keepNames: true,
  sourcemap: false,
  legalComments: 'eof',
  banner: { js: banner },
  metafile: true,
  logLevel: 'warning',
});

// The shipped program must never carry the simulator or test helpers.
const strays = Object.keys(result.metafile.inputs).filter((p) => /^(sim|test|hack)\//.test(p));
if (strays.length > 0) {
  console.error(`bundle: product code imports non-product files: ${strays.join(', ')}`);
  process.exit(1);
}

const out = statSync(values.outfile).size;
const inputs = new Map<string, number>();
const output = Object.values(result.metafile.outputs)[0];
for (const [path, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? '(project)';
  inputs.set(pkg, (inputs.get(pkg) ?? 0) + bytesInOutput);
}
const top = [...inputs.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
const kib = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;
console.log(`bundle: ${relative(root, values.outfile)} ${kib(out)}`);
console.log(`  largest inputs: ${top.map(([p, n]) => `${p} ${kib(n)}`).join(', ')}`);
