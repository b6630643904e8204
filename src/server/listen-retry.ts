// The secure port when another process holds it. With hostNetwork, the documented migration
// ("install ours, then delete the old CCM") puts both CCMs on one node, both on port 10258. The
// old one keeps leading through the shared Lease, so ours has nothing to serve yet; exiting would
// only crash-loop the Pod behind the kubelet's back-off. So ours keeps running and retries the
// bind until the port is free (one warning line when it is taken, one info line when served).
// Other listen errors (bad address, permission) still fail the start.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.ts';
import type { RunningServer } from './server.ts';

export const BIND_RETRY_MS = 2_000;

export interface RetryingServer {
  /** The server once bound; undefined while the port is taken. */
  current(): RunningServer | undefined;
  close(): Promise<void>;
}

function inUse(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}

export async function listenRetryingWhileInUse(
  start: () => Promise<RunningServer>,
  where: string,
  log: Logger,
  retryMs = BIND_RETRY_MS,
): Promise<RetryingServer> {
  try {
    const server = await start();
    return { current: () => server, close: () => server.close() };
  } catch (err) {
    if (!inUse(err)) throw err;
  }
  log.warn(
    { retryEveryMs: retryMs },
    `${where} is in use (another cloud-controller-manager on this node?); running, and serving as soon as it is free`,
  );
  const stop = new AbortController();
  let server: RunningServer | undefined;
  const loop = (async () => {
    while (!stop.signal.aborted) {
      try {
        await sleep(retryMs, undefined, { signal: stop.signal });
      } catch {
        return;
      }
      try {
        const bound = await start();
        if (stop.signal.aborted) await bound.close();
        else server = bound;
        return;
      } catch (err) {
        if (!inUse(err)) {
          log.error(
            `cannot serve on ${where}: ${err instanceof Error ? err.message : String(err)}`,
          );
          return;
        }
      }
    }
  })();
  return {
    current: () => server,
    close: async () => {
      stop.abort();
      await loop;
      await server?.close();
    },
  };
}
