// KubeClient against a loopback HTTP server standing in for the apiserver: what goes on the wire
// (user agent, on watches too) and the rest_client_* metrics client-go would record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import type { RestConfig } from './kubeconfig.ts';
import { Registry } from 'prom-client';
import { registerKubeMetrics } from './metrics.ts';
import { createLogger, setProcessLogger } from '../log.ts';
import { KubeClient } from './client.ts';
import { makeCa, opensslCert } from '../../test/harness/certs.ts';

// This layer's families, read as a scrape of the process's registry would show them.
const registry = new Registry();
registerKubeMetrics(registry);

async function fakeApiserver(): Promise<{
  url: string;
  seen: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close: () => Promise<void>;
}> {
  const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (req.url?.includes('watch=true')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } }) + '\n');
      res.end(JSON.stringify({ type: 'DELETED', object: { metadata: { name: 'a' } } }) + '\n');
    } else if (req.url?.startsWith('/api/v1/nodes/missing')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          reason: 'NotFound',
          message: 'nodes "missing" not found',
        }),
      );
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ items: [] }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function client(server: string): KubeClient {
  const kc: RestConfig = { server, insecureSkipTLSVerify: true, token: 'kube-token-xyz' };
  return new KubeClient(kc, {
    qps: 100,
    burst: 100,
    userAgent: 'oxide-cloud-controller-manager/test',
  });
}

const sample = async (name: string, labels: Record<string, string>): Promise<number> => {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const match = metric?.values.find((v) =>
    Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return match?.value ?? 0;
};

test('requests and watches carry our user agent and count in rest_client_* metrics', async () => {
  const api = await fakeApiserver();
  try {
    const kube = client(api.url);
    const host = new URL(api.url).host;
    await kube.get('/api/v1/nodes');
    await assert.rejects(kube.get('/api/v1/nodes/missing'), /not found/);
    const events: string[] = [];
    await kube.watch(
      '/api/v1/nodes',
      { resourceVersion: '1' },
      (type, obj) =>
        events.push(`${type} ${(obj as { metadata: { name: string } }).metadata.name}`),
      new AbortController().signal,
    );
    assert.deepEqual(events, ['ADDED a', 'DELETED a']);
    assert.equal(api.seen.length, 3);
    for (const r of api.seen) {
      assert.equal(r.headers['user-agent'], 'oxide-cloud-controller-manager/test', r.url);
      assert.equal(r.headers['authorization'], 'Bearer kube-token-xyz');
    }
    assert.match(api.seen[2]?.url ?? '', /^\/api\/v1\/nodes\?resourceVersion=1&watch=true$/);
    assert.equal(
      await sample('rest_client_requests_total', { code: '200', method: 'GET', host }),
      2,
    );
    assert.equal(
      await sample('rest_client_requests_total', { code: '404', method: 'GET', host }),
      1,
    );
    const durations = await registry.getSingleMetricAsString(
      'rest_client_request_duration_seconds',
    );
    assert.ok(
      durations.includes(`rest_client_request_duration_seconds_count{verb="GET",host="${host}"} 3`),
      durations,
    );
  } finally {
    await api.close();
  }
});

test('a refused connection counts as code <error>', async () => {
  const api = await fakeApiserver();
  await api.close();
  const kube = client(api.url);
  // At -v=6 the request's trace line says why no answer came.
  let trace = '';
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => (trace += d.toString()));
  setProcessLogger(createLogger({ verbosity: 6, errorStream: stream }));
  // What fetch keeps in its cause is in the message: not just "fetch failed".
  await assert.rejects(kube.get('/api/v1/nodes'), {
    name: 'KubeConnectionError',
    message: new RegExp(
      `^GET /api/v1/nodes: fetch failed: connect ECONNREFUSED 127\\.0\\.0\\.1:\\d+$`,
    ),
  });
  setProcessLogger(undefined);
  assert.match(trace, / status=0 .*err="fetch failed: connect ECONNREFUSED 127\.0\.0\.1:\d+"/);
  assert.match(kube.unreachable(performance.now() + 60_000) ?? '', /ECONNREFUSED/);
  const host = new URL(api.url).host;
  assert.equal(
    await sample('rest_client_requests_total', { code: '<error>', method: 'GET', host }),
    1,
  );
});

test('an apiserver certificate the client does not trust: the error names it (subject, issuer, names)', async () => {
  const [ca, otherCa] = [await makeCa('apiserver-ca'), await makeCa('some-other-ca')];
  const serving = opensslCert(
    'kube-apiserver',
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=DNS:kubernetes,IP:127.0.0.1',
    ],
    ca,
  );
  const server = createHttpsServer(serving, (_req, res) => res.end('{}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const trusting = (caPem: string, tlsServerName?: string): KubeClient =>
    new KubeClient(
      { server: url, ca: Buffer.from(caPem), ...(tlsServerName ? { tlsServerName } : {}) },
      { qps: 100, burst: 100 },
    );
  try {
    const wrongCa = trusting(otherCa.cert);
    await assert.rejects(wrongCa.get('/version'), (err: Error) => {
      assert.match(
        err.message,
        /^GET \/version: fetch failed: server certificate not trusted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\): subject CN=kube-apiserver; issuer CN=apiserver-ca; names DNS:kubernetes, IP Address:127\.0\.0\.1; valid /,
      );
      return true;
    });
    // Again on the same client (its TLS session cache): refused again.
    await assert.rejects(wrongCa.get('/version'), { message: /server certificate not trusted/ });
    // The right CA, the wrong name: Node's host name check, named as well.
    await assert.rejects(trusting(ca.cert, 'elsewhere').get('/version'), {
      message:
        /server certificate not trusted \(ERR_TLS_CERT_ALTNAME_INVALID\): subject CN=kube-apiserver/,
    });
    // And the right CA and name work, over the same connector.
    assert.deepEqual(await trusting(ca.cert).get('/version'), {});
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('aborting a write whose body HTTP/2 flow control holds back leaves the process running', async () => {
  // In a child process: the failure is a native loop that no timer of this process could end.
  // It allocates as it spins, so the child is killed soon after the abort if it does not go on.
  const script = new URL('./fixtures/client-h2-abort.child.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let grace: NodeJS.Timeout | undefined;
  const onOutput = (d: Buffer): void => {
    out += d.toString();
    if (grace === undefined && out.includes('patch ')) {
      grace = setTimeout(() => child.kill('SIGKILL'), 5_000);
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await exited;
  clearTimeout(deadline);
  clearTimeout(grace);
  assert.match(
    out,
    /connected: h2\n/,
    'the client must speak HTTP/2 for this test to mean anything',
  );
  assert.match(out, /patch rejected: leader election stopped\n/);
  assert.match(out, /timer fired after \d+ ms\n/, `the event loop never ran again:\n${out}`);
  assert.equal(code, 0, out);
});
