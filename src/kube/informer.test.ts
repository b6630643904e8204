// The informer against the real apiserver, through a small HTTP proxy that counts LIST and WATCH
// requests and can break streams: the initial list, then adds, updates and deletes across watch
// restarts without another LIST; a broken connection resumes from the last resourceVersion
// (no LIST); only 410 Gone lists again.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { loadKubeconfig } from './kubeconfig.ts';
import type { RestConfig } from './kubeconfig.ts';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { waitFor } from '../../test/harness/context.ts';
import { testKube, uniqueName } from '../../test/harness/kube.ts';
import { KubeClient } from './client.ts';
import { Informer } from './informer.ts';
import { SharedInformers } from './informers.ts';
import { silentLogger } from '../log.ts';

/**
 * Forwards plain HTTP to the apiserver's HTTPS. Counts collection LISTs and WATCHes under
 * `prefix`; cut() breaks every open watch stream mid-flight (a transport error for the client);
 * expireNextWatch() answers the next watch as the apiserver does once the position has been
 * compacted away. (That cannot be provoked quickly: kube-apiserver 1.37 serves any
 * resourceVersion from its watch cache's history since it started, even after etcd compaction,
 * and evicts history only after minutes.)
 */
class ApiProxy {
  lists = 0;
  watches = 0;
  private expire = false;
  private readonly open = new Set<ServerResponse>();
  private readonly upstream = new Agent({ connect: { rejectUnauthorized: false } });
  private readonly server: Server;
  private readonly target: string;
  private readonly prefix: string;

