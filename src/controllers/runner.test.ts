import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventMessage } from './runner.ts';

test('event messages drop per-request ids so retries of one failure fold into one event', () => {
  const a = new Error(
    'oxide instance_view: Service Unavailable (HTTP 503, ServiceUnavailable, request id 5d7c-11aa)',
  );
  const b = new Error(
    'oxide instance_view: Service Unavailable (HTTP 503, ServiceUnavailable, request id 99ff-0001)',
  );
  assert.equal(eventMessage(a), eventMessage(b));
  assert.equal(
    eventMessage(a),
    'oxide instance_view: Service Unavailable (HTTP 503, ServiceUnavailable)',
  );
  assert.equal(eventMessage(new Error('x (request id abc)')), 'x');
  assert.equal(eventMessage('plain'), 'plain');
});
