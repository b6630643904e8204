import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { HttpProber } from './http-probe.ts';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.closeAllConnections();
  for (const s of servers) s.close();
});

async function serve(
  handler: Parameters<typeof createServer>[1],
): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer(handler);
  server.on('connection', () => connections++);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

test('200 passes, 503 is an answered failure; checks reuse one connection', async () => {
  let status = 200;
  const paths: string[] = [];
  const { port, connections } = await serve((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end('{"lastUpdated":"x","currentTime":"y"}');
  });
  const prober = new HttpProber({ timeoutMs: 2000 });
  try {
    for (let i = 0; i < 3; i++)
      assert.deepEqual(await prober.probe('127.0.0.1', port), { ok: true, answered: true });
    status = 503;
    assert.deepEqual(await prober.probe('127.0.0.1', port), { ok: false, answered: true });
    assert.equal(connections(), 1);
    assert.deepEqual(new Set(paths), new Set(['/healthz']));
  } finally {
    prober.close();
  }
});

test('Content-Length and chunked answers both keep the connection; a body split over reads too', async () => {
  let mode: 'length' | 'chunked' = 'length';
  const { port, connections } = await serve((_req, res) => {
    if (mode === 'length') {
      res.setHeader('content-length', 2);
      res.end('{}');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }); // no length: chunked
      res.write('{"a":');
      setTimeout(() => res.end('1}'), 20);
    }
  });
  const prober = new HttpProber({ timeoutMs: 2000 });
  try {
    for (const m of ['length', 'chunked', 'chunked', 'length'] as const) {
      mode = m;
      assert.deepEqual(await prober.probe('127.0.0.1', port), { ok: true, answered: true }, m);
      await new Promise((r) => setTimeout(r, 50)); // the chunked body ends after the answer
    }
    assert.equal(connections(), 1);
  } finally {
    prober.close();
  }
});

test('a stopped server and a hung one are failures that were not answered', async () => {
  const up = await serve((_req, res) => res.end('ok'));
  const hung = await serve(() => undefined); // accepts, never answers
  const prober = new HttpProber({ timeoutMs: 300 });
  try {
    assert.equal((await prober.probe('127.0.0.1', up.port)).ok, true);
    up.server.closeAllConnections();
    await new Promise((r) => up.server.close(r));
    assert.deepEqual(await prober.probe('127.0.0.1', up.port), { ok: false, answered: false });
    assert.deepEqual(await prober.probe('127.0.0.1', hung.port), { ok: false, answered: false });
  } finally {
    prober.close();
  }
});

test('a forgotten endpoint has its kept-alive connection closed; checking it again opens a new one', async () => {
  let closed = 0;
  const { server, port, connections } = await serve((_req, res) => res.end('ok'));
  server.on('connection', (socket) => socket.on('close', () => closed++));
  const prober = new HttpProber({ timeoutMs: 2000 });
  try {
    assert.equal((await prober.probe('127.0.0.1', port)).ok, true);
    assert.equal((await prober.probe('127.0.0.1', port)).ok, true);
    assert.equal(connections(), 1);
    prober.forget('127.0.0.1', port);
    // The server sees the close once the FIN arrives; wait for it, bounded.
    for (let i = 0; i < 100 && closed === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(closed, 1, 'the forgotten connection was closed');
    assert.equal((await prober.probe('127.0.0.1', port)).ok, true);
    assert.equal(connections(), 2);
  } finally {
    prober.close();
  }
});
