import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIp, cidrContains, firstFree, fromBigInt, parseCidr, toBigInt } from './ip.ts';

test('IPv6 addresses round-trip in RFC 5952 form', () => {
  assert.equal(canonicalIp('2001:0db8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
  assert.equal(canonicalIp('fd00:0:0:1:0:0:0:0'), 'fd00:0:0:1::');
  assert.equal(canonicalIp('::'), '::');
  assert.equal(canonicalIp('1:0:0:2:0:0:0:3'), '1:0:0:2::3');
  assert.equal(canonicalIp('::ffff:10.0.0.1'), '::ffff:a00:1');
  assert.equal(fromBigInt(toBigInt('172.30.0.5') + 1n, 'v4'), '172.30.0.6');
});

test('CIDR parsing masks host bits and checks membership by family', () => {
  const c = parseCidr('172.30.1.7/22');
  assert.ok(c);
  assert.equal(fromBigInt(c.base, 'v4'), '172.30.0.0');
  assert.ok(cidrContains(c, '172.30.3.255'));
  assert.ok(!cidrContains(c, '172.30.4.0'));
  assert.ok(!cidrContains(c, '::1'));
  assert.equal(parseCidr('172.30.0.0/33'), undefined);
  assert.equal(parseCidr('nope/8'), undefined);
});

test('firstFree skips used addresses and reports exhaustion', () => {
  const used = new Set(['10.0.0.1', '10.0.0.2']);
  assert.equal(firstFree(toBigInt('10.0.0.1'), toBigInt('10.0.0.3'), 'v4', used), '10.0.0.3');
  assert.equal(firstFree(toBigInt('10.0.0.1'), toBigInt('10.0.0.2'), 'v4', used), undefined);
});
