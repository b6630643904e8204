// The connection pool of the Oxide client: the system's CAs, or a custom CA bundle for racks whose
// API certificate is signed by a private CA; either way a refused certificate is named in the
// error (tls-connector.ts). The SDK calls Node's built-in fetch, which bundles an older undici
// than our dependency: Dispatcher1Wrapper adapts the new Agent to the handler contract the
// built-in fetch still uses.
import { readFileSync } from 'node:fs';
import { Agent, Dispatcher1Wrapper } from 'undici';
import { describingConnector } from '../net/tls-connector.ts';

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

/** Without a CA the system trust store applies. */
export function tlsDispatcher(options: CaOptions): TlsDispatcher {
  const pem =
    options.ca ?? (options.caCertPath ? readFileSync(options.caCertPath, 'utf8') : undefined);
  if (pem !== undefined && !pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error('Oxide CA bundle contains no PEM certificate');
  }
  const agent = new Agent({ connect: describingConnector(pem === undefined ? {} : { ca: pem }) });
  return { dispatcher: new Dispatcher1Wrapper(agent), close: () => agent.close() };
}
