// The simulator's HTTP front: routing, api-version negotiation, bearer auth, faults, latency,
// request log, and the snake_case wire format. State and rules live in db.ts and handlers/.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimDb } from './db.ts';
import { ApiError, badInput, errorCodeForStatus, unauthorized } from './errors.ts';
import { Faults } from './faults.ts';
import { RequestLog, UNMATCHED } from './requests.ts';
import { matchRoute } from './routes.ts';
import type { Seed } from './seed.ts';
import { fromWire, toWire } from './wire.ts';

export type { Seed } from './seed.ts';
export type { InstanceSeed } from './db/instances.ts';
export type { FaultSpec } from './faults.ts';
export { SimDb } from './db.ts';
export { Faults } from './faults.ts';
export { RequestLog } from './requests.ts';

/** The API version of the spec the simulator implements (the one @oxide/api 0.9.0 sends). */
export const SIM_API_VERSION = '2026073100.0.0';

export interface SimulatorOptions {
  seed?: Seed;
  token?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Added to every request. */
  latencyMs?: number;
  /**
   * The newest API version this rack speaks (default SIM_API_VERSION): set an older one to act
   * as a rack on an older Oxide release, which answers 400 to the SDK's newer version.
   */
  apiVersion?: string;
}

export interface Simulator {
  /** Base URL, e.g. http://127.0.0.1:40123 (use as OXIDE_HOST). */
  url: string;
  token: string;
  /** Name of the seeded project. */
  project: string;
  db: SimDb;
  faults: Faults;
  requests: RequestLog;
  /**
   * Another valid token, whose requests the log labels `principal` (tell apart two CCM
   * processes, or rotate credentials).
   */
  addToken(principal: string, token?: string): string;
  /** From now on the token is answered 401 (a revoked or rotated credential). */
  revokeToken(token: string): void;
  /**
   * The principal of the request whose handler is running now, for hooks a test puts on `db`
   * (which cluster's CCM rewrote a VPC's firewall rules); undefined outside a handler.
   */
  handling(): string | undefined;
  /** Closes the server and every socket, including requests held by `timeout` faults. */
  stop(): Promise<void>;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function checkVersion(header: string | string[] | undefined, newest: string): void {
  if (header === undefined) return;
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || !/^\d+\.\d+\.\d+$/.test(v)) {
    throw badInput(
      `bad value for header "api-version": expected a semver version, got "${String(v)}"`,
    );
  }
  if (compareVersions(v, newest) > 0) {
    throw badInput(
      `server does not support this API version: ${v} (the newest supported is ${newest})`,
    );
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return fromWire(JSON.parse(text));
  } catch (e) {
    throw badInput(`unable to parse JSON body: ${(e as Error).message}`);
  }
}

function send(
  res: ServerResponse,
  requestId: string,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed || res.headersSent) return;
  const text = body === undefined ? '' : JSON.stringify(toWire(body));
  res.writeHead(status, {
    ...headers,
    'x-request-id': requestId,
    ...(text
      ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }
      : {}),
  });
  res.end(text);
}

function sendError(res: ServerResponse, requestId: string, err: ApiError): void {
  send(
    res,
    requestId,
    err.status,
    {
      requestId,
      ...(err.errorCode === undefined ? {} : { errorCode: err.errorCode }),
      message: err.message,
    },
    err.headers,
  );
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const db = new SimDb(opts.seed);
  const faults = new Faults();
  const requests = new RequestLog();
  const token = opts.token ?? `oxide-token-${randomBytes(20).toString('hex')}`;
  const closing = new AbortController();
  const principals = new Map<string, string>([[token, 'default']]);
  // Handlers run synchronously: set around each one, read by test hooks on db.
  let handling: string | undefined;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const { signal } = closing;
      if (signal.aborted) return reject(signal.reason as Error);
      const onAbort = (): void => {
        clearTimeout(t);
        reject(signal.reason as Error);
      };
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });

  const apiVersion = opts.apiVersion ?? SIM_API_VERSION;

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const match = matchRoute(method, url.pathname);
    const operationId = match.kind === 'route' ? match.route.operationId : undefined;
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const principal = bearer === undefined ? undefined : principals.get(bearer);
    const entry = {
      operationId: operationId ?? UNMATCHED,
      method,
      path: url.pathname,
      query: url.search,
      principal,
      at: Date.now(),
    };
    requests.record(entry);
    const text = await readBody(req);
    if (opts.latencyMs) await sleep(opts.latencyMs);

    const fault = faults.take(operationId, method, url.pathname, url.search, principal);
    if (fault?.latencyMs) await sleep(fault.latencyMs);
    if (fault?.drop) {
      req.socket.destroy();
      return;
    }
    if (fault?.timeout) return; // held open until the client gives up or stop() closes it
    if (fault?.status !== undefined) {
      const headers: Record<string, string> =
        fault.retryAfterSeconds === undefined
          ? {}
          : { 'retry-after': String(fault.retryAfterSeconds) };
      const message = fault.status === 429 ? 'Too Many Requests' : 'injected fault';
      const code = fault.status === 429 ? 'TooManyRequests' : errorCodeForStatus(fault.status);
      throw new ApiError(fault.status, code, message, headers);
    }

    if (match.kind === 'not-found') throw new ApiError(404, undefined, 'Not Found');
    if (match.kind === 'method-not-allowed')
      throw new ApiError(405, undefined, 'Method Not Allowed');
    checkVersion(req.headers['api-version'], apiVersion);
    if (match.route.auth && principal === undefined) throw unauthorized();
    handling = principal;
    let reply;
    try {
      reply = match.route.handle({
        db,
        params: match.params,
        query: url.searchParams,
        body: parseBody(text),
      });
    } finally {
      handling = undefined;
    }
    // What a create made, so a test can tell whose an object is from the log alone.
    const created =
      reply.status === 201 ? (reply.body as { id?: unknown } | undefined)?.id : undefined;
    if (typeof created === 'string') requests.annotate(entry, { created });
    send(res, requestId, reply.status, reply.body);
  }

  const server = createServer((req, res) => {
    const requestId = randomUUID();
    handle(req, res, requestId).catch((err: unknown) => {
      if (closing.signal.aborted) return;
      if (err instanceof ApiError) return sendError(res, requestId, err);
      console.error('oxide simulator: handler failed:', err);
      sendError(res, requestId, new ApiError(500, 'Internal', 'Internal Server Error'));
    });
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    token,
    project: db.defaultProject,
    db,
    faults,
    requests,
    addToken(label, given) {
      const added = given ?? `oxide-token-${randomBytes(20).toString('hex')}`;
      principals.set(added, label);
      return added;
    },
    revokeToken(revoked) {
      principals.delete(revoked);
    },
    handling: () => handling,
    stop: () =>
      new Promise<void>((resolve) => {
        closing.abort(new Error('simulator stopped'));
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
