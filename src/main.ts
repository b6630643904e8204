// Entry point: `node src/main.ts` in development, the bundle's entry in the image. SIGTERM or
// SIGINT stops the controllers, releases the leader Lease and exits 0; a second signal, or a
// shutdown that hangs, exits 1 at once.
import { runCli } from './cli.ts';
import { processLogger } from './log.ts';

const SHUTDOWN_GRACE_MS = 10_000;

const stop = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stop.signal.aborted) process.exit(1);
    stop.abort(new Error(`received ${sig}`));
    setTimeout(() => {
      fatal(`shutdown did not finish within ${SHUTDOWN_GRACE_MS / 1000}s; exiting`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
  });
}

try {
  const code = await runCli(process.argv.slice(2), process.env, process, stop.signal);
  // Explicit exit: idle keep-alive sockets of the HTTP clients must not hold the process open.
  process.exit(code);
} catch (err) {
  fatal(`fatal: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

/** A klog error line once logging is set up, a plain line on stderr before. */
function fatal(message: string): void {
  const log = processLogger();
  if (log) log.error(message);
  else console.error(message);
}
