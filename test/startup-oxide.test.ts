// Oxide down, slow or failing at start: the process keeps running, /healthz stays ok, /readyz is
// not ready with the reason, the check retries with backoff and logs one line per change of state
// (not per retry), and when the API answers the CCM goes on by itself, in the same process.
// Side by side with another CCM on the same port: it runs and serves once the port is free.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetch } from 'undici';
import { startSimulator } from '../sim/server.ts';
import { type AppConfig, runApp } from '../src/app.ts';
import { defaultOptions } from '../src/config/options.ts';
import { NODE_CONTROLLER } from '../src/names.ts';
import { createLogger } from '../src/log.ts';
import { testKube } from './harness/kube.ts';
import { parseKlogText } from './harness/klog.ts';
import type { KlogTextLine } from './harness/klog.ts';
import { freePort } from './harness/ports.ts';

type LogLine = KlogTextLine;

const TOKEN = 'oxide-token-startup-test';

function capture(): { log: ReturnType<typeof createLogger>; lines: () => LogLine[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return {
    log: createLogger({ verbosity: 4, errorStream: stream }),
    lines: () =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => parseKlogText(l)),
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await probe().catch(() => undefined);
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function probe(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}?verbose`);
  return { status: res.status, body: await res.text() };
}

interface Tuning {
  /** The secure port; a free one when omitted. */
  port?: number;
  oxideRequestTimeoutMs?: number;
  oxideStartupBackoff?: AppConfig['oxideStartupBackoff'];
  /** Every configured project (--oxide-projects); default: `project` alone. */
  projects?: string[];
}

/** For the tests of a down, slow or failing API: each retry comes sooner. */
const QUICK: Tuning = {
  oxideRequestTimeoutMs: 300,
  oxideStartupBackoff: { initialMs: 50, maxMs: 200 },
};

/**
 * The CCM in this process, with only the node controller: it acts on tainted Nodes only (the
 * apiserver may be shared).
 */
async function start(host: string, token: string, project: string, tuning: Tuning = QUICK) {
  const { kubeconfig } = await testKube();
  const port = tuning.port ?? (await freePort());
  const { log, lines } = capture();
  const stop = new AbortController();
  const exited = runApp(
    {
      options: {
        ...defaultOptions(),
        cloudProvider: 'oxide',
        kubeconfig,
        leaderElect: false,
        bindAddress: '127.0.0.1',
        securePort: port,
        metricsPlainHttp: true,
        ...(tuning.oxideRequestTimeoutMs === undefined
          ? {}
          : { oxideRequestTimeoutMs: tuning.oxideRequestTimeoutMs }),
      },
      controllers: [NODE_CONTROLLER],
      oxide: {
        host,
        token,
        project,
        ...(tuning.projects ? { projects: tuning.projects } : {}),
        region: '',
        zone: '',
      },
      oxideStartupBackoff: tuning.oxideStartupBackoff,
    },
    log,
    stop.signal,
  );
  return { port, lines, stop, exited };
}

const warnings = (lines: LogLine[]): string[] =>
  lines.filter((l) => l.severity === 'W').map((l) => l.msg);

test('Oxide down at start: running, not ready with the reason, ready once it answers', async () => {
  const oxidePort = await freePort();
  const host = `http://127.0.0.1:${oxidePort}`;
  const app = await start(host, TOKEN, 'k8s');
  let sim: Awaited<ReturnType<typeof startSimulator>> | undefined;
  try {
    const notReady = await until('not ready', async () => {
      const r = await probe(app.port, '/readyz');
      return r.status === 500 && r.body.includes('Oxide API not available') ? r.body : undefined;
    });
    assert.match(
      notReady,
      new RegExp(
        `\\[-\\]oxide failed: Oxide API not available \\(retrying\\): cannot reach the Oxide API at ${host}`,
      ),
    );
    assert.equal((await probe(app.port, '/healthz')).status, 200);
    // Several retries, one line.
    await until('three retries', async () =>
      app.lines().filter((l) => l.msg === 'Oxide API still not available').length >= 3
        ? true
        : undefined,
    );
    assert.equal(warnings(app.lines()).length, 1, JSON.stringify(warnings(app.lines())));

    sim = await startSimulator({ seed: { project: 'k8s' }, port: oxidePort, token: TOKEN });
    const s = sim;
    const ready = await until('ready', async () => {
      const r = await probe(app.port, '/readyz');
      return r.status === 200 ? r.body : undefined;
    });
    assert.match(ready, /\[\+\]oxide ok/);
    assert.ok(s.requests.count('current_user_view') >= 1);
    const msgs = app.lines().map((l) => l.msg);
    assert.equal(msgs.filter((m) => m === 'Oxide API available again; starting').length, 1);
    assert.ok(msgs.includes('Oxide API reachable, token and project valid'));
    assert.equal(warnings(app.lines()).length, 1);
  } finally {
    app.stop.abort();
    const code = await app.exited;
    await sim?.stop();
    assert.equal(code, 0);
  }
});

