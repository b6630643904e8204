// `make release-bump` (hack/release-bump.sh) on a copy of the files it edits: the CHANGELOG's
// [Unreleased] notes become the release's dated entry under a new empty [Unreleased], the links
// follow, every place that carries the version moves together, and it refuses a release with no
// notes or a lower version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, testbin } from './harness/testbin.ts';

const run = promisify(execFile);
const FILES = [
  'Makefile',
  'CHANGELOG.md',
  'package.json',
  'package-lock.json',
  'src/version.ts',
  'hack/release-bump.sh',
  'hack/render-manifest.sh',
  'charts',
  'manifests',
];

test('release-bump writes the CHANGELOG entry and the version everywhere; refuses what it must', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'occm-bump-'));
  try {
    for (const f of FILES) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      cpSync(join(repoRoot, f), join(dir, f), { recursive: true });
    }
    const changelog = join(dir, 'CHANGELOG.md');
    const original = readFileSync(changelog, 'utf8');
    const current = /^VERSION \?= (\S+)$/m.exec(readFileSync(join(dir, 'Makefile'), 'utf8'))?.[1];
    assert.ok(current);
    const [major, minor, patch] = current.split('.').map(Number);
    const next = `${major}.${minor}.${(patch ?? 0) + 1}`;
    const bump = (version: string) =>
      run('bash', [join(dir, 'hack', 'release-bump.sh'), version], {
        cwd: dir,
        env: { ...process.env, HELM: testbin('helm') },
      });

    // Nothing under [Unreleased] yet: nothing to release.
    writeFileSync(
      changelog,
      original.replace(/## \[Unreleased\]\n[\s\S]*?(?=\n## \[)/, '## [Unreleased]\n'),
    );
    await assert.rejects(bump(next), /CHANGELOG.md has no entries under \[Unreleased\]/);

    writeFileSync(
      changelog,
      original.replace(
        '## [Unreleased]\n',
        '## [Unreleased]\n\n### Fixed\n\n- A fix worth a release.\n',
      ),
    );
    const { stdout } = await bump(next);
    assert.match(stdout, new RegExp(`release-bump: ${current} -> ${next}`));
    const today = new Date().toISOString().slice(0, 10);
    const text = readFileSync(changelog, 'utf8');
    assert.match(
      text,
      new RegExp(
        `## \\[Unreleased\\]\\n\\n## \\[${next}\\] - ${today}\\n\\n### Fixed\\n\\n- A fix worth a release\\.\\n`,
      ),
    );
    assert.match(text, new RegExp(`^\\[Unreleased\\]: .*/compare/v${next}\\.\\.\\.HEAD$`, 'm'));
    assert.match(text, new RegExp(`^\\[${next}\\]: .*/releases/tag/v${next}$`, 'm'));
    // The release before keeps its entry.
    assert.match(text, new RegExp(`^## \\[${current.replace(/\./g, '\\.')}\\] - `, 'm'));

    assert.match(
      readFileSync(join(dir, 'Makefile'), 'utf8'),
      new RegExp(`^VERSION \\?= ${next}$`, 'm'),
    );
    const chart = readFileSync(
      join(dir, 'charts/oxide-cloud-controller-manager/Chart.yaml'),
      'utf8',
    );
    assert.match(chart, new RegExp(`^version: ${next}$`, 'm'));
    assert.match(chart, new RegExp(`^appVersion: '${next}'$`, 'm'));
    assert.match(
      readFileSync(join(dir, 'src/version.ts'), 'utf8'),
      new RegExp(`VERSION = '${next}'`),
    );
    assert.equal(
      (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version,
      next,
    );
    assert.match(
      readFileSync(join(dir, 'manifests/oxide-cloud-controller-manager.yaml'), 'utf8'),
      new RegExp(`oxide-cloud-controller-manager:${next}\\n`),
    );

    await assert.rejects(bump(current), /is lower than the current/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
