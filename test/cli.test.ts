// The CLI as operators run it: a child process of src/main.ts against the Oxide simulator and the
// test apiserver. Every failing start must exit non-zero with a one-line reason and must never
// print the Oxide token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetch } from 'undici';
import { startSimulator } from '../sim/server.ts';
import type { KubeClient } from '../src/kube/client.ts';
import { TAINT_UNINITIALIZED } from '../src/kube/well-known.ts';
import { VERSION } from '../src/version.ts';
import { testKube, uniqueName } from './harness/kube.ts';
import { waitFor } from './harness/context.ts';
import { parseKlogText, parseLogOutput } from './harness/klog.ts';
import { BROKEN_KUBECONFIGS, brokenKubeconfig } from './harness/kubeconfigs.ts';
import { makeCa } from './harness/certs.ts';
import { createKubeletNode, deleteNode, getNode } from './harness/nodes.ts';
import { freePort } from './harness/ports.ts';
import { repoRoot } from './harness/testbin.ts';

const NODE = `${repoRoot}/node_modules/.bin/node`;

/** The test apiserver's admin token, as a scraper would send its ServiceAccount token. */
const bearer = (client: KubeClient): Record<string, string> => ({
  authorization: `Bearer ${client.config.token ?? ''}`,
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Started {
  child: ReturnType<typeof spawn>;
  output: () => string;
  exited: Promise<Run>;
}

function start(args: string[], env: Record<string, string> = {}): Started {
  const child = spawn(NODE, ['src/main.ts', ...args], {
    cwd: repoRoot,
    // Only what the test gives: no OXIDE_* leaking in from the developer's shell.
    env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<Run>((resolve) =>
    child.on('exit', (code) => setImmediate(() => resolve({ code, stdout, stderr }))),
  );
  return { child, output: () => stdout + stderr, exited };
}

async function run(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<Run> {
  const s = start(args, env);
  const timer = setTimeout(() => s.child.kill('SIGKILL'), timeoutMs);
  const result = await s.exited;
  clearTimeout(timer);
  return result;
}

test('--version and --help exit 0', async () => {
  const version = await run(['--version']);
  assert.equal(version.code, 0);
  assert.match(
    version.stdout,
    /^oxide-cloud-controller-manager v\d+\.\d+\.\d+ \(this build speaks Oxide API version [\d.]+/,
  );
  const help = await run(['-h']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--leader-elect-lease-duration duration/);
  assert.equal(help.stderr, '');
});

test('usage errors: all reported, one line each, exit 2, token never printed', async () => {
  const token = 'oxide-token-DO-NOT-PRINT-1';
  const r = await run(
    [
      '--cloud-provider=gce',
      '--leader-elect-retry-period',
      '2x',
      '--controllers',
      'nodeipam',
      '--nope',
    ],
    {
      OXIDE_TOKEN: token,
    },
  );
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.deepEqual(r.stderr.trimEnd().split('\n'), [
    'error: --leader-elect-retry-period: invalid duration "2x" (examples: 15s, 1m30s, 500ms)',
    'error: unknown flag --nope',
    'error: --controllers: unknown controller "nodeipam"; known: cloud-node-controller (cloud-node), cloud-node-lifecycle-controller (cloud-node-lifecycle), service-lb-controller (service), node-route-controller (route)',
    'error: --cloud-provider "gce" is not supported: this cloud-controller-manager only implements "oxide"',
    'error: Oxide host is not set: set OXIDE_HOST (or OXIDE_PROFILE, or host in --cloud-config)',
    'error: Oxide project is not set: set OXIDE_PROJECT (or project in --cloud-config)',
    "Run 'oxide-cloud-controller-manager --help' for usage.",
  ]);
  assert.ok(!r.stderr.includes(token));
});

test("--cluster-name 'a b' or of 300 characters: refused at start, one line, exit 2", async () => {
  const env = {
    OXIDE_HOST: 'http://127.0.0.1:1',
    OXIDE_TOKEN: 'oxide-token-t',
    OXIDE_PROJECT: 'p',
  };
  const spaced = await run(['--cloud-provider=oxide', '--cluster-name', 'a b'], env);
  assert.equal(spaced.code, 2);
  assert.deepEqual(spaced.stderr.trimEnd().split('\n'), [
    `error: --cluster-name "a b" cannot start an Oxide name: it must begin with a lowercase ASCII letter and contain only ASCII letters, digits and '-'`,
    "Run 'oxide-cloud-controller-manager --help' for usage.",
  ]);
  const long = await run(['--cloud-provider=oxide', `--cluster-name=${'a'.repeat(300)}`], env);
  assert.equal(long.code, 2);
  assert.match(long.stderr, /^error: --cluster-name "a{77}\.\.\." is 300 characters; at most 58 /);
  assert.equal(long.stderr.trimEnd().split('\n').length, 2);
});

test('missing Oxide settings exit 1 with one line per setting', async () => {
  const r = await run(['--cloud-provider', 'oxide']);
  assert.equal(r.code, 1);
  assert.deepEqual(r.stderr.trimEnd().split('\n'), [
    'error: Oxide host is not set: set OXIDE_HOST (or OXIDE_PROFILE, or host in --cloud-config)',
    'error: Oxide token is not set: set OXIDE_TOKEN or OXIDE_TOKEN_FILE (or OXIDE_PROFILE, or token in --cloud-config)',
    'error: Oxide project is not set: set OXIDE_PROJECT (or project in --cloud-config)',
  ]);
});

test('a kubeconfig that is not YAML: exit 1 naming the line and column, never a line of it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oxide-ccm-kubeconfig-'));
  // Nothing is contacted: the kubeconfig is read before the secure port and the Oxide check.
  const env = { OXIDE_HOST: 'https://127.0.0.1:1', OXIDE_TOKEN: 'oxide-t', OXIDE_PROJECT: 'k8s' };
  try {
    for (const [name, { secret, lines }] of Object.entries(BROKEN_KUBECONFIGS)) {
      const path = join(dir, `${Object.keys(BROKEN_KUBECONFIGS).indexOf(name)}.yaml`);
      writeFileSync(path, brokenKubeconfig(lines));
      const args = ['--cloud-provider=oxide', `--kubeconfig=${path}`, '--secure-port=0'];
      let out: string;
      if (name.includes('unknown tag')) {
        // YAML with a warning loads; the library would print the warning with its line. The
        // process then waits for the Oxide API: stop it once it says so.
        const s = start([...args, '--oxide-request-timeout=1s'], env);
        await waitFor('the Oxide check to fail', () => /cannot reach/.test(s.output()), 20_000);
        s.child.kill('SIGTERM');
        await s.exited;
        out = s.output();
      } else {
        const r = await run(args, env);
        assert.equal(r.code, 1, `${name}: ${r.stderr}`);
        out = r.stdout + r.stderr;
        const last = parseLogOutput(r.stderr, 'text').at(-1)?.msg ?? '';
        assert.match(
          last,
          new RegExp(
            `^cannot load Kubernetes client configuration: kubeconfig ${path}: not valid YAML at line \\d+, column \\d+ \\([A-Z_]+\\)$`,
          ),
          name,
        );
      }
      assert.ok(!out.includes(secret), `${name}: secret printed:\n${out}`);
      for (const line of lines)
        assert.ok(!out.includes(line.trim()), `${name}: a line of the file printed:\n${out}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a 20 MB Oxide host (OXIDE_HOST_FILE): exit 1 with one short line, never echoed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ccm-host-'));
  const file = join(dir, 'host');
  writeFileSync(file, `https://${'a'.repeat(20_000_000)}.example`);
  try {
    const { kubeconfig } = await testKube();
    const r = await run(
      ['--cloud-provider=oxide', '--secure-port=0', `--kubeconfig=${kubeconfig}`],
      {
        OXIDE_HOST_FILE: file,
        OXIDE_TOKEN: 'oxide-token-x',
        OXIDE_PROJECT: 'k8s',
      },
    );
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `error: Oxide host from OXIDE_HOST_FILE ${file} is not a host name: 20000008 characters (DNS allows 253, 63 per label)\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('against the simulator: wrong token and unknown project exit 1; unreachable host runs not ready', async () => {
  const sim = await startSimulator({ seed: { project: 'k8s' } });
  try {
    const wrong = 'oxide-token-WRONG-7d1c';
    // No secure port: the Oxide check is all that runs before these exit (a secure port would
    // first look up the apiserver's client CAs). The kubeconfig is loaded, never used.
    const { kubeconfig } = await testKube();
    const base = [
      '--cloud-provider',
      'oxide',
      '--oxide-request-timeout=2s',
      '--secure-port=0',
      `--kubeconfig=${kubeconfig}`,
    ];
    const badToken = await run(base, {
      OXIDE_HOST: sim.url,
      OXIDE_TOKEN: wrong,
      OXIDE_PROJECT: sim.project,
    });
    assert.equal(badToken.code, 1);
    assert.equal(badToken.stdout, '');
    assert.match(badToken.stderr, /rejected the token \(401\); check OXIDE_TOKEN/);
    assert.match(parseLogOutput(badToken.stderr, 'text').at(-1)?.msg ?? '', /^Oxide API at /);
    for (const secret of [wrong, sim.token]) {
      assert.ok(
        !badToken.stdout.includes(secret) && !badToken.stderr.includes(secret),
        'token printed',
      );
    }

    const noProject = await run(base, {
      OXIDE_HOST: sim.url,
      OXIDE_TOKEN: sim.token,
      OXIDE_PROJECT: 'nope',
    });
    assert.equal(noProject.code, 1);
    assert.match(
      noProject.stderr,
      /Oxide project \\"nope\\" not found at http:\/\/127\.0\.0\.1:\d+/,
    );
    parseLogOutput(noProject.stderr, 'text');
    assert.ok(!noProject.stdout.includes(sim.token) && !noProject.stderr.includes(sim.token));

    // Unreachable is an outage, not an answer: the process runs, not ready, until SIGTERM.
    const closed = `http://127.0.0.1:${await freePort()}`;
    const port = await freePort();
    const down = start(
      [
        ...base,
        `--kubeconfig=${kubeconfig}`,
        '--leader-elect=false',
        '--controllers=cloud-node',
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        '--metrics-plain-http',
      ],
      { OXIDE_HOST: closed, OXIDE_TOKEN: sim.token, OXIDE_PROJECT: 'k8s' },
    );
    try {
      let body = '';
      for (let i = 0; i < 100 && !body.includes('cannot reach'); i++) {
        await sleep(200);
        body = await fetch(`http://127.0.0.1:${port}/readyz`)
          .then((r) => r.text())
          .catch(() => '');
      }
      assert.match(
        body,
        new RegExp(`\\[-\\]oxide failed: .*cannot reach the Oxide API at ${closed}`),
      );
      assert.match(down.output(), new RegExp(`cannot reach the Oxide API at ${closed}`));
      parseLogOutput(down.output(), 'text');
      down.child.kill('SIGTERM');
      const result = await down.exited;
      assert.equal(result.code, 0, down.output());
      assert.ok(!result.stdout.includes(sim.token) && !result.stderr.includes(sim.token));
    } finally {
      down.child.kill('SIGKILL');
      await down.exited;
    }
  } finally {
    await sim.stop();
  }
});

test('an apiserver certificate the kubeconfig CA does not sign: the log names the certificate, not just "fetch failed"', async () => {
  const sim = await startSimulator({ seed: { project: 'k8s' } });
  const dir = mkdtempSync(join(tmpdir(), 'oxide-ccm-wrong-ca-'));
  const { client } = await testKube();
  try {
    const wrongCa = await makeCa('not-the-cluster-ca');
    const path = join(dir, 'kubeconfig');
    writeFileSync(
      path,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'c',
            cluster: {
              server: client.config.server,
              'certificate-authority-data': Buffer.from(wrongCa.cert).toString('base64'),
            },
          },
        ],
        users: [{ name: 'u', user: { token: client.config.token ?? '' } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'c',
      }),
    );
    const ccm = start(
      [
        '--cloud-provider=oxide',
        `--kubeconfig=${path}`,
        '--secure-port=0',
        '--controllers=',
        '--leader-elect-resource-namespace=default',
        `--leader-elect-resource-name=${uniqueName('wrong-ca')}`,
      ],
      { OXIDE_HOST: sim.url, OXIDE_TOKEN: sim.token, OXIDE_PROJECT: sim.project },
    );
    try {
      await waitFor(
        'the Lease read to fail',
        () =>
          parseLogOutput(ccm.output(), 'text').find(
            (l) => l.msg === 'error retrieving leader lease',
          ),
        30_000,
      );
      // Which certificate, issued by whom, for which names: enough to see the CA is wrong.
      assert.match(
        ccm.output(),
        /err="KubeConnectionError: GET \/apis\/coordination\.k8s\.io\/v1\/namespaces\/default\/leases\/[a-z0-9-]+: fetch failed: server certificate not trusted \([A-Z_]+\): subject CN=[^;]+; issuer CN=[^;]+; names [^;]*IP Address:127\.0\.0\.1/,
      );
      assert.ok(!ccm.output().includes(client.config.token ?? '-'), 'token printed');
    } finally {
      ccm.child.kill('SIGTERM');
      await ccm.exited;
    }
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a rack on an older Oxide release: exit 1 naming the release this build needs', async () => {
  const sim = await startSimulator({ seed: { project: 'k8s' }, apiVersion: '2025120300.0.0' });
  const { kubeconfig } = await testKube();
  try {
    const old = await run(
      [
        '--cloud-provider',
        'oxide',
        '--oxide-request-timeout=2s',
        '--secure-port=0',
        `--kubeconfig=${kubeconfig}`,
      ],
      {
        OXIDE_HOST: sim.url,
        OXIDE_TOKEN: sim.token,
        OXIDE_PROJECT: sim.project,
      },
    );
    assert.equal(old.code, 1);
    assert.match(old.stdout + old.stderr, /needs Oxide release 20 or newer/);
    assert.ok(!old.stdout.includes(sim.token) && !old.stderr.includes(sim.token));
  } finally {
    await sim.stop();
  }
});

test('full process: leads, initializes a Node, serves health and metrics, SIGTERM releases the Lease and exits 0', async () => {
  const nodeName = uniqueName('cli-node');
  const sim = await startSimulator({ seed: { project: 'k8s', instances: [{ name: nodeName }] } });
  const { client, kubeconfig } = await testKube();
  await createKubeletNode(client, nodeName);
  const lease = uniqueName('ccm');
  const port = await freePort();
  const s = start(
    [
      '--cloud-provider=oxide',
      `--kubeconfig=${kubeconfig}`,
      // Only the node controller: it touches only tainted Nodes, and the apiserver is shared
      // with other test files (a service or lifecycle controller would act on their objects).
      '--controllers=cloud-node',
      '--leader-elect-resource-namespace=default',
      `--leader-elect-resource-name=${lease}`,
      '--leader-elect-lease-duration=4s',
      '--leader-elect-renew-deadline=3s',
      '--leader-elect-retry-period=500ms',
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      '--metrics-plain-http',
      '--use-service-account-credentials',
    ],
    { OXIDE_HOST: sim.url, OXIDE_TOKEN: sim.token, OXIDE_PROJECT: sim.project },
  );
  try {
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/default/leases/${lease}`;
    type Lease = { spec: { holderIdentity?: string; leaseDurationSeconds?: number } };
    let holder = '';
    for (let i = 0; i < 100 && holder === ''; i++) {
      await sleep(200);
      holder =
        (await client.get<Lease>(leasePath).catch(() => undefined))?.spec.holderIdentity ?? '';
    }
    assert.match(holder, /^[^_]+_[0-9a-f-]{36}$/, `identity hostname_uuid, output:\n${s.output()}`);

    let ready = 0;
    for (let i = 0; i < 50 && ready !== 200; i++) {
      ready = (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status ?? 0;
      if (ready !== 200) await sleep(200);
    }
    assert.equal(ready, 200, s.output());
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text(), 'ok');
    // /metrics needs credentials (delegated authentication): anonymous is forbidden, the
    // admin token (system:masters) passes after a TokenReview.
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 403);
    const metrics = await (
      await fetch(`http://127.0.0.1:${port}/metrics`, { headers: bearer(client) })
    ).text();
    // process_* and nodejs_* are registered by a process that serves the secure port.
    assert.match(metrics, /^process_cpu_seconds_total /m);
    assert.match(metrics, new RegExp(`leader_election_master_status\\{name="${lease}"\\} 1`));
    assert.match(
      metrics,
      /oxide_api_requests_total\{operation="current_user_view",status="200"\} 1/,
    );
    // Upstream families with upstream label values (docs/metrics.md).
    assert.match(
      metrics,
      /running_managed_controllers\{name="cloud-node",manager="cloud-controller-manager"\} 1/,
    );
    assert.match(metrics, /workqueue_adds_total\{name="Nodes"\} \d+/);
    assert.match(
      metrics,
      /rest_client_requests_total\{code="200",method="GET",host="127\.0\.0\.1:\d+"\} \d+/,
    );
    assert.match(
      metrics,
      /rest_client_requests_total\{code="201",method="POST",host="127\.0\.0\.1:\d+"\} \d+/,
    );
    const [major, minor] = VERSION.split('.');
    assert.ok(
      metrics.includes(
        `kubernetes_build_info{major="${major}",minor="${minor}",git_version="v${VERSION}"`,
      ),
      'kubernetes_build_info',
    );

    let node = await getNode(client, nodeName);
    for (let i = 0; i < 50 && !node.spec?.providerID; i++) {
      await sleep(200);
      node = await getNode(client, nodeName);
    }
    assert.match(node.spec?.providerID ?? '', /^oxide:\/\//, s.output());
    assert.ok(!(node.spec?.taints ?? []).some((t) => t.key === TAINT_UNINITIALIZED));

    const signalled = performance.now();
    s.child.kill('SIGTERM');
    const result = await Promise.race([s.exited, sleep(8000).then(() => undefined)]);
    assert.ok(result, `no exit within 8 s after SIGTERM:\n${s.output()}`);
    const took = performance.now() - signalled;
    console.log(`exit after SIGTERM: ${Math.round(took)} ms`);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const released = await client.get<Lease>(leasePath);
    assert.equal(released.spec.holderIdentity, '');
    assert.equal(released.spec.leaseDurationSeconds, 1);

    // klog text on stderr, nothing on stdout; every line readable by a klog pipeline.
    assert.equal(result.stdout, '');
    const lines = parseLogOutput(result.stderr, 'text');
    const msgs = lines.map((l) => l.msg);
    assert.ok(!lines.some((l) => l.error), result.stderr);
    assert.ok(
      msgs.includes(
        'flag --use-service-account-credentials is accepted for compatibility with upstream and ignored',
      ),
    );
    assert.ok(msgs.includes('successfully acquired lease'));
    assert.ok(msgs.includes('released leader lease'));
    assert.ok(!result.stdout.includes(sim.token) && !result.stderr.includes(sim.token));
  } finally {
    s.child.kill('SIGKILL');
    await s.exited;
    await sim.stop();
    await deleteNode(client, nodeName);
  }
});

test('losing the Lease ends the process with exit 1, without releasing it', async () => {
  const sim = await startSimulator({ seed: { project: 'k8s' } });
  const { client, kubeconfig } = await testKube();
  const lease = uniqueName('ccm');
  const s = start(
    [
      '--cloud-provider=oxide',
      `--kubeconfig=${kubeconfig}`,
      '--controllers=',
      '--leader-elect-resource-namespace=default',
      `--leader-elect-resource-name=${lease}`,
      '--leader-elect-lease-duration=4s',
      '--leader-elect-renew-deadline=2s',
      '--leader-elect-retry-period=500ms',
      '--secure-port=0',
      '--logging-format=json',
      '-v=6',
    ],
    { OXIDE_HOST: sim.url, OXIDE_TOKEN: sim.token, OXIDE_PROJECT: sim.project },
  );
  try {
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/default/leases/${lease}`;
    type Lease = { spec: Record<string, unknown> & { holderIdentity?: string } };
    let current: Lease | undefined;
    for (let i = 0; i < 100 && !current?.spec.holderIdentity; i++) {
      await sleep(200);
      current = await client.get<Lease>(leasePath).catch(() => undefined);
    }
    assert.ok(current?.spec.holderIdentity, s.output());
    // Another replica takes the Lease (as after a long partition): renewals now fail.
    await client.put(leasePath, {
      ...current,
      spec: { ...current.spec, holderIdentity: 'other_replica', leaseDurationSeconds: 60 },
    });
    const result = await Promise.race([s.exited, sleep(8000).then(() => undefined)]);
    assert.ok(result, `still running after losing the Lease:\n${s.output()}`);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    // JSON mode at -v=6: one object per line, no duplicate keys, request traces without tokens.
    const lines = parseLogOutput(result.stderr, 'json');
    const lost = lines.find((l) => l.msg === 'leaderelection lost');
    assert.ok(lost?.error, result.stderr);
    assert.ok(
      lines.some(
        (l) => l.msg === 'request' && l.fields['method'] === 'PUT' && l.fields['status'] === 409,
      ) || lines.some((l) => l.msg === 'request' && l.fields['method'] === 'GET'),
      'request traces at -v=6',
    );
    assert.ok(
      lines.some(
        (l) => l.msg === 'request' && l.fields['path'] === '/v1/me' && l.fields['status'] === 200,
      ),
      'Oxide request traces at -v=6',
    );
    assert.ok(!result.stderr.includes(sim.token));
    assert.equal((await client.get<Lease>(leasePath)).spec.holderIdentity, 'other_replica');
  } finally {
    s.child.kill('SIGKILL');
    await s.exited;
    await sim.stop();
  }
});

test('--leader-elect=false: ready without a Lease, SIGTERM exits 0', async () => {
  const sim = await startSimulator({ seed: { project: 'k8s' } });
  const { client, kubeconfig } = await testKube();
  const port = await freePort();
  const s = start(
    [
      '--cloud-provider=oxide',
      `--kubeconfig=${kubeconfig}`,
      '--controllers=cloud-node',
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      '--metrics-plain-http',
    ],
    { OXIDE_HOST: sim.url, OXIDE_TOKEN: sim.token, OXIDE_PROJECT: sim.project },
  );
  try {
    let ready = '';
    for (let i = 0; i < 50 && ready !== 'ok'; i++) {
      await sleep(200);
      ready = await fetch(`http://127.0.0.1:${port}/readyz`)
        .then((r) => r.text())
        .catch(() => '');
    }
    assert.equal(ready, 'ok', s.output());
    const metrics = await (
      await fetch(`http://127.0.0.1:${port}/metrics`, { headers: bearer(client) })
    ).text();
    assert.doesNotMatch(metrics, /leader_election_master_status\{/);
    s.child.kill('SIGTERM');
    const result = await Promise.race([s.exited, sleep(8000).then(() => undefined)]);
    assert.equal(result?.code, 0, s.output());
    assert.doesNotMatch(result.stderr, /acquire leader lease/);
    parseLogOutput(result.stderr, 'text');
  } finally {
    s.child.kill('SIGKILL');
    await s.exited;
    await sim.stop();
  }
});

test('every controller disabled: stays up serving health, as upstream; "-*" is refused (exit 2)', async () => {
  // Upstream's validation takes "-*" as the unknown controller "*"; naming each one is the way.
  const star = await run(['--cloud-provider=oxide', '--controllers=-*']);
  assert.equal(star.code, 2);
  assert.match(star.stderr, /--controllers: unknown controller "\*"/);

  const sim = await startSimulator({ seed: { project: 'k8s' } });
  const { kubeconfig } = await testKube();
  const port = await freePort();
  const s = start(
    [
      '--cloud-provider=oxide',
      `--kubeconfig=${kubeconfig}`,
      '--controllers=-cloud-node,-cloud-node-lifecycle,-service,-route',
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      '--metrics-plain-http',
    ],
    { OXIDE_HOST: sim.url, OXIDE_TOKEN: sim.token, OXIDE_PROJECT: sim.project },
  );
  try {
    let ready = '';
    for (let i = 0; i < 100 && !(ready === 'ok' && /no controller runs/.test(s.output())); i++) {
      await sleep(200);
      ready = await fetch(`http://127.0.0.1:${port}/readyz`)
        .then((r) => r.text())
        .catch(() => '');
    }
    assert.equal(ready, 'ok', s.output());
    const warning = s
      .output()
      .split('\n')
      .find((l) => l.includes('no controller runs'));
    assert.equal(warning === undefined ? undefined : parseKlogText(warning).severity, 'W');
    parseLogOutput(s.output(), 'text');
    // Still running after it said so (it used to exit 0 here), and still healthy.
    assert.equal(s.child.exitCode, null, s.output());
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    s.child.kill('SIGTERM');
    const result = await Promise.race([s.exited, sleep(8000).then(() => undefined)]);
    assert.equal(result?.code, 0, s.output());
  } finally {
    s.child.kill('SIGKILL');
    await s.exited;
    await sim.stop();
  }
});
