import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  ALL_ANNOTATIONS,
  readFirewall,
  readFloatingIp,
  readFloatingIpName,
  readFloatingIpPool,
  readFloatingIpVersion,
  renderAnnotationDocs,
  unknownAnnotations,
} from './annotations.ts';

const DOCS = new URL('../../../../docs/annotations.md', import.meta.url);

test('docs/annotations.md is generated from the declarations', () => {
  const rendered = renderAnnotationDocs();
  if (process.env.UPDATE_DOCS === '1') writeFileSync(DOCS, rendered);
  assert.equal(readFileSync(DOCS, 'utf8'), rendered, 'run with UPDATE_DOCS=1 to regenerate');
  for (const decl of ALL_ANNOTATIONS) assert.ok(rendered.includes(`\`${decl.name}\``));
});

test('readers: unset and empty are undefined, valid values typed, invalid ones name the annotation', () => {
  assert.deepEqual(readFloatingIp(undefined), { value: undefined });
  assert.deepEqual(readFloatingIp({ 'oxide.computer/floating-ip': '' }), { value: undefined });
  assert.deepEqual(readFloatingIp({ 'oxide.computer/floating-ip': ' 2001:db8::1 ' }), {
    value: '2001:db8::1',
  });
  assert.deepEqual(readFloatingIpVersion({ 'oxide.computer/floating-ip-version': 'v6' }), {
    value: 'v6',
  });
  assert.deepEqual(
    readFloatingIpPool({
      'oxide.computer/floating-ip-pool': '4a1bd2a4-0f4c-4c1e-9f56-1b0e1e7a1c11',
    }),
    { value: '4a1bd2a4-0f4c-4c1e-9f56-1b0e1e7a1c11' },
  );
  assert.deepEqual(readFirewall({ 'oxide.computer/firewall': 'false' }), { value: false });
  const cases = [
    [readFloatingIp, 'oxide.computer/floating-ip', '10.0.0.256'],
    [readFloatingIpVersion, 'oxide.computer/floating-ip-version', 'V4'],
    [readFloatingIpPool, 'oxide.computer/floating-ip-pool', '9pool'],
    [readFloatingIpName, 'oxide.computer/floating-ip-name', 'ends-with-'],
    [readFirewall, 'oxide.computer/firewall', 'TRUE'],
  ] as const;
  for (const [read, name, value] of cases) {
    const result = read({ [name]: value });
    assert.ok('error' in result, `${name}=${value}`);
    assert.ok(result.error.includes(name), result.error);
  }
});

test('floating-ip: a zone id is refused; every spelling of an address reads as its canonical text', () => {
  const read = (value: string) => readFloatingIp({ 'oxide.computer/floating-ip': value });
  const zoned = read('fe80::1%eth0');
  assert.ok('error' in zoned && /without a zone id/.test(zoned.error), JSON.stringify(zoned));
  assert.deepEqual(read('::ffff:192.0.2.10'), { value: '192.0.2.10' });
  assert.deepEqual(read('::FFFF:C000:020A'), { value: '192.0.2.10' });
  assert.deepEqual(read('2001:DB8:0:0::0001'), { value: '2001:db8::1' });
});

test('an invalid value is echoed cut, with its length, however long it is', () => {
  const huge = 'x'.repeat(100_000);
  for (const name of [
    'oxide.computer/floating-ip',
    'oxide.computer/floating-ip-pool',
    'oxide.computer/floating-ip-version',
    'oxide.computer/floating-ip-name',
    'oxide.computer/firewall',
  ]) {
    const decl = ALL_ANNOTATIONS.find((d) => d.name === name);
    assert.ok(decl);
    const result = [
      readFloatingIp,
      readFloatingIpPool,
      readFloatingIpVersion,
      readFloatingIpName,
      readFirewall,
    ]
      .map((read) => read({ [name]: huge }))
      .find((r) => 'error' in r);
    assert.ok(result && 'error' in result, name);
    assert.ok(result.error.length < 400, `${name}: ${result.error.length} characters`);
    assert.ok(result.error.includes('(100000 characters)'), result.error.slice(-80));
  }
});

test('unknown oxide.computer/ keys are reported (typos), others are not', () => {
  assert.deepEqual(unknownAnnotations(undefined), []);
  assert.deepEqual(
    unknownAnnotations({
      'oxide.computer/floating-ipp': '10.0.0.1',
      'oxide.computer/firewall': 'true',
      'oxide.computer/Floating-IP': 'x',
      'service.beta.kubernetes.io/load-balancer-source-ranges': '10.0.0.0/8',
      'example.com/oxide.computer/x': 'y',
    }),
    ['oxide.computer/Floating-IP', 'oxide.computer/floating-ipp'],
  );
});