  constructor(target: string, prefix: string) {
    this.target = target;
    this.prefix = prefix;
    this.server = createServer((req, res) => void this.forward(req, res));
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  cut(): number {
    const n = this.open.size;
    for (const res of this.open) res.socket?.destroy();
    return n;
  }

  expireNextWatch(): void {
    this.expire = true;
  }

  get openWatches(): number {
    return this.open.size;
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.target);
    const watching = url.searchParams.get('watch') === 'true';
    if (req.method === 'GET' && url.pathname === this.prefix) {
      if (watching) this.watches += 1;
      else this.lists += 1;
      if (watching && this.expire) {
        this.expire = false;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify(expired(url.searchParams.get('resourceVersion') ?? ''))}\n`);
        return;
      }
    }
    const headers = { ...req.headers };
    delete headers.host;
    try {
      const up = await request(url, {
        method: req.method as 'GET',
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req,
        dispatcher: this.upstream,
      });
      res.writeHead(up.statusCode, up.headers as Record<string, string>);
      // A client that went away ends the upstream watch too.
      res.once('close', () => up.body.destroy());
      if (watching) {
        this.open.add(res);
        res.once('close', () => this.open.delete(res));
      }
      for await (const chunk of up.body) res.write(chunk);
      res.end();
    } catch {
      res.destroy();
    }
  }

  async close(): Promise<void> {
    this.cut();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
    await this.upstream.close();
  }
}

/** The ERROR event of a watch whose position expired (apiserver's cacher, "too old resource version"). */
const expired = (rv: string): object => ({
  type: 'ERROR',
  object: {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `too old resource version: ${rv} (${Number(rv) + 1000})`,
    reason: 'Expired',
    code: 410,
  },
});

let kube: KubeClient;
let kubeconfig: string;
const proxies: ApiProxy[] = [];
const aborts: AbortController[] = [];
const runs: Promise<void>[] = [];

before(async () => {
  ({ client: kube, kubeconfig } = await testKube());
});

after(async () => {
  for (const a of aborts) a.abort();
  await Promise.all(runs);
  for (const p of proxies) await p.close();
});

const cm = (name: string, v: string): V1ConfigMap => ({ metadata: { name }, data: { v } });

/** A namespace, a proxy for its configmaps, and an informer on them through the proxy. */
async function setup(watchTimeoutSeconds?: number): Promise<{
  path: string;
  ns: string;
  proxy: ApiProxy;
  informer: Informer<V1ConfigMap>;
  seen: string[];
  start: () => Promise<void>;
}> {
  const ns = uniqueName('informer');
  await kube.post('/api/v1/namespaces', { metadata: { name: ns } });
  const path = `/api/v1/namespaces/${ns}/configmaps`;
  const direct = loadKubeconfig(kubeconfig);

  const proxy = new ApiProxy(direct.server, path);
  proxies.push(proxy);
  const viaProxy: RestConfig = {
    server: await proxy.listen(),
    insecureSkipTLSVerify: true,
    token: direct.token ?? '',
  };
  const client = new KubeClient(viaProxy, { qps: 100, burst: 100 });
  const seen: string[] = [];
  const informer = new Informer<V1ConfigMap>(client, {
    path,
    ...(watchTimeoutSeconds ? { watchTimeoutSeconds } : {}),
  });
  informer.addHandlers({
    add: (o) => seen.push(`add ${o.metadata?.name}`),
    update: (a, b) => {
      if (a.metadata?.resourceVersion !== b.metadata?.resourceVersion)
        seen.push(`update ${b.metadata?.name}=${b.data?.['v']}`);
    },
    delete: (o) => seen.push(`delete ${o.metadata?.name}`),
  });
  const abort = new AbortController();
  aborts.push(abort);
  return {
    path,
    ns,
    proxy,
    informer,
    seen,
    start: async () => {
      runs.push(informer.run(abort.signal));
      await informer.waitForSync(abort.signal);
    },
  };
}

test('lists once, then follows adds, updates and deletes across watch restarts', async () => {
  const { path, ns, proxy, informer, seen, start } = await setup(1);
  await kube.post(path, cm('before', '1'));
  await start();
  assert.deepEqual(
    informer.list().map((o) => o.metadata?.name),
    ['before'],
  );
  await kube.post(path, cm('a', '1'));
  // At least two 1 s watches end and resume in between.
  const watches = proxy.watches;
  await waitFor('two watch restarts', () => proxy.watches >= watches + 2, 20_000);
  await kube.patch(`${path}/a`, 'merge', { data: { v: '2' } });
  await kube.delete(`${path}/before`);
  await waitFor('events', () => seen.length >= 4, 10_000);
  assert.deepEqual(seen, ['add before', 'add a', 'update a=2', 'delete before']);
  assert.equal(informer.get(`${ns}/a`)?.data?.['v'], '2');
  assert.equal(informer.get(`${ns}/before`), undefined);
  assert.equal(proxy.lists, 1, 'a watch that ends resumes from its resourceVersion: no LIST');
});

test('a broken connection resumes the watch from the last resourceVersion, without a LIST', async () => {
  const { path, proxy, seen, start } = await setup();
  await kube.post(path, cm('x', '1'));
  await start();
  for (let round = 1; round <= 3; round++) {
    await waitFor('a watch open', () => proxy.openWatches === 1, 10_000);
    const watches = proxy.watches;
    assert.equal(proxy.cut(), 1);
    // Written while no watch is open: the resumed watch must replay it from the old position.
    await kube.patch(`${path}/x`, 'merge', { data: { v: String(round + 1) } });
    await waitFor('the watch to resume', () => proxy.watches > watches, 10_000);
    await waitFor(`update ${round}`, () => seen.includes(`update x=${round + 1}`), 10_000);
  }
  assert.deepEqual(seen, ['add x', 'update x=2', 'update x=3', 'update x=4']);
  assert.equal(proxy.lists, 1);
  assert.ok(proxy.watches >= 4);
});

test('410 Gone lists again and delivers what changed meanwhile, once', async () => {
  const { path, ns, proxy, informer, seen, start } = await setup();
  await kube.post(path, cm('stays', '1'));
  await kube.post(path, cm('goes', '1'));
  await start();
  await waitFor('a watch open', () => proxy.openWatches === 1, 10_000);
  proxy.expireNextWatch();
  proxy.cut();
  await kube.delete(`${path}/goes`);
  await kube.post(path, cm('new', '1'));
  await waitFor('the relist', () => proxy.lists === 2, 20_000);
  await waitFor('changes delivered', () => seen.length >= 4, 10_000);
  assert.deepEqual(seen.slice(0, 2).sort(), ['add goes', 'add stays']);
  assert.deepEqual(seen.slice(2).sort(), ['add new', 'delete goes']);
  assert.deepEqual(
    informer
      .list()
      .map((o) => o.metadata?.name ?? '')
      .sort((a, b) => a.localeCompare(b)),
    ['new', 'stays'],
  );
  assert.ok(informer.get(`${ns}/stays`));
  // Watching again from the new list's position: no further LIST.
  await waitFor('watching again', () => proxy.openWatches === 1, 10_000);
  assert.equal(proxy.lists, 2);
});

test('the transform applies to listed and watched objects', async () => {
  const { path, ns } = await setup();
  const client = kube;
  const informer = new Informer<V1ConfigMap>(client, {
    path,
    transform: (o) => ({ metadata: o.metadata, data: { v: `t${o.data?.['v'] ?? ''}` } }),
  });
  await kube.post(path, cm('listed', '1'));
  const abort = new AbortController();
  aborts.push(abort);
  runs.push(informer.run(abort.signal));
  await informer.waitForSync(abort.signal);
  await kube.post(path, cm('watched', '2'));
  await waitFor('watched', () => informer.get(`${ns}/watched`) !== undefined, 10_000);
  assert.equal(informer.get(`${ns}/listed`)?.data?.['v'], 't1');
  assert.equal(informer.get(`${ns}/watched`)?.data?.['v'], 't2');
});

test('waitForSync: an aborted signal rejects at once; a settled wait leaves no listener on its signal', async () => {
  const { informer, start } = await setup();
  // Settled or not by the time the macrotask queue runs: an already-aborted signal must not
  // leave its caller waiting for a list that may never come.
  const outcome = await Promise.race([
    informer.waitForSync(AbortSignal.abort(new Error('stopped'))).then(
      () => 'resolved',
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    ),
    new Promise<string>((resolve) => setImmediate(() => resolve('still waiting'))),
  ]);
  assert.equal(outcome, 'stopped');

  // One long-lived signal handed to many waits (as a controller's run signal is).
  const lifetime = new AbortController();
  aborts.push(lifetime);
  const waits = Array.from({ length: 20 }, () => informer.waitForSync(lifetime.signal));
  assert.equal(getEventListeners(lifetime.signal, 'abort').length, 20);
  // A wait whose own signal aborts first rejects and takes its listener with it.
  const early = new AbortController();
  const abandoned = informer.waitForSync(early.signal);
  early.abort(new Error('gave up'));
  await assert.rejects(abandoned, /gave up/);
  assert.equal(getEventListeners(early.signal, 'abort').length, 0);

  await start();
  await Promise.all(waits);
  assert.equal(getEventListeners(lifetime.signal, 'abort').length, 0);
  await informer.waitForSync(lifetime.signal);
  assert.equal(getEventListeners(lifetime.signal, 'abort').length, 0);
});

test('shared informers scoped to a namespace list and watch only its Services', async () => {
  const [mine, other] = [uniqueName('scoped'), uniqueName('scoped')];
  const service = { metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } };
  for (const ns of [mine, other]) {
    await kube.post('/api/v1/namespaces', { metadata: { name: ns } });
    await kube.post(`/api/v1/namespaces/${ns}/services`, service);
  }
  const informers = new SharedInformers(kube, silentLogger, { namespace: mine });
  const services = informers.services();
  const abort = new AbortController();
  aborts.push(abort);
  informers.start(abort.signal);
  runs.push(informers.stopped());
  await informers.waitForSync(abort.signal);
  assert.deepEqual(
    services.list().map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`),
    [`${mine}/web`],
  );
  await kube.post(`/api/v1/namespaces/${other}/services`, {
    ...service,
    metadata: { name: 'api' },
  });
  await kube.post(`/api/v1/namespaces/${mine}/services`, { ...service, metadata: { name: 'api' } });
  await waitFor('the watched Service', () => services.get(`${mine}/api`));
  assert.deepEqual(
    services
      .list()
      .map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`)
      .sort(),
    [`${mine}/api`, `${mine}/web`],
  );
});
