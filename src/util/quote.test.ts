import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cap, ECHO_LIMIT, quote } from './quote.ts';

test('quote: short values whole and JSON-quoted, long ones cut with their length', () => {
  assert.equal(quote('fe80::1%eth0'), '"fe80::1%eth0"');
  assert.equal(quote('a"b\n'), '"a\\"b\\n"');
  const long = 'x'.repeat(100_000);
  const q = quote(long);
  assert.equal(q, `"${'x'.repeat(ECHO_LIMIT)}"… (100000 characters)`);
  assert.ok(q.length < 200);
  assert.equal(quote('abcdef', 3), '"abc"… (6 characters)');
});

test('cap: never longer than the limit, and says how long the text was', () => {
  assert.equal(cap('short', 10), 'short');
  const capped = cap('y'.repeat(20_000_000), 1024);
  assert.equal(capped.length, 1024);
  assert.ok(capped.endsWith('… (cut from 20000000 characters)'));
  assert.ok(capped.startsWith('yyyy'));
});
