// `make demo ONCE=1` as a new user runs it: the whole scenario in a child process with its own
// control plane, simulator and CCM. It must pass, show what the CCM did, and leave nothing behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { repoRoot } from './harness/testbin.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runDemo(args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${repoRoot}/node_modules/.bin/node`, ['hack/demo.ts', ...args], {
      cwd: repoRoot,
      env: { ...process.env, ONCE: '', NO_COLOR: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // SIGTERM first: the demo's own cleanup is part of what is under test.
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The text between a `== title` heading and the next heading. */
function section(out: string, title: string): string {
  const start = out.indexOf(`== ${title}`);
  assert.ok(start >= 0, `no "${title}" section in:\n${out}`);
  const end = out.indexOf('\n== ', start + 1);
  return out.slice(start, end < 0 ? undefined : end);
}

/** Cleanup the demo reports, checked for real: temp dirs gone, no process still using them. */
function assertCleanedUp(out: string): void {
  const removed = /removed (\S+) and (\S+)/.exec(out);
  assert.ok(removed, `no cleanup line in:\n${out}`);
  const dirs = [removed[1] ?? '', removed[2] ?? ''];
  for (const dir of dirs) assert.equal(existsSync(dir), false, `${dir} still exists`);
  const ccmPid = Number(/CCM \(pid (\d+)\) stopped/.exec(out)?.[1]);
  assert.ok(ccmPid > 0, `no CCM pid in:\n${out}`);
  assert.throws(() => process.kill(ccmPid, 0), /ESRCH/, `CCM pid ${ccmPid} still alive`);
  // etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok carry the control
  // plane's dir in their arguments.
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    for (const dir of dirs) assert.ok(!cmdline.includes(dir), `pid ${pid} still uses ${dir}`);
  }
}

test('make demo ONCE=1: Nodes initialized and Ready (real KCM + kwok), Services get floating IPs, everything cleaned up', async () => {
  const run = await runDemo(['--once', '--timeout', '45'], 80_000);
  const out = run.stdout;
  assert.equal(run.code, 0, `${out}\n${run.stderr}`);
  assert.ok(!out.includes('\u001b['), 'no colours when stdout is not a terminal');

  const before = section(out, 'Nodes BEFORE');
  assert.doesNotMatch(before, /oxide:\/\//);
  assert.equal(before.match(/node\.cloudprovider\.kubernetes\.io\/uninitialized/g)?.length, 3);

  const after = section(out, 'Nodes AFTER');
  for (const node of ['k8s-control-plane-0', 'k8s-worker-0', 'k8s-worker-1']) {
    assert.match(after, new RegExp(`^${node} +oxide://[0-9a-f-]{36} +\\d+-\\d+ +Hostname=`, 'm'));
  }
  assert.doesNotMatch(after, /uninitialized/);
  // kwok posted Ready and kube-controller-manager removed node.kubernetes.io/not-ready.
  assert.doesNotMatch(after, /not-ready/);
  for (const node of ['k8s-control-plane-0', 'k8s-worker-0', 'k8s-worker-1']) {
    assert.match(after, new RegExp(`^${node} .* - +Ready$`, 'm'));
  }
  assert.match(
    after,
    /^k8s-worker-1 .*ExternalIP=198\.51\.100\.\d+/m,
    'ephemeral IP as ExternalIP',
  );

  const services = section(out, 'LoadBalancer Services');
  assert.match(
    services,
    /^hello +IPv4 +- +198\.51\.100\.\d+ +Proxy +kubernetes-default-hello +k8s-worker-\d/m,
  );
  // A v6 floating IP only goes to the dual-stack worker (Oxide NATs to the primary NIC).
  assert.match(
    services,
    /^hello-v6 .* 2001:db8:100::[0-9a-f]+ +Proxy +kubernetes-default-hello-v6 +k8s-worker-0/m,
  );
  assert.match(
    services,
    /2001:db8:100::[0-9a-f]+ +Proxy +kubernetes-default-hello-dual-IPv6 +k8s-worker-0/,
  );

  assert.match(section(out, 'Oxide API calls'), /^floating_ip_create +4$/m);
  assert.match(out, /demo OK/);
  assertCleanedUp(out);
});

test('make demo ONCE=1 fails clearly when the deadline passes, and still cleans up', async () => {
  const run = await runDemo(['--once', '--timeout', '0.5'], 60_000);
  assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stderr, /demo FAILED: timed out waiting for the CCM to become ready/);
  assertCleanedUp(run.stdout);
});
