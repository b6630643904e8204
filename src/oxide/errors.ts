// The one place that turns @oxide/api results (and thrown fetch failures) into typed errors, so
// that every caller asks `err.kind === 'not_found'` instead of poking at status codes. Messages
// carry the operation, the server's message and its request id: never headers, never the token.
import type { ApiResult } from '@oxide/api';
import { requiredRelease } from './api-version.ts';
import { describeError } from '../util/errors.ts';

export type OxideErrorKind =
  /** 404 with error_code ObjectNotFound: the only answer that proves a resource is absent. */
  | 'not_found'
  /** 400 ObjectAlreadyExists (Oxide answers 400, not 409). */
  | 'already_exists'
  /** Any other 400: the request is wrong and retrying it unchanged will not help. */
  | 'invalid'
  /** 409 Conflict. */
  | 'conflict'
  /** 401 / 403: bad or expired token, or missing permission on the project. */
  | 'auth'
  /** The server answered with a transient failure: 429, 500, 502, 503, 504. */
  | 'retryable'
  /** No answer at all: connection failure or per-request timeout. */
  | 'unavailable'
  | 'other';

export interface OxideErrorDetails {
  kind: OxideErrorKind;
  operation: string;
  /** HTTP status; 0 when no response arrived. */
  status: number;
  errorCode?: string | undefined;
  requestId?: string | undefined;
  /** From a 429/503 Retry-After header, in milliseconds. */
  retryAfterMs?: number | undefined;
}

export class OxideError extends Error {
  override readonly name = 'OxideError';
  readonly kind: OxideErrorKind;
  readonly operation: string;
  readonly status: number;
  readonly errorCode: string | undefined;
  readonly requestId: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: OxideErrorDetails) {
    super(message);
    this.kind = details.kind;
    this.operation = details.operation;
    this.status = details.status;
    this.errorCode = details.errorCode;
    this.requestId = details.requestId;
    this.retryAfterMs = details.retryAfterMs;
  }
}

export function isOxideError(err: unknown, kind?: OxideErrorKind): err is OxideError {
  return err instanceof OxideError && (kind === undefined || err.kind === kind);
}

/** Definitive absence only: 404 carrying ObjectNotFound (a bare 404 may be a wrong URL). */
export function isNotFound(err: unknown): boolean {
  return isOxideError(err, 'not_found');
}

/** Whether a retry of the same request may succeed. */
export function isRetryable(err: unknown): boolean {
  return isOxideError(err) && (err.kind === 'retryable' || err.kind === 'unavailable');
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

function kindForStatus(status: number, errorCode: string | undefined): OxideErrorKind {
  if (status === 404) return errorCode === 'ObjectNotFound' ? 'not_found' : 'other';
  if (status === 400) return errorCode === 'ObjectAlreadyExists' ? 'already_exists' : 'invalid';
  if (status === 401 || status === 403) return 'auth';
  if (status === 409) return 'conflict';
  if (RETRYABLE_STATUS.has(status)) return 'retryable';
  return 'other';
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Removes a secret from text that came from outside (server messages, socket errors). */
function scrub(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join('[REDACTED]') : text;
}

function describe(operation: string, message: string, status: number, code?: string, id?: string) {
  const parts = [`HTTP ${status}`];
  if (code) parts.push(code);
  if (id) parts.push(`request id ${id}`);
  return `oxide ${operation}: ${message} (${parts.join(', ')})`;
}

/** Turns a non-success result of an SDK call into an OxideError. */
export function errorFromResult(
  operation: string,
  result: Exclude<ApiResult<unknown>, { type: 'success' }>,
  secret?: string,
): OxideError {
  const status = result.response.status;
  const retryAfterMs = parseRetryAfter(result.response.headers.get('retry-after'));
  if (result.type === 'client_error') {
    // Not an Oxide error body (a proxy's HTML page, a truncated response): only the status
    // speaks, and a 404 without ObjectNotFound never proves absence.
    const kind = result.response.ok ? 'other' : kindForStatus(status, undefined);
    const reason = result.response.ok ? 'unparseable response body' : 'non-Oxide error response';
    return new OxideError(describe(operation, reason, status), {
      kind,
      operation,
      status,
      retryAfterMs,
    });
  }
  const errorCode = result.data.errorCode ?? undefined;
  const requestId = result.data.requestId || undefined;
  const serverMessage = scrub(String(result.data.message ?? ''), secret);
  let kind = kindForStatus(status, errorCode);
  let message = serverMessage;
  if (status === 400 && /api[- ]version/i.test(serverMessage)) {
    kind = 'invalid';
    message = `${serverMessage}; ${requiredRelease()}`;
  }
  return new OxideError(describe(operation, message, status, errorCode, requestId), {
    kind,
    operation,
    status,
    errorCode,
    requestId,
    retryAfterMs,
  });
}

/** Turns a thrown failure (network error, abort/timeout) into an OxideError with status 0. */
export function errorFromThrown(
  operation: string,
  err: unknown,
  timedOut: boolean,
  timeoutMs: number,
  secret?: string,
): OxideError {
  if (err instanceof OxideError) return err;
  let reason: string;
  if (timedOut) {
    reason = `no response within ${timeoutMs} ms`;
  } else {
    // fetch's "fetch failed" alone says nothing: the causes say ECONNREFUSED, ENOTFOUND, or
    // which certificate was not trusted.
    reason = `request failed: ${describeError(err)}`;
  }
  return new OxideError(`oxide ${operation}: ${scrub(reason, secret)}`, {
    kind: 'unavailable',
    operation,
    status: 0,
  });
}
