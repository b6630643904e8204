import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIp } from './ip.ts';

test('every spelling of one address is one canonical text', () => {
  const same: [string, string][] = [
    ['2001:db8::1', '2001:db8::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0::1', '2001:db8::1'],
    ['2001:db8::0:1', '2001:db8::1'],
    ['::', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'], // the longer run is compressed
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group stays
    ['fd00::a:b', 'fd00::a:b'],
    ['192.0.2.10', '192.0.2.10'],
  ];
  for (const [text, canonical] of same) assert.equal(parseIp(text)?.address, canonical, text);
});

test('IPv4-mapped IPv6 is the IPv4 address, in every spelling', () => {
  for (const text of [
    '::ffff:192.0.2.10',
    '::FFFF:192.0.2.10',
    '::ffff:c000:20a',
    '0:0:0:0:0:ffff:c000:020a',
    '0000:0000:0000:0000:0000:FFFF:192.0.2.10',
  ]) {
    assert.deepEqual(parseIp(text), { address: '192.0.2.10', family: 4 }, text);
  }
  // Not mapped: IPv4-compatible (deprecated) and the translation prefix stay IPv6.
  assert.deepEqual(parseIp('::192.0.2.10'), { address: '::c000:20a', family: 6 });
  assert.deepEqual(parseIp('64:ff9b::192.0.2.10'), { address: '64:ff9b::c000:20a', family: 6 });
});

test('zone ids and non-addresses are refused', () => {
  for (const text of [
    'fe80::1%eth0',
    'fe80::1%25eth0',
    '192.0.2.1%1',
    '010.0.0.1',
    '1.2.3.4 ',
    '2001:db8::1/64',
    '[2001:db8::1]',
    'example.com',
    '',
  ]) {
    assert.equal(parseIp(text), undefined, text);
  }
});
