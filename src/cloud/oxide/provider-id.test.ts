import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidProviderIDError, formatProviderID, parseProviderID } from './provider-id.ts';

const ID = '0b0e6f3c-7a9e-4a43-9a5f-1f2e3d4c5b6a';

describe('providerID', () => {
  it('round-trips oxide://<uuid>', () => {
    assert.equal(formatProviderID(ID), `oxide://${ID}`);
    assert.equal(parseProviderID(formatProviderID(ID)), ID);
  });
  it('tolerates oxide:///<uuid> and uppercase, returning the canonical id', () => {
    assert.equal(parseProviderID(`oxide:///${ID}`), ID);
    assert.equal(parseProviderID(`oxide://${ID.toUpperCase()}`), ID);
  });
  it('rejects other providers and non-UUIDs instead of treating them as not found', () => {
    for (const bad of [`aws:///${ID}`, 'oxide://worker-1', 'oxide://', '', `${ID}`]) {
      assert.throws(() => parseProviderID(bad), InvalidProviderIDError, bad);
    }
  });
});
