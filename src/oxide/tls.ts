// A custom CA bundle for racks whose API certificate is signed by a private CA. The SDK calls
// Node's built-in fetch, which bundles an older undici than our dependency: Dispatcher1Wrapper
// adapts the new Agent to the handler contract the built-in fetch still uses.
import { readFileSync } from 'node:fs';
import { Agent, Dispatcher1Wrapper } from 'undici';

export interface CaOptions {
  /** PEM text of one or more CA certificates. */
  ca?: string | undefined;
  /** Path to a PEM bundle; read once at construction. */
  caCertPath?: string | undefined;
}

export interface TlsDispatcher {
  /** Goes into the SDK's baseParams as `dispatcher`. */
  dispatcher: object;
  close(): Promise<void>;
}

/** Undefined when no CA was given: the system trust store applies. */
export function caDispatcher(options: CaOptions): TlsDispatcher | undefined {
  const pem =
    options.ca ?? (options.caCertPath ? readFileSync(options.caCertPath, 'utf8') : undefined);
  if (pem === undefined) return undefined;
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error('Oxide CA bundle contains no PEM certificate');
  }
  const agent = new Agent({ connect: { ca: pem } });
  return { dispatcher: new Dispatcher1Wrapper(agent), close: () => agent.close() };
}
