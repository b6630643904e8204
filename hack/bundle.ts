// Bundles the CCM into one ESM file for the container image, which carries no node_modules:
// `node hack/bundle.ts [--entry src/main.ts] [--outfile dist/…mjs] [--no-minify]`.
// Prints the output size and the largest inputs so bundle growth is visible in review.
// Beside the bundle it writes what the image needs to attribute the npm code it carries, taken
// from the packages esbuild actually bundled (not from package.json): <outfile>.packages.json
// (name, version, licence, integrity; the SBOM's npm components) and
// <outfile>.THIRD-PARTY-LICENSES.txt (every bundled package's licence texts, in full).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
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

// Dependencies published as CommonJS (prom-client, tdigest) call require() for Node
// built-ins; an ESM bundle has no require, so give it one. The names are prefixed so they cannot
// collide with identifiers esbuild keeps at the top level.
const banner = [
  "import { createRequire as __occmCreateRequire } from 'node:module';",
  'const require = __occmCreateRequire(import.meta.url);',
].join('\n');

// What kubernetes_build_info reports (src/metrics-registry.ts): the commit, whether the work tree had
// uncommitted changes, and the build date, which is SOURCE_DATE_EPOCH (default: the commit's
// time) so two builds of one commit stay byte-identical, as hack/build-image.sh stamps the image.
// Outside a git checkout all three stay empty, as in a run from source.
function git(...args: string[]): string {
  try {
    return execFileSync('git', args, {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}
const gitCommit = git('rev-parse', 'HEAD');
const treeState = gitCommit
  ? git('status', '--porcelain', '--untracked-files=no')
    ? 'dirty'
    : 'clean'
  : '';
const epoch = process.env['SOURCE_DATE_EPOCH'] || git('log', '-1', '--format=%ct');
const buildDate = epoch
  ? new Date(Number(epoch) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
  : '';

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
  define: {
    __OCCM_GIT_COMMIT__: JSON.stringify(gitCommit),
    __OCCM_GIT_TREE_STATE__: JSON.stringify(treeState),
    __OCCM_BUILD_DATE__: JSON.stringify(buildDate),
  },
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

// Attribution: one entry per bundled package directory (nested copies are separate versions).
interface BundledPackage {
  name: string;
  version: string;
  license: string;
  /** Where it came from, relative to the checkout: node_modules/… */
  path: string;
  /** npm's Subresource Integrity of the published tarball, from package-lock.json. */
  integrity: string;
  licenseFiles: string[];
}

const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { integrity?: string }>;
};
const pkgDirs = new Set<string>();
for (const path of Object.keys(output?.inputs ?? {})) {
  const dir = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1];
  if (dir) pkgDirs.add(dir);
}
// A package that ships no licence file gets the standard text of its SPDX licence, from a file
// that is that text; anything else stops the build so no bundled code goes unattributed.
const standardTexts: Record<string, string> = { 'MPL-2.0': join(root, 'LICENSE') };
const packages: BundledPackage[] = [];
const texts: string[] = [];
for (const dir of [...pkgDirs].sort()) {
  const meta = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    license?: string;
  };
  const license = meta.license ?? 'UNKNOWN';
  let licenseFiles = readdirSync(join(root, dir))
    .filter((f) => /^(un)?licen[cs]e|^copying|^notice/i.test(f))
    .sort()
    .map((f) => join(dir, f));
  const standard = standardTexts[license];
  if (licenseFiles.length === 0 && standard) licenseFiles = [relative(root, standard)];
  if (licenseFiles.length === 0) {
    console.error(`bundle: ${meta.name}@${meta.version} (${license}) ships no licence text`);
    process.exit(1);
  }
  packages.push({
    name: meta.name,
    version: meta.version,
    license,
    path: dir,
    integrity: lock.packages[dir]?.integrity ?? '',
    licenseFiles,
  });
  for (const file of licenseFiles) {
    const rule = '='.repeat(78);
    const body = readFileSync(join(root, file), 'utf8').trimEnd();
    texts.push(`${rule}\n${meta.name}@${meta.version} (${license}): ${file}\n${rule}\n\n${body}\n`);
  }
}
const header =
  'Third-party software bundled into oxide-cloud-controller-manager.mjs, with the licence\n' +
  'texts each package ships (generated by hack/bundle.ts from the bundled files).\n\n';
writeFileSync(`${values.outfile}.THIRD-PARTY-LICENSES.txt`, header + texts.join('\n'));
writeFileSync(`${values.outfile}.packages.json`, `${JSON.stringify(packages, null, 2)}\n`);
console.log(`  ${packages.length} npm packages bundled; licence texts and list beside the bundle`);
