import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeError } from './errors.ts';

const withCode = (message: string, code: string): Error =>
  Object.assign(new Error(message), { code });

test('an error and its causes in one line, codes added where the message lacks them', () => {
  const refused = new TypeError('fetch failed', {
    cause: withCode('connect ECONNREFUSED 127.0.0.1:6443', 'ECONNREFUSED'),
  });
  assert.equal(describeError(refused), 'fetch failed: connect ECONNREFUSED 127.0.0.1:6443');
  const dns = new TypeError('fetch failed', {
    cause: withCode('getaddrinfo ENOTFOUND api.example', 'ENOTFOUND'),
  });
  assert.equal(describeError(dns), 'fetch failed: getaddrinfo ENOTFOUND api.example');
  const tls = new TypeError('fetch failed', {
    cause: withCode('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'),
  });
  assert.equal(
    describeError(tls),
    'fetch failed: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)',
  );
  // Node tries every address of a name: one error per address, each said once.
  const both = Object.assign(
    new AggregateError(
      [
        withCode('connect ECONNREFUSED ::1:6443', 'ECONNREFUSED'),
        withCode('connect ECONNREFUSED 127.0.0.1:6443', 'ECONNREFUSED'),
      ],
      '',
    ),
    { code: 'ECONNREFUSED' },
  );
  assert.equal(
    describeError(new TypeError('fetch failed', { cause: both })),
    'fetch failed: connect ECONNREFUSED ::1:6443; connect ECONNREFUSED 127.0.0.1:6443',
  );
  assert.equal(describeError('plain'), 'plain');
  // A cycle ends at the depth bound.
  const a = new Error('a');
  const b = new Error('b', { cause: a });
  Object.assign(a, { cause: b });
  assert.equal(describeError(a).split(': ').length, 8);
});
