import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { hostname } from 'node:os';
import { selfSignedTls } from './tls.ts';

test('self-signed certificate: parses, signed by its own key, names the host and addresses, a year valid, no CA', async () => {
  const before = Date.now();
  const tls = await selfSignedTls('10.1.2.3');
  assert.equal(tls.selfSigned, true);
  const cert = new X509Certificate(tls.cert);
  assert.ok(cert.verify(cert.publicKey));
  assert.ok(cert.checkPrivateKey(createPrivateKey(tls.key)));
  assert.equal(cert.ca, false);
  assert.equal(cert.checkHost('localhost'), 'localhost');
  assert.equal(cert.checkHost(hostname()), hostname());
  for (const ip of ['127.0.0.1', '::1', '10.1.2.3']) assert.equal(cert.checkIP(ip), ip);
  assert.equal(cert.checkIP('0.0.0.0'), undefined);
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.ok(cert.validFromDate.getTime() <= before);
  const year = cert.validToDate.getTime() - before;
  assert.ok(year > 364 * 86400_000 && year < 366 * 86400_000, String(year));
  assert.match(cert.subject, new RegExp(`^CN=${hostname()}@\\d+$`));
  // A second certificate has its own serial.
  const other = new X509Certificate((await selfSignedTls('::')).cert);
  assert.notEqual(other.serialNumber, cert.serialNumber);
  assert.equal(other.checkIP('::'), undefined);
});
