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
