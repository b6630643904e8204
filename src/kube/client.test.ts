// KubeClient against a loopback HTTP server standing in for the apiserver: what goes on the wire
// (user agent, on watches too) and the rest_client_* metrics client-go would record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RestConfig } from './kubeconfig.ts';
import { Registry } from 'prom-client';
import { registerKubeMetrics } from './metrics.ts';
import { KubeClient } from './client.ts';

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
  await assert.rejects(kube.get('/api/v1/nodes'));
  const host = new URL(api.url).host;
  assert.equal(
    await sample('rest_client_requests_total', { code: '<error>', method: 'GET', host }),
    1,
  );
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
