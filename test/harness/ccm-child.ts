// The CCM as a child process, `node src/main.ts <args>` from this checkout, as the process tests
// run it: an environment of PATH only, a HOME that does not exist (no Oxide profile of the
// developer's leaks in) and the simulator's credentials; stdout and stderr are collected.
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Simulator } from '../../sim/server.ts';
import { repoRoot } from './testbin.ts';

export interface CcmChild {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** The exit code (null after a signal), once the output that came before it is read. */
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr in the order they arrived. */
  output(): string;
}

export function spawnCcm(
  args: readonly string[],
  oxide: Pick<Simulator, 'url' | 'token' | 'project'>,
): CcmChild {
  const child = spawn(join(repoRoot, 'node_modules', '.bin', 'node'), ['src/main.ts', ...args], {
    cwd: repoRoot,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: '/nonexistent',
      OXIDE_HOST: oxide.url,
      OXIDE_TOKEN: oxide.token,
      OXIDE_PROJECT: oxide.project,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    output += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => setImmediate(() => resolve(code))),
  );
  return { child, exited, stdout: () => stdout, stderr: () => stderr, output: () => output };
}
