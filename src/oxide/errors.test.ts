// Classification of real Response objects as the SDK hands them over (no network needed).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  errorFromResult,
  errorFromThrown,
  isNotFound,
  isRetryable,
  parseRetryAfter,
} from './errors.ts';

function errorResult(status: number, errorCode: string | null, message: string, headers = {}) {
  return {
    type: 'error' as const,
    response: new Response(null, { status, headers }),
    data: { errorCode, message, requestId: 'req-1' },
  };
}

describe('errorFromResult', () => {
  const cases: [number, string | null, string][] = [
    [404, 'ObjectNotFound', 'not_found'],
    [404, null, 'other'],
    [400, 'ObjectAlreadyExists', 'already_exists'],
    [400, 'InvalidRequest', 'invalid'],
    [401, 'Unauthorized', 'auth'],
    [403, 'Forbidden', 'auth'],
    [409, 'Conflict', 'conflict'],
    [429, null, 'retryable'],
    [500, 'Internal', 'retryable'],
    [502, null, 'retryable'],
    [503, 'ServiceNotAvailable', 'retryable'],
    [504, null, 'retryable'],
    [507, 'InsufficientCapacity', 'other'],
  ];
  for (const [status, code, kind] of cases) {
    it(`${status} ${code ?? '(no code)'} is ${kind}`, () => {
      const err = errorFromResult('instance_view', errorResult(status, code, 'boom'));
      assert.equal(err.kind, kind);
      assert.equal(err.status, status);
      assert.equal(err.operation, 'instance_view');
      assert.equal(err.requestId, 'req-1');
      assert.match(err.message, /^oxide instance_view: boom \(HTTP \d+.*request id req-1\)$/);
    });
  }

  it('only 404 ObjectNotFound counts as not found; ObjectAlreadyExists is never retried', () => {
    assert.equal(
      isNotFound(errorFromResult('x', errorResult(404, 'ObjectNotFound', 'gone'))),
      true,
    );
    assert.equal(isNotFound(errorFromResult('x', errorResult(404, null, 'Not Found'))), false);
    assert.equal(
      isRetryable(errorFromResult('x', errorResult(400, 'ObjectAlreadyExists', 'dup'))),
      false,
    );
  });

  it('names the required Oxide release on an api-version rejection', () => {
    const err = errorFromResult(
      'instance_list',
      errorResult(400, null, 'server does not support this API version: 2026073100.0.0'),
    );
    assert.equal(err.kind, 'invalid');
    assert.match(err.message, /needs Oxide release 20 or newer/);
    assert.match(err.message, /2026073100\.0\.0/);
  });

  it('keeps Retry-After and scrubs the token from server text', () => {
    const err = errorFromResult(
      'instance_list',
      errorResult(429, null, 'slow down, oxide-token-s3cret', { 'retry-after': '2' }),
      'oxide-token-s3cret',
    );
    assert.equal(err.retryAfterMs, 2000);
    assert.doesNotMatch(err.message, /s3cret/);
  });

  it('a non-JSON 404 (proxy page) is not a not-found', () => {
    const err = errorFromResult('instance_view', {
      type: 'client_error',
      response: new Response(null, { status: 404 }),
      error: new Error('Unexpected token <'),
      text: '<html>',
    });
    assert.equal(err.kind, 'other');
  });
});

describe('errorFromThrown', () => {
  it('timeouts and network failures are unavailable with status 0', () => {
    const t = errorFromThrown(
      'instance_view',
      new DOMException('aborted', 'TimeoutError'),
      true,
      10,
    );
    assert.equal(t.kind, 'unavailable');
    assert.equal(t.status, 0);
    assert.match(t.message, /no response within 10 ms/);
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const n = errorFromThrown('instance_view', new TypeError('fetch failed', { cause }), false, 10);
    assert.equal(n.kind, 'unavailable');
    assert.match(n.message, /ECONNREFUSED/);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6000);
    assert.equal(parseRetryAfter(null), undefined);
    assert.equal(parseRetryAfter('soon'), undefined);
  });
});
