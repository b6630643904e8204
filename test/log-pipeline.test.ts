// The log as an operator's pipeline reads it: the CCM process (src/main.ts) runs against the test
// apiserver and the Oxide simulator at -v=6, leads, initializes a Node and stops on SIGTERM, once
// per --logging-format. Every line it writes must parse (text: klog's header and key=value pairs
// without a repeated key; JSON: one object per line, no duplicate keys, klog's ts/msg/v), nothing
// may go to stdout, the token must not appear, and a message logged in both runs must carry the
// same keys in both formats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSimulator } from '../sim/server.ts';
import { spawnCcm } from './harness/ccm-child.ts';
import { parseLogOutput } from './harness/klog.ts';
import { testKube, uniqueName } from './harness/kube.ts';
import { createKubeletNode, deleteNode, getNode } from './harness/nodes.ts';

interface Output {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function runOnce(format: 'text' | 'json'): Promise<Output & { token: string }> {
  const nodeName = uniqueName(`logs-${format}`);
  const sim = await startSimulator({ seed: { project: 'k8s', instances: [{ name: nodeName }] } });
  const { client, kubeconfig } = await testKube();
  await createKubeletNode(client, nodeName);
  const ccm = spawnCcm(
    [
      '--cloud-provider=oxide',
      `--kubeconfig=${kubeconfig}`,
      // Only the node controller: the apiserver is shared with other test files.
      '--controllers=cloud-node',
      '--leader-elect-resource-namespace=default',
      `--leader-elect-resource-name=${uniqueName('logs')}`,
      '--leader-elect-retry-period=500ms',
      '--secure-port=0',
      `--logging-format=${format}`,
      '-v=6',
      '--profiling',
    ],
    sim,
  );
  const { child, exited } = ccm;
  try {
    let initialized = false;
    for (let i = 0; i < 150 && !initialized; i++) {
      await sleep(200);
      initialized = Boolean((await getNode(client, nodeName)).spec?.providerID);
    }
    assert.ok(initialized, `Node not initialized; log:\n${ccm.stderr()}`);
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') assert.fail(`no exit after SIGTERM; log:\n${ccm.stderr()}`);
    return { code, stdout: ccm.stdout(), stderr: ccm.stderr(), token: sim.token };
  } finally {
    child.kill('SIGKILL');
    await exited;
    await sim.stop();
    await deleteNode(client, nodeName);
  }
}

test('every line of both log formats parses; same keys in both; no token', async () => {
  const runs = { text: await runOnce('text'), json: await runOnce('json') };
  const keys = new Map<string, Record<string, string>>();
  for (const format of ['text', 'json'] as const) {
    const run = runs[format];
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '', 'klog writes to stderr');
    assert.ok(!run.stderr.includes(run.token), 'token in the log');
    const lines = parseLogOutput(run.stderr, format);
    const sample = run.stderr.split('\n').slice(1, 3).join('\n');
    console.log(`${format}: ${lines.length} lines, all parsed; e.g.\n${sample}`);
    assert.ok(!lines.some((l) => l.error), `${format}: error lines in a clean run`);
    if (format === 'text') {
      // A clean start and SIGTERM warn only about the ignored flag we passed.
      const warnings = run.stderr.split('\n').filter((l) => l.startsWith('W'));
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0] ?? '', /flag --profiling is accepted/);
    }
    const msgs = lines.map((l) => l.msg);
    for (const want of ['starting', 'successfully acquired lease', 'released leader lease'])
      assert.ok(msgs.includes(want), `${format}: no "${want}" line`);
    // -v=6: request traces for both APIs.
    const requests = lines.filter((l) => l.msg === 'request');
    assert.ok(requests.some((l) => l.fields['path'] === '/v1/me' && l.fields['status'] === 200));
    assert.ok(
      requests.some(
        (l) =>
          String(l.fields['path']).startsWith('/api/v1/nodes') &&
          l.fields['method'] === 'GET' &&
          l.fields['status'] === 200,
      ),
    );
    assert.ok(requests.some((l) => String(l.fields['path']).includes('watch=true')));
    for (const l of lines) {
      const sorted = Object.keys(l.fields).sort().join(',');
      const seen = keys.get(l.msg) ?? {};
      seen[format] ??= sorted;
      keys.set(l.msg, seen);
    }
  }
  // Messages logged once per run with fixed fields carry the same keys in both formats.
  for (const msg of ['starting', 'successfully acquired lease', 'released leader lease']) {
    const k = keys.get(msg);
    assert.equal(k?.['text'], k?.['json'], msg);
  }
});
