import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { silentLogger } from '../../../log.ts';
import { endpointKey, HealthChecks } from './health-checks.ts';
import type { EndpointTarget } from './health-checks.ts';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.closeAllConnections();
  for (const s of servers) s.close();
});

async function serve(): Promise<{
  server: Server;
  port: number;
  requests: () => number;
  open: () => number;
}> {
  let requests = 0;
  let open = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.setHeader('content-length', 2);
    res.end('{}');
  });
  server.on('connection', (socket) => {
    open++;
    socket.on('close', () => open--);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    requests: () => requests,
    open: () => open,
  };
}

const until = async (what: string, fn: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('one round per interval checks every endpoint; a stopped one fails after the threshold, the other passes, a never-answering one stays unknown; an endpoint taken out is not checked again and its connection is closed', async () => {
  const a = await serve();
  const b = await serve();
  const dead = await serve();
  const deadPort = dead.port;
  dead.server.close(); // refuses from now on: never answered
  const changes: [string, boolean][] = [];
  const failed: string[] = [];
  const checks = new HealthChecks(
    { intervalMs: 40, timeoutMs: 500, failures: 2, settleMs: 200 },
    silentLogger,
    (node, failingChanged) => changes.push([node, failingChanged]),
    (node) => failed.push(node),
  );
  try {
    const want = new Map<string, EndpointTarget>([
      [endpointKey('a', a.port), { node: 'a', host: '127.0.0.1', port: a.port }],
      [endpointKey('b', b.port), { node: 'b', host: '127.0.0.1', port: b.port }],
      [endpointKey('x', deadPort), { node: 'x', host: '127.0.0.1', port: deadPort }],
    ]);
    checks.sync(want);
    await until('a and b passing', () =>
      ['a', 'b'].every((n) => checks.health(n, n === 'a' ? a.port : b.port)?.passingNow),
    );
    a.server.closeAllConnections();
    a.server.close();
    await until('a failing', () => checks.health('a', a.port)?.verdict === 'failing');
    assert.deepEqual(
      changes.filter(([, failing]) => failing),
      [['a', true]],
    );
    assert.equal(checks.health('b', b.port)?.verdict, 'passing');
    assert.equal(checks.health('x', deadPort)?.verdict, 'unknown');
    // The first failed check of a that answered before was told at once (the instance is asked
    // then); x, which never answered, never.
    assert.equal(failed[0], 'a');
    assert.ok(!failed.includes('x'));
    // Rounds keep coming for b.
    const before = b.requests();
    await new Promise((r) => setTimeout(r, 1_000));
    const rounds = b.requests() - before;
    assert.ok(rounds >= 5, `${rounds} rounds in 1 s at 40 ms`);
    // Gone from the set: no more checks.
    checks.sync(
      new Map([[endpointKey('a', a.port), { node: 'a', host: '127.0.0.1', port: a.port }]]),
    );
    const after = b.requests();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(b.requests(), after);
    // ...and its kept-alive connection is closed, not left open for good.
    await until('b connection closed', () => b.open() === 0, 2_000);
  } finally {
    checks.stop();
  }
});
