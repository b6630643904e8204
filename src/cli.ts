// The command as a function of argv and env, so tests can run it in-process or as a process.
// Usage problems (flags) exit 2 like Go programs; configuration and startup problems exit 1.
// Every problem is one line; the Oxide token is scrubbed from anything printed, as a last guard.
import { readCommandLine, USAGE_EXIT_CODE } from './config/command-line.ts';
import { loadOxideConfig } from './config/oxide.ts';
import { usage } from './config/usage.ts';
import { runApp, EXIT_FAILURE } from './app.ts';
import { createLogger, setProcessLogger } from './log.ts';
import type { LoggingFormat } from './log.ts';
import { requiredRelease } from './oxide/api-version.ts';
import { PROGRAM, VERSION } from './version.ts';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export function versionText(): string {
  return `${PROGRAM} v${VERSION} (${requiredRelease()})\n`;
}

export async function runCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
  signal: AbortSignal,
): Promise<number> {
  const cmd = readCommandLine(argv);
  if (cmd.options.help) {
    io.stdout.write(usage());
    return 0;
  }
  if (cmd.options.version) {
    io.stdout.write(versionText());
    return 0;
  }
  const oxide = loadOxideConfig(env, cmd.options.cloudConfig, cmd.options.oxideProjects);
  const problems = [...cmd.errors, ...oxide.errors];
  if (problems.length > 0 || !oxide.settings) {
    const secrets = [env['OXIDE_TOKEN']].filter((s): s is string => Boolean(s));
    const scrub = (line: string): string =>
      secrets.reduce((text, secret) => text.split(secret).join('[REDACTED]'), line);
    for (const w of oxide.warnings) io.stderr.write(`warning: ${scrub(w)}\n`);
    for (const p of problems) io.stderr.write(`error: ${scrub(p)}\n`);
    if (cmd.errors.length > 0) io.stderr.write(`Run '${PROGRAM} --help' for usage.\n`);
    return cmd.errors.length > 0 ? USAGE_EXIT_CODE : EXIT_FAILURE;
  }
  const { options } = cmd;
  const format = options.loggingFormat as LoggingFormat;
  const split = format === 'json' ? options.logJsonSplitStream : options.logTextSplitStream;
  // klog and component-base write every line to stderr unless a split stream is asked for.
  const log = createLogger({
    verbosity: options.verbosity,
    format,
    errorStream: io.stderr,
    ...(split ? { infoStream: io.stdout } : {}),
    secrets: [oxide.settings.token],
  });
  setProcessLogger(log);
  for (const warning of [...cmd.warnings, ...oxide.warnings]) log.warn(warning);
  log.info(
    {
      version: VERSION,
      controllers: cmd.controllers.map((c) => c.name),
      leaderElect: cmd.options.leaderElect,
      clusterName: cmd.options.clusterName,
    },
    'starting',
  );
  return runApp(
    { options: cmd.options, controllers: cmd.controllers, oxide: oxide.settings },
    log,
    signal,
  );
}