test('slow, then 503: one line per change of state, recovers without restart', async () => {
  const sim = await startSimulator({ seed: { project: 'k8s' } });
  // Slower than the 300 ms request timeout: the first requests time out.
  sim.faults.add({ operation: 'current_user_view', latencyMs: 1_000, times: 8 });
  sim.faults.add({ operation: 'current_user_view', status: 503 });
  const app = await start(sim.url, sim.token, sim.project);
  try {
    await until('the 503 state', async () => {
      const r = await probe(app.port, '/readyz');
      return r.status === 500 && /503/.test(r.body) ? true : undefined;
    });
    const before = sim.requests.count('current_user_view');
    await until('more retries of the 503', async () =>
      sim.requests.count('current_user_view') >= before + 8 ? true : undefined,
    );
    const seen = warnings(app.lines());
    assert.equal(seen.length, 2, JSON.stringify(seen));
    assert.match(seen[0] ?? '', /no response within 300 ms/);
    assert.match(seen[1] ?? '', /503/);
    sim.faults.clear();
    await until('ready', async () =>
      (await probe(app.port, '/readyz')).status === 200 ? true : undefined,
    );
    assert.equal(warnings(app.lines()).length, 2);
  } finally {
    app.stop.abort();
    const code = await app.exited;
    await sim.stop();
    assert.equal(code, 0);
  }
});

test('401 and a missing project stop the start at once (exit 1): retrying cannot fix them', async () => {
  const sim = await startSimulator({ seed: { project: 'k8s' } });
  try {
    const badToken = await start(sim.url, 'oxide-token-wrong', sim.project);
    assert.equal(await badToken.exited, 1);
    assert.match(badToken.lines().at(-1)?.msg ?? '', /rejected the token \(401\)/);
    const noProject = await start(sim.url, sim.token, 'nope');
    assert.equal(await noProject.exited, 1);
    assert.match(noProject.lines().at(-1)?.msg ?? '', /Oxide project "nope" not found/);
  } finally {
    await sim.stop();
  }
});

test('several projects: each is checked, and the one the token cannot read is named (exit 1)', async () => {
  const sim = await startSimulator({ seed: { project: 'k8s' } });
  sim.db.addProject('other');
  const both = (projects: string[]) => start(sim.url, sim.token, 'k8s', { ...QUICK, projects });
  try {
    const missing = await both(['k8s', 'nope']);
    assert.equal(await missing.exited, 1);
    assert.match(missing.lines().at(-1)?.msg ?? '', /Oxide project "nope" not found/);
    // A token without a role on the second project: Oxide answers 403 on its view.
    sim.faults.add({ path: '/v1/projects/other', status: 403 });
    const forbidden = await both(['k8s', 'other']);
    assert.equal(await forbidden.exited, 1);
    assert.match(
      forbidden.lines().at(-1)?.msg ?? '',
      /forbade project_view to this token \(403\): it lacks a permission on project "other" or the silo \(the token needs access to every configured project\)/,
    );
    sim.faults.clear();
    const twice = await both(['k8s', sim.db.project('k8s').id]);
    assert.equal(await twice.exited, 1);
    assert.match(twice.lines().at(-1)?.msg ?? '', /are the same project/);
    // Both readable: it starts, having viewed each project once.
    sim.requests.reset();
    const ok = await both(['k8s', 'other']);
    await until('ready', async () =>
      (await probe(ok.port, '/readyz')).status === 200 ? true : undefined,
    );
    const viewed = sim.requests.entries
      .filter((e) => e.operationId === 'project_view')
      .map((e) => e.path);
    assert.deepEqual(viewed, ['/v1/projects/k8s', '/v1/projects/other']);
    ok.stop.abort();
    assert.equal(await ok.exited, 0);
  } finally {
    await sim.stop();
  }
});

test('a 403 after /v1/me answered names the operation forbidden, not the token (exit 1)', async () => {
  const sim = await startSimulator({ seed: { project: 'k8s' } });
  try {
    // The token works (current_user_view answers) but may not view the project.
    sim.faults.add({ operation: 'project_view', status: 403 });
    const forbidden = await start(sim.url, sim.token, sim.project);
    assert.equal(await forbidden.exited, 1);
    const last = forbidden.lines().at(-1)?.msg ?? '';
    assert.match(
      last,
      /^Oxide API at http:\/\/127\.0\.0\.1:\d+ forbade project_view to this token \(403\): it lacks a permission on project "k8s"/,
    );
    assert.doesNotMatch(last, /rejected the token|check OXIDE_TOKEN/);
  } finally {
    await sim.stop();
  }
});

test('secure port held by another process (the old CCM on this node): runs, serves once free', async () => {
  const sim = await startSimulator({ seed: { project: 'k8s' } });
  const port = await freePort();
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
  // The product's timeouts and backoff: only the port is the test's.
  const { lines, stop, exited } = await start(sim.url, sim.token, sim.project, { port });
  try {
    await until('the in-use warning', async () =>
      warnings(lines()).some((m) => m.includes('is in use')) ? true : undefined,
    );
    // Still running: the Oxide check and the controllers go on while the port is taken.
    await until('caches synced', async () =>
      lines().some((l) => l.msg === 'caches synced') ? true : undefined,
    );
    await new Promise<void>((resolve) => holder.close(() => resolve()));
    const r = await until(
      'served',
      async () => {
        const got = await probe(port, '/readyz');
        return got.status === 200 ? got : undefined;
      },
      10_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${JSON.stringify(lines(), null, 1)}`);
    });
    assert.match(r.body, /\[\+\]oxide ok/);
    assert.equal(warnings(lines()).filter((m) => m.includes('is in use')).length, 1);
  } finally {
    stop.abort();
    const code = await exited;
    holder.close();
    await sim.stop();
    assert.equal(code, 0);
  }
});
