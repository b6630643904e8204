import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrContains, parseCidr, withinAny } from './cidr.ts';

test('parseCidr: both families, rejects garbage and oversized prefixes', () => {
  assert.deepEqual(parseCidr('10.244.1.0/24'), {
    address: '10.244.1.0',
    prefix: 24,
    family: 'ipv4',
  });
  assert.equal(parseCidr('fd00::/48')?.family, 'ipv6');
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('10.0.0.0'), undefined);
  assert.equal(parseCidr('nope/8'), undefined);
});

test('cidrContains: inside, outside, larger, other family', () => {
  assert.equal(cidrContains('10.244.0.0/16', '10.244.3.0/24'), true);
  assert.equal(cidrContains('10.244.0.0/16', '10.244.0.0/16'), true);
  assert.equal(cidrContains('10.244.0.0/16', '10.245.0.0/24'), false);
  assert.equal(cidrContains('10.244.1.0/24', '10.244.0.0/16'), false);
  assert.equal(cidrContains('fd00:10:244::/56', 'fd00:10:244:3::/64'), true);
  assert.equal(cidrContains('10.244.0.0/16', 'fd00:10:244:3::/64'), false);
  assert.equal(withinAny(['10.244.0.0/16', 'fd00:10:244::/56'], 'fd00:10:244:ff::/64'), true);
  assert.equal(withinAny(['10.244.0.0/16'], '192.168.0.0/24'), false);
});
