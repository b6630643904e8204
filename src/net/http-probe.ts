// One HTTP health check, as a cloud load balancer sends it: GET http://<ip>:<port><path>, passing
// on 200 within the timeout. Checks run every 2 s on every load-balancer target, so each must
// cost little: one kept-alive connection per endpoint (kube-proxy's /healthz and its
// healthCheckNodePort servers are Go servers that keep connections open), a request that is a
// constant buffer, and of the answer only the status line and how long the body is (its
// Content-Length, or a chunked body skipped to its last chunk). That is about 3x cheaper in CPU
// than node:http's client with a keep-alive agent (21 against 65 µs per check on the development
// machine; bench/failover-cost.bench.ts has the process-level numbers). A dead or restarted
// server is found by the closed socket, and the next check reconnects. An answer whose length is
// not known still counts; its connection is then closed rather than reused. Knows nothing of
// Kubernetes or Oxide.
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface ProbeResult {
  /** An HTTP 200 within the timeout. */
  ok: boolean;
  /** Any HTTP answer at all (a 503 is an answer, a refused connection or a timeout is not). */
  answered: boolean;
}

export interface HttpProbeOptions {
  timeoutMs: number;
  path?: string;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const LAST_CHUNK = '0\r\n\r\n';
/** A health answer is small; anything bigger is not kube-proxy's and is not read further. */
const MAX_HEADER_BYTES = 8192;

interface Connection {
  socket: Socket;
  /** The check waiting for an answer on this connection, if any. */
  pending: ((result: ProbeResult, reusable: boolean) => void) | undefined;
  buffer: Buffer;
  /** Body bytes still to skip before the connection is free again. */
  skip: number;
  /** A chunked body is being skipped: up to its last chunk. */
  chunked: boolean;
  /** The last bytes seen of a chunked body, to find its end across reads. */
  tail: string;
}

export class HttpProber {
  private readonly timeoutMs: number;
  private readonly path: string;
  private readonly connections = new Map<string, Connection>();
  private readonly requests = new Map<string, Buffer>();

  constructor(options: HttpProbeOptions) {
    this.timeoutMs = options.timeoutMs;
    this.path = options.path ?? '/healthz';
  }

  /** One check; never rejects. Checks of one endpoint must not overlap (the caller's schedule). */
  probe(host: string, port: number): Promise<ProbeResult> {
    const key = `${host}:${port}`;
    return new Promise((resolve) => {
      let conn = this.connections.get(key);
      if (!conn || conn.socket.destroyed || conn.pending) {
        if (conn) this.drop(key, conn);
        conn = this.open(key, host, port);
      }
      const c = conn;
      const timer = setTimeout(() => {
        c.pending = undefined;
        this.drop(key, c);
        resolve({ ok: false, answered: false });
      }, this.timeoutMs);
      c.pending = (result, reusable) => {
        clearTimeout(timer);
        c.pending = undefined;
        if (!reusable) this.drop(key, c);
        resolve(result);
      };
      c.socket.write(this.request(key, host, port));
    });
  }

  /**
   * The endpoint is no longer checked: its connection is closed and its request dropped. Without
   * this both stayed for every endpoint ever checked (a churn of 3000 Services left ~64 KiB per
   * endpoint retained, bench/ccm-process.bench.ts).
   */
  forget(host: string, port: number): void {
    const key = `${host}:${port}`;
    this.requests.delete(key);
    const c = this.connections.get(key);
    if (!c) return;
    const pending = c.pending;
    this.drop(key, c);
    pending?.({ ok: false, answered: false }, false);
  }

  close(): void {
    for (const [key, c] of this.connections) this.drop(key, c);
    this.requests.clear();
  }

  private request(key: string, host: string, port: number): Buffer {
    let buf = this.requests.get(key);
    if (!buf) {
      const hostHeader = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      const text = `GET ${this.path} HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: oxide-cloud-controller-manager\r\nAccept: */*\r\n\r\n`;
      // A buffer of its own: a slice of the shared pool would keep the whole pool slab alive
      // for as long as the endpoint is checked.
      buf = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'latin1'));
      buf.write(text, 'latin1');
      this.requests.set(key, buf);
    }
    return buf;
  }

  private open(key: string, host: string, port: number): Connection {
    const socket = connect({ host, port, noDelay: true });
    const conn: Connection = {
      socket,
      pending: undefined,
      buffer: Buffer.alloc(0),
      skip: 0,
      chunked: false,
      tail: '',
    };
    this.connections.set(key, conn);
    socket.on('data', (chunk: Buffer) => this.onData(key, conn, chunk));
    const fail = (): void => {
      const pending = conn.pending;
      this.drop(key, conn);
      pending?.({ ok: false, answered: false }, false);
    };
    socket.on('error', fail);
    socket.on('close', fail);
    return conn;
  }

  private onData(key: string, conn: Connection, chunk: Buffer): void {
    if (conn.chunked) {
      // The last chunk (no trailers: health servers send none) ends the body.
      conn.tail = (conn.tail + chunk.toString('latin1')).slice(-LAST_CHUNK.length);
      if (conn.tail === LAST_CHUNK) {
        conn.chunked = false;
        conn.tail = '';
      }
      return;
    }
    if (conn.skip > 0) {
      const n = Math.min(conn.skip, chunk.length);
      conn.skip -= n;
      chunk = chunk.subarray(n);
      if (chunk.length === 0) return;
    }
    conn.buffer = conn.buffer.length === 0 ? chunk : Buffer.concat([conn.buffer, chunk]);
    const end = conn.buffer.indexOf(HEADER_END);
    if (end < 0) {
      if (conn.buffer.length > MAX_HEADER_BYTES)
        this.answer(key, conn, { ok: false, answered: true }, false);
      return;
    }
    const head = conn.buffer.subarray(0, end).toString('latin1');
    const rest = conn.buffer.length - (end + HEADER_END.length);
    conn.buffer = Buffer.alloc(0);
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
    if (!status) {
      this.answer(key, conn, { ok: false, answered: false }, false);
      return;
    }
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
    const chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
    const reusable =
      !/\r\nconnection:\s*close/i.test(head) &&
      ((length !== undefined && rest <= Number(length)) || chunked);
    if (reusable && length !== undefined) conn.skip = Number(length) - rest;
    else if (reusable) {
      conn.chunked = true;
      conn.tail = '';
      const body = chunk.subarray(chunk.length - rest);
      if (rest > 0) this.onData(key, conn, body);
    }
    this.answer(key, conn, { ok: status === '200', answered: true }, reusable);
  }

  private answer(key: string, conn: Connection, result: ProbeResult, reusable: boolean): void {
    const pending = conn.pending;
    if (pending) pending(result, reusable);
    else this.drop(key, conn);
  }

  private drop(key: string, conn: Connection): void {
    if (this.connections.get(key) === conn) this.connections.delete(key);
    conn.socket.removeAllListeners('close');
    conn.socket.destroy();
  }
}
