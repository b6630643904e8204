// OxideClient over real HTTP(S): the simulator behind a TLS-terminating proxy whose certificate
// is signed by a private CA, as on a rack with its own CA; plus per-operation metrics.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { generate } from 'selfsigned';
import { startSimulator } from '../../sim/server.ts';
import { oxideMetrics } from './metrics.ts';
import { createLogger, setProcessLogger } from '../log.ts';
import { OxideClient } from './client.ts';
import { OxideError } from './errors.ts';
import { viewCurrentUser, viewProject } from './projects.ts';

type Sim = Awaited<ReturnType<typeof startSimulator>>;

let sim: Sim;
let proxy: Server;
let httpsUrl: string;
let caPem: string;
let dir: string;

before(async () => {
  sim = await startSimulator({ seed: { project: 'k8s' }, latencyMs: 0 });
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  caPem = pems.cert;
  dir = mkdtempSync(join(tmpdir(), 'oxide-ca-'));
  const target = new URL(sim.url);
  proxy = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  httpsUrl = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

after(async () => {
  proxy.closeAllConnections();
  await new Promise((resolve) => proxy.close(resolve));
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('custom CA', () => {
  it('without the CA the certificate is refused (unavailable, no token in the message)', async () => {
    const client = new OxideClient({
      host: httpsUrl,
      token: sim.token,
      project: 'k8s',
      maxRetries: 0,
    });
    await assert.rejects(viewCurrentUser(client), (err: unknown) => {
      assert.ok(err instanceof OxideError);
      assert.equal(err.kind, 'unavailable');
      assert.ok(!err.message.includes(sim.token));
      // Which certificate was refused, not just "fetch failed".
      assert.match(
        err.message,
        /^oxide current_user_view: request failed: fetch failed: server certificate not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\): subject CN=127\.0\.0\.1; issuer CN=127\.0\.0\.1; names IP Address:127\.0\.0\.1; valid /,
      );
      return true;
    });
    await client.close();
  });

  it('no answer: the cause (ECONNREFUSED), not just "fetch failed"', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const client = new OxideClient({
      host: `http://127.0.0.1:${port}`,
      token: sim.token,
      project: 'k8s',
      maxRetries: 0,
    });
    let trace = '';
    const stream = new PassThrough();
    stream.on('data', (d: Buffer) => (trace += d.toString()));
    setProcessLogger(createLogger({ verbosity: 6, errorStream: stream }));
    try {
      await assert.rejects(viewCurrentUser(client), {
        message: `oxide current_user_view: request failed: fetch failed: connect ECONNREFUSED 127.0.0.1:${port}`,
      });
    } finally {
      setProcessLogger(undefined);
    }
    // The -v=6 trace line too.
    assert.match(
      trace,
      /oxide-client:0\] "request" .*status=0 .*err="fetch failed: connect ECONNREFUSED/,
    );
    await client.close();
  });

  it('with the CA as PEM text', async () => {
    const client = new OxideClient({ host: httpsUrl, token: sim.token, project: 'k8s', ca: caPem });
    try {
      assert.equal((await viewProject(client)).name, 'k8s');
    } finally {
      await client.close();
    }
  });

  it('with the CA from a file', async () => {
    const path = join(dir, 'ca.pem');
    writeFileSync(path, caPem);
    const client = new OxideClient({
      host: httpsUrl,
      token: sim.token,
      project: 'k8s',
      caCertPath: path,
    });
    try {
      await viewCurrentUser(client);
    } finally {
      await client.close();
    }
  });

  it('rejects a CA file without a certificate at construction', () => {
    const path = join(dir, 'empty.pem');
    writeFileSync(path, 'not a certificate');
    assert.throws(
      () => new OxideClient({ host: httpsUrl, token: sim.token, project: 'k8s', caCertPath: path }),
      /no PEM certificate/,
    );
  });
});

describe('metrics', () => {
  async function count(operation: string, status: string): Promise<number> {
    const metric = await oxideMetrics.requests.get();
    const value = metric?.values.find(
      (v) => v.labels['operation'] === operation && v.labels['status'] === status,
    );
    return value?.value ?? 0;
  }

  it('counts every attempt by operation and status, retries included', async () => {
    const client = new OxideClient({
      host: sim.url,
      token: sim.token,
      project: 'k8s',
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
    });
    const ok = await count('project_view', '200');
    const unavailable = await count('project_view', '503');
    sim.faults.add({ operation: 'project_view', status: 503, times: 1 });
    await viewProject(client);
    assert.equal(await count('project_view', '503'), unavailable + 1);
    assert.equal(await count('project_view', '200'), ok + 1);
  });
});

describe('leader fence', () => {
  it('aborts calls in flight (retry waits included) and sends nothing once leadership is lost', async () => {
    const controller = new AbortController();
    let leading = true;
    const fence = {
      signal: controller.signal,
      assertLeading: () => {
        if (!leading) throw new Error('leaderelection lost');
      },
    };
    const client = new OxideClient({ host: sim.url, token: sim.token, project: 'k8s', fence });
    sim.faults.add({ operation: 'project_view', timeout: true, times: 1 });
    const hung = viewProject(client);
    await new Promise((r) => setTimeout(r, 50));
    leading = false;
    controller.abort(new Error('leaderelection lost'));
    await assert.rejects(hung, /leaderelection lost/);
    const before = sim.requests.count('project_view');
    await assert.rejects(viewProject(client), /leaderelection lost/);
    assert.equal(sim.requests.count('project_view'), before, 'no request after the loss');
    sim.faults.clear();
    await client.close();
  });
});

describe('readiness', () => {
  it('unreachable only while failures (no answer, 5xx, token rejected) outlast 30 s', async () => {
    const client = new OxideClient({
      host: sim.url,
      token: sim.token,
      project: 'k8s',
      maxRetries: 0,
    });
    const later = (ms: number): number => performance.now() + ms;
    await viewProject(client);
    assert.equal(client.unreachable(later(60_000)), undefined, 'answered, then quiet');
    sim.faults.add({ operation: 'project_view', status: 503, times: 1 });
    await assert.rejects(viewProject(client));
    assert.equal(client.unreachable(), undefined, 'one failure is not an outage');
    assert.match(client.unreachable(later(31_000)) ?? '', /^no usable answer .*HTTP 503/);
    sim.faults.add({ operation: 'project_view', status: 429, times: 1 });
    await assert.rejects(viewProject(client));
    assert.equal(client.unreachable(later(31_000)), undefined, 'throttled is reachable');
    sim.faults.add({ operation: 'project_view', status: 401, times: 1 });
    await assert.rejects(viewProject(client));
    assert.match(client.unreachable(later(31_000)) ?? '', /HTTP 401/);
    assert.ok(!(client.unreachable(later(31_000)) ?? '').includes(sim.token));
    await viewProject(client);
    assert.equal(client.unreachable(later(60_000)), undefined);
    await client.close();
  });
});

describe('another project on the same transport', () => {
  it('forProject: its own project selector, one readiness and one connection pool for all', async () => {
    sim.db.addProject('second');
    const client = new OxideClient({
      host: sim.url,
      token: sim.token,
      project: 'k8s',
      maxRetries: 0,
    });
    const second = client.forProject('second');
    assert.equal(client.forProject('k8s'), client);
    assert.equal(client.forProject('second'), second, 'one client per project');
    assert.equal((await viewProject(second)).name, 'second');
    assert.equal((await viewProject(client)).name, 'k8s');
    // A failure seen through one project's client is the transport's: readiness sees it on both.
    const later = (ms: number): number => performance.now() + ms;
    sim.faults.add({ operation: 'project_view', status: 503, times: 1 });
    await assert.rejects(viewProject(second));
    assert.match(client.unreachable(later(31_000)) ?? '', /HTTP 503/);
    await viewProject(client);
    assert.equal(second.unreachable(later(60_000)), undefined);
    // Closing a project's client leaves the shared pool to its maker.
    await second.close();
    assert.equal((await viewProject(client)).name, 'k8s');
    await client.close();
  });
});
