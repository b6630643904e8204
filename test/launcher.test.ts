// The image's entrypoint (launcher/, /usr/bin/oxide-cloud-controller-manager), built for this
// machine with the local Go and run from a staged tree laid out like the image (<prefix>/bin,
// <prefix>/lib/oxide-cloud-controller-manager) with the real pinned node: it must become node
// (same pid), put the node-flags file's flags first, then the bundle, then the arguments exactly
// as given, and pass node's exit code through. And every flag in hack/node-flags must be one
// this node accepts, since a rejected flag would stop the container at start.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './harness/testbin.ts';

const run = promisify(execFile);
const NAME = 'oxide-cloud-controller-manager';
let prefix = '';
let launcher = '';
let lib = '';

before(async () => {
  prefix = mkdtempSync(join(tmpdir(), 'occm-launcher-'));
  launcher = join(prefix, 'bin', NAME);
  lib = join(prefix, 'lib', NAME);
  mkdirSync(join(prefix, 'bin'), { recursive: true });
  mkdirSync(lib, { recursive: true });
  await run('go', ['build', '-trimpath', '-o', launcher, '.'], {
    cwd: join(repoRoot, 'launcher'),
    env: { ...process.env, CGO_ENABLED: '0' },
  });
  symlinkSync(process.execPath, join(prefix, 'bin', 'node'));
  // Stands in for the bundle: reports how node was started, exits with the code asked for.
  writeFileSync(
    join(lib, `${NAME}.mjs`),
    [
      'console.log(JSON.stringify({ execArgv: process.execArgv, script: process.argv[1],',
      '  args: process.argv.slice(2), pid: process.pid }));',
      "process.exitCode = Number(process.env.EXIT_CODE ?? '0');",
    ].join('\n'),
  );
});

after(() => rmSync(prefix, { recursive: true, force: true }));

interface Report {
  execArgv: string[];
  script: string;
  args: string[];
  pid: number;
}

async function launch(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; pid: number | undefined; out: string; err: string }> {
  const child = spawn(launcher, args, { env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, pid: child.pid, out, err };
}

test('execs node with the node-flags file, the bundle and the arguments unchanged', async () => {
  writeFileSync(
    join(lib, 'node-flags'),
    '# tuned for a long-running controller\n\n--max-semi-space-size=2\n   --stack-size=900  \n',
  );
  const args = ['--cloud-provider=oxide', 'two words', '--', '', '--v=2'];
  const { code, pid, out, err } = await launch(args);
  assert.equal(code, 0, err);
  const report = JSON.parse(out) as Report;
  assert.deepEqual(report.execArgv, ['--max-semi-space-size=2', '--stack-size=900']);
  assert.equal(report.script, join(lib, `${NAME}.mjs`));
  assert.deepEqual(report.args, args);
  assert.equal(report.pid, pid, 'node replaces the launcher: same pid, signals reach node');
});

test("node's exit code is the container's", async () => {
  writeFileSync(join(lib, 'node-flags'), '');
  const { code, out } = await launch(['--version'], { EXIT_CODE: '3' });
  assert.equal(code, 3);
  assert.deepEqual((JSON.parse(out) as Report).execArgv, []);
});

test('a missing node-flags file stops the start with a message', async () => {
  rmSync(join(lib, 'node-flags'));
  const { code, out, err } = await launch([]);
  assert.equal(code, 1);
  assert.equal(out, '');
  assert.match(err, new RegExp(`^${NAME}: open .*node-flags: no such file or directory\\n$`));
});

test('every flag in hack/node-flags is accepted by the pinned node', async () => {
  const flags = readFileSync(join(repoRoot, 'hack', 'node-flags'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const script = 'console.log(JSON.stringify(process.execArgv))';
  const { stdout } = await run(process.execPath, [...flags, '-e', script]);
  assert.deepEqual(JSON.parse(stdout), [...flags, '-e', script]);
});
