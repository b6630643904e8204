// The bundle the image ships (hack/bundle.ts): the npm packages it reports are exactly the ones
// esbuild put into the output (runtime dependencies, never build tools), each with its version,
// licence, npm integrity and full licence text, because the image's SBOM and
// THIRD-PARTY-LICENSES.txt are made from this report.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './harness/testbin.ts';

const run = promisify(execFile);

interface BundledPackage {
  name: string;
  version: string;
  license: string;
  path: string;
  integrity: string;
  licenseFiles: string[];
}

let dir = '';
let packages: BundledPackage[] = [];
let licenses = '';
let bundle = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'occm-bundle-'));
  const outfile = join(dir, 'occm.mjs');
  await run(process.execPath, [join(repoRoot, 'hack', 'bundle.ts'), '--outfile', outfile], {
    cwd: repoRoot,
  });
  bundle = readFileSync(outfile, 'utf8');
  packages = JSON.parse(readFileSync(`${outfile}.packages.json`, 'utf8')) as BundledPackage[];
  licenses = readFileSync(`${outfile}.THIRD-PARTY-LICENSES.txt`, 'utf8');
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('reports the runtime dependencies the bundle contains, and no build tools', () => {
  const names = new Set(packages.map((p) => p.name));
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  for (const [name, version] of Object.entries(pkg.dependencies)) {
    const found = packages.find((p) => p.name === name && p.path === `node_modules/${name}`);
    assert.equal(found?.version, version, `${name} is bundled at the pinned version`);
  }
  for (const name of Object.keys(pkg.devDependencies)) {
    assert.equal(names.has(name), false, `${name} is a build tool, not bundled`);
  }
  assert.ok(bundle.length > 1_000_000, 'the bundle itself was written');
});

test('every bundled package has a licence, an npm integrity and its licence text', () => {
  for (const p of packages) {
    assert.match(p.license, /^[A-Za-z0-9.+ ()-]+$/, `${p.name}: SPDX licence`);
    assert.match(p.integrity, /^sha512-[A-Za-z0-9+/]+=*$/, `${p.name}: integrity from the lock`);
    assert.ok(p.licenseFiles.length > 0, `${p.name}: licence files`);
    for (const file of p.licenseFiles) {
      assert.ok(existsSync(join(repoRoot, file)), `${file} exists`);
      const heading = `${p.name}@${p.version} (${p.license}): ${file}`;
      assert.ok(licenses.includes(heading), `THIRD-PARTY-LICENSES has ${heading}`);
    }
  }
  // @oxide/api ships no licence file: it gets the MPL-2.0 text of LICENSE.
  const oxide = packages.find((p) => p.name === '@oxide/api');
  assert.deepEqual(oxide?.licenseFiles, ['LICENSE']);
  assert.match(
    readFileSync(join(repoRoot, 'LICENSE'), 'utf8'),
    /^Mozilla Public License Version 2\.0\n/,
  );
});

test('kubernetes_build_info: the bundle carries its commit and the commit time; a run from source says nothing', async () => {
  // A bundle of a tiny entry that prints the family, built the way the image's bundle is.
  const entry = join(dir, 'build-info.ts');
  writeFileSync(
    entry,
    `import { registry } from ${JSON.stringify(join(repoRoot, 'src', 'metrics-registry.ts'))};\n` +
      `console.log(await registry.getSingleMetricAsString('kubernetes_build_info'));\n`,
  );
  const outfile = join(dir, 'build-info.mjs');
  await run(
    process.execPath,
    [join(repoRoot, 'hack', 'bundle.ts'), '--entry', entry, '--outfile', outfile],
    {
      cwd: repoRoot,
      env: { ...process.env, SOURCE_DATE_EPOCH: '1765000000' },
    },
  );
  const git = async (...args: string[]) =>
    (await run('git', args, { cwd: repoRoot })).stdout.trim();
  const commit = await git('rev-parse', 'HEAD');
  const dirty = (await git('status', '--porcelain', '--untracked-files=no')) !== '';
  const bundled = (await run(process.execPath, [outfile])).stdout;
  assert.match(bundled, new RegExp(`git_commit="${commit}"`));
  assert.match(bundled, new RegExp(`git_tree_state="${dirty ? 'dirty' : 'clean'}"`));
  assert.match(bundled, /build_date="2025-12-06T05:46:40Z"/);

  const source = (await run(process.execPath, [entry])).stdout;
  assert.match(source, /git_commit="",git_tree_state="",build_date=""/);
});
