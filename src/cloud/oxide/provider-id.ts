// Node spec.providerID for Oxide instances: `oxide://<instance-uuid>`, the Go CCM's format, so a
// cluster switching from it keeps its Nodes. We also accept `oxide:///<uuid>` (the
// `<scheme>:///<id>` shape some providers use when the host part is empty) and uppercase hex, and
// always write the canonical lowercase `oxide://<uuid>`. Anything else is an error, never "not
// found": a Node we cannot parse must not be deleted.
const PREFIX = 'oxide://';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class InvalidProviderIDError extends Error {
  override readonly name = 'InvalidProviderIDError';
}

export function formatProviderID(instanceId: string): string {
  return `${PREFIX}${instanceId.toLowerCase()}`;
}

/** The instance UUID in a providerID; throws InvalidProviderIDError when it is not ours. */
export function parseProviderID(providerID: string): string {
  if (!providerID.startsWith(PREFIX)) {
    throw new InvalidProviderIDError(`providerID "${providerID}" does not start with ${PREFIX}`);
  }
  const id = providerID.slice(PREFIX.length).replace(/^\/+/, '');
  if (!UUID.test(id)) {
    throw new InvalidProviderIDError(`providerID "${providerID}" does not name an instance UUID`);
  }
  return id.toLowerCase();
}
