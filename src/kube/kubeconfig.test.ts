import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BROKEN_KUBECONFIGS, brokenKubeconfig } from '../../test/harness/kubeconfigs.ts';
import { Credentials, inClusterConfig, loadKubeconfig } from './kubeconfig.ts';

const dir = (): string => mkdtempSync(join(tmpdir(), 'kubeconfig-'));

function kubeconfig(d: string, user: Record<string, unknown>, cluster: Record<string, unknown>) {
  const path = join(d, 'config');
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: b',
      'contexts:',
      '- name: a',
      '  context: {cluster: other, user: other}',
      '- name: b',
      '  context: {cluster: c, user: u}',
      'clusters:',
      `- name: c`,
      `  cluster: ${JSON.stringify(cluster)}`,
      'users:',
      `- name: u`,
      `  user: ${JSON.stringify(user)}`,
    ].join('\n'),
  );
  return path;
}

test('kubeconfig: current context; files relative to the kubeconfig, data fields base64', () => {
  const d = dir();
  writeFileSync(join(d, 'ca.pem'), 'CA');
  writeFileSync(join(d, 'key.pem'), 'KEY');
  const path = kubeconfig(
    d,
    { 'client-certificate-data': Buffer.from('CERT').toString('base64'), 'client-key': 'key.pem' },
    { server: 'https://10.0.0.1:6443/', 'certificate-authority': 'ca.pem', 'tls-server-name': 'k' },
  );
  const c = loadKubeconfig(path);
  assert.equal(c.server, 'https://10.0.0.1:6443');
  assert.equal(c.ca?.toString(), 'CA');
  assert.equal(c.cert?.toString(), 'CERT');
  assert.equal(c.key?.toString(), 'KEY');
  assert.equal(c.tlsServerName, 'k');
  assert.equal(c.insecureSkipTLSVerify, undefined);
  assert.equal(new Credentials(c).authorization(), undefined);
});

test('kubeconfig: token, basic auth, insecure; exec and auth providers are refused', () => {
  const d = dir();
  const token = loadKubeconfig(
    kubeconfig(d, { token: 't0k' }, { server: 'https://h', 'insecure-skip-tls-verify': true }),
  );
  assert.equal(token.insecureSkipTLSVerify, true);
  assert.equal(new Credentials(token).authorization(), 'Bearer t0k');
  const basic = loadKubeconfig(kubeconfig(d, { username: 'a', password: 'b' }, { server: 'x' }));
  assert.equal(new Credentials(basic).authorization(), `Basic ${btoa('a:b')}`);
  assert.throws(
    () => loadKubeconfig(kubeconfig(d, { exec: { command: 'aws' } }, { server: 'https://h' })),
    /exec credential plugin, which this CCM does not support/,
  );
  assert.throws(
    () => loadKubeconfig(kubeconfig(d, { 'auth-provider': { name: 'oidc' } }, { server: 'h' })),
    /auth provider/,
  );
  assert.throws(() => loadKubeconfig(kubeconfig(d, {}, {})), /cluster has no server/);
});

test('a kubeconfig that is not YAML: the position and error code, never a line of it', async (t) => {
  const d = dir();
  // The library would print a warning's code frame (the tag's line) to stderr on its own.
  const warnings: unknown[] = [];
  const onWarning = (w: unknown): number => warnings.push(w);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  for (const [name, { secret, lines }] of Object.entries(BROKEN_KUBECONFIGS)) {
    const path = join(d, 'config');
    writeFileSync(path, brokenKubeconfig(lines));
    let message = '';
    try {
      const c = loadKubeconfig(path);
      message = `loaded: token ${c.token === undefined ? 'unset' : 'set'}`;
    } catch (err) {
      message = err instanceof Error ? err.message : String(err);
    }
    assert.ok(!message.includes(secret), `${name}: ${message}`);
    for (const line of lines)
      assert.ok(!message.includes(line.trim()), `${name} quotes a line: ${message}`);
    if (name.startsWith('token with an unknown tag')) continue;
    assert.match(
      message,
      new RegExp(`^kubeconfig ${path}: not valid YAML at line \\d+, column \\d+ \\([A-Z_]+\\)$`),
      name,
    );
  }
  // process.emitWarning delivers on the next tick.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(warnings, []);
  writeFileSync(join(d, 'list'), '- a\n- b\n');
  assert.throws(() => loadKubeconfig(join(d, 'list')), /: not a YAML mapping$/);
});

test('in-cluster: service host and port, mounted CA; the token file is read again after a minute', () => {
  const d = dir();
  writeFileSync(join(d, 'token'), 'first\n');
  writeFileSync(join(d, 'ca.crt'), 'CA');
  const c = inClusterConfig(
    { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
    d,
  );
  assert.equal(c.server, 'https://[fd00::1]:443');
  assert.equal(c.ca?.toString(), 'CA');
  const creds = new Credentials(c);
  assert.equal(creds.authorization(0), 'Bearer first');
  writeFileSync(join(d, 'token'), 'rotated\n');
  assert.equal(creds.authorization(59_000), 'Bearer first');
  assert.equal(creds.authorization(60_000), 'Bearer rotated');
  assert.throws(() => inClusterConfig({}, d), /not running in a cluster/);
});
