// Run as its own process by client.test.ts, because what it checks for is a process that never
// returns to its event loop: the shutdown path (the leader fence aborting a write in flight) on an
// HTTP/2 connection whose flow-control window holds the request body back, as a loaded apiserver
// connection can. With undici 8.13 the aborted stream was destroyed without RST_STREAM while
// nghttp2 still had its DATA queued; when the window opened, Node's HTTP/2 session sent empty DATA
// frames for the forgotten stream in a native loop forever (100% CPU, memory growing, no timer
// ever firing again). Prints one line per step; exits 0 only if the event loop still runs.
import { createSecureServer } from 'node:http2';
import type { ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RestConfig } from './kubeconfig.ts';
import { selfSignedTls } from '../server/tls.ts';
import { KubeClient } from './client.ts';
import { LeaderFence } from './leader-election.ts';

const tls = await selfSignedTls('127.0.0.1');
// A receive window of 0: the client may send headers but no request body until it opens.
const server = createSecureServer({ ...tls, settings: { initialWindowSize: 0 } });
let session: ServerHttp2Session | undefined;
let protocol = '';
const patches: string[] = [];
server.on('session', (s) => {
  session = s;
  protocol = s.alpnProtocol ?? '';
});
server.on('stream', (stream, headers) => {
  stream.on('error', () => undefined);
  if (headers[':method'] === 'PATCH') {
    patches.push(String(headers[':path']));
    stream.resume();
    return;
  }
  stream.respond({ ':status': 200, 'content-type': 'application/json' });
  stream.end('{"major":"1"}');
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

const kc: RestConfig = {
  server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
  ca: Buffer.from(tls.cert),
  token: 'test-token',
};
const fence = new LeaderFence();
const kube = new KubeClient(kc, { qps: 100, burst: 100, fence });

await kube.get('/version');
process.stdout.write(`connected: ${protocol}\n`);
const patch = kube
  .patch('/api/v1/nodes/node-1', 'strategic', { metadata: { labels: { a: 'b' } } })
  .then(
    () => 'answered',
    (err: unknown) => `rejected: ${err instanceof Error ? err.message : String(err)}`,
  );
while (patches.length === 0) await sleep(10);
// Headers are through, the body is held by flow control: leadership ends now.
fence.lose(new Error('leader election stopped'));
process.stdout.write(`patch ${await patch}\n`);
session?.settings({ initialWindowSize: 65_535 });
const started = performance.now();
await sleep(200);
process.stdout.write(`timer fired after ${Math.round(performance.now() - started)} ms\n`);
server.close();
process.exit(0);
