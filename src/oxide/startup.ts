// The Oxide check at start, as an operator needs it when the rack's API is down, slow or failing:
// the process keeps running (healthy, not ready, with the reason on /readyz) and retries with
// capped backoff until the API answers, then goes on without a restart, as the Go CCM's
// controllers retry. Answers that retrying cannot change stop the start at once (exit 1): a
// rejected token (401/403), a project that does not exist or is not visible (404), and a 400
// (a rack older than the API version we send). Logs one line per change of state, not per retry.
// With several projects (--oxide-projects) the token must reach each of them, and a failure names
// the project it could not read; two entries naming one project (its name and its id) stop the
// start too.
import type { Logger } from '../log.ts';
import type { OxideClient } from './client.ts';
import { isOxideError } from './errors.ts';
import type { OxideError } from './errors.ts';
import { sleep } from '../util/async.ts';
import { viewCurrentUser, viewProject } from './projects.ts';

export interface StartupBackoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_STARTUP_BACKOFF: StartupBackoff = { initialMs: 1_000, maxMs: 30_000 };

/** Whether an error at start is an answer (stop) rather than an outage (retry). */
export function isFatalAtStart(err: unknown): boolean {
  return (
    isOxideError(err) && (err.kind === 'auth' || err.kind === 'not_found' || err.kind === 'invalid')
  );
}

/** Why the check failed, grouped so that a repeat of the same failure is not a new state. */
function stateOf(err: unknown): string {
  if (!isOxideError(err)) return 'error';
  return `${err.kind}:${err.status}`;
}

/** A project check failed: the error, and which configured project it was about. */
export class ProjectCheckError extends Error {
  override readonly name = 'ProjectCheckError';
  readonly project: string;
  override readonly cause: OxideError | Error;

  constructor(project: string, cause: OxideError | Error) {
    super(`project ${project}: ${cause.message}`);
    this.project = project;
    this.cause = cause;
  }
}

/** The error that decides what the start does: a project check's own Oxide error. */
const decisive = (err: unknown): unknown => (err instanceof ProjectCheckError ? err.cause : err);

/** Two configured entries (a name and an id) that are one project. */
class SameProjectError extends Error {
  override readonly name = 'SameProjectError';
}

export class OxideStartup {
  /** Undefined once the API answered; else why not yet, for /readyz. */
  notReady: string | undefined = 'Oxide API not checked yet';
  private readonly client: OxideClient;
  private readonly projects: readonly string[];
  private readonly log: Logger;
  private readonly backoff: StartupBackoff;
  private readonly describe: (err: unknown) => string;

  /**
   * `describe` turns a failure into the operator's line; a project's failure arrives as a
   * ProjectCheckError naming it. `projects`: every configured project (default: the client's).
   */
  constructor(
    client: OxideClient,
    log: Logger,
    describe: (err: unknown) => string,
    backoff: StartupBackoff = DEFAULT_STARTUP_BACKOFF,
    projects: readonly string[] = [client.project],
  ) {
    this.client = client;
    this.log = log;
    this.describe = describe;
    this.backoff = backoff;
    this.projects = projects;
  }

  /** The token, then every project (one project_view each); throws what failed. */
  private async check(signal: AbortSignal): Promise<void> {
    await viewCurrentUser(this.client, signal);
    const ids = new Map<string, string>();
    for (const project of this.projects) {
      let id: string;
      try {
        id = (await viewProject(this.client.forProject(project), signal)).id;
      } catch (err) {
        if (signal.aborted || !(err instanceof Error)) throw err;
        throw new ProjectCheckError(project, err);
      }
      const same = ids.get(id);
      if (same !== undefined) {
        throw new SameProjectError(
          `Oxide projects ${JSON.stringify(same)} and ${JSON.stringify(project)} are the same ` +
            `project (${id}); list each project once`,
        );
      }
      ids.set(id, project);
    }
  }

  /**
   * Resolves 'ready' once the token and the project check out, 'fatal' (already logged) when
   * the API answered that they never will, 'aborted' when the signal ends the wait.
   */
  async wait(signal: AbortSignal): Promise<'ready' | 'fatal' | 'aborted'> {
    let delay = this.backoff.initialMs;
    let state: string | undefined;
    let failures = 0;
    for (;;) {
      try {
        await this.check(signal);
        this.notReady = undefined;
        if (failures > 0)
          this.log.info({ failedChecks: failures }, 'Oxide API available again; starting');
        return 'ready';
      } catch (err) {
        if (signal.aborted) return 'aborted';
        const reason = err instanceof SameProjectError ? err.message : this.describe(err);
        if (err instanceof SameProjectError || isFatalAtStart(decisive(err))) {
          this.notReady = reason;
          this.log.error(reason);
          return 'fatal';
        }
        failures++;
        this.notReady = `Oxide API not available (retrying): ${reason}`;
        const now = stateOf(decisive(err));
        if (now !== state) {
          state = now;
          this.log.warn(
            { retryWithinMs: delay, maxBackoffMs: this.backoff.maxMs },
            `${reason}; running without controllers and retrying with backoff until it answers`,
          );
        } else this.log.debug({ failures, retryInMs: delay }, 'Oxide API still not available');
      }
      // Full jitter, so replicas (and CCMs of other clusters) do not retry in step.
      await sleep(Math.max(100, Math.floor(Math.random() * delay)), signal);
      if (signal.aborted) return 'aborted';
      delay = Math.min(this.backoff.maxMs, delay * 2);
    }
  }
}
