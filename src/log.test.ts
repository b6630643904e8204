import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { parseJsonStrict, parseKlogText, parseLogOutput } from '../test/harness/klog.ts';
import { createLogger, setProcessLogger, traceRequest } from './log.ts';
import type { LoggerOptions, LoggingFormat } from './log.ts';

// 2026-12-03T09:31:32.123456Z
const NOW = Date.UTC(2026, 11, 3, 9, 31, 32, 123) + 0.456;

function capture(format: LoggingFormat, options: Partial<LoggerOptions> = {}) {
  const err = new PassThrough();
  const out = new PassThrough();
  let errText = '';
  let outText = '';
  err.on('data', (d: Buffer) => (errText += d.toString()));
  out.on('data', (d: Buffer) => (outText += d.toString()));
  const log = createLogger({ format, errorStream: err, pid: 12345, now: () => NOW, ...options });
  return { log, err: () => errText, out: () => outText, infoStream: out };
}

test('text: the klog header, a quoted message, key=value pairs', () => {
  const c = capture('text');
  c.log.info({ service: 'default/web', port: 80, ok: true, nodes: ['a', 'b'] }, 'service synced');
  c.log.warn('careful');
  c.log.error({ err: new Error('boom') }, 'failed');
  assert.equal(
    c.err(),
    [
      'I1203 09:31:32.123456   12345 ccm:0] "service synced" service="default/web" port=80 ok=true nodes=["a","b"]',
      'W1203 09:31:32.123456   12345 ccm:0] "careful"',
      'E1203 09:31:32.123456   12345 ccm:0] "failed" err="boom"',
      '',
    ].join('\n'),
  );
  for (const line of c.err().trim().split('\n')) parseKlogText(line);
});

test('json: klog schema (ts in ms, logger, msg, v on non-errors), one object per line', () => {
  const c = capture('json');
  c.log.info({ service: 'default/web' }, 'service synced');
  c.log.debug('hidden at -v=0');
  c.log.error({ err: 'boom' }, 'failed');
  const lines = c.err().trim().split('\n');
  assert.equal(lines.length, 2);
  assert.deepEqual(parseJsonStrict(lines[0] ?? ''), {
    ts: 1796290292123.456,
    logger: 'ccm',
    msg: 'service synced',
    v: 0,
    service: 'default/web',
  });
  assert.deepEqual(parseJsonStrict(lines[1] ?? ''), {
    ts: 1796290292123.456,
    logger: 'ccm',
    msg: 'failed',
    err: 'boom',
  });
});

test('a key bound by a child and given again by the call is written once, in both formats', () => {
  for (const format of ['text', 'json'] as const) {
    const c = capture(format);
    const child = c.log.child({ controller: 'service-lb-controller' });
    child.info({ controller: 'service-lb-controller', key: 'a/b' }, 'reconcile');
    child.child({ controller: 'service-lb-controller' }).warn({ v: 3, msg: 'x' }, 'reserved');
    const parsed = parseLogOutput(c.err(), format);
    assert.deepEqual(parsed[0]?.fields, { controller: 'service-lb-controller', key: 'a/b' });
    assert.deepEqual(parsed[1]?.fields, { controller: 'service-lb-controller', v_: 3, msg_: 'x' });
    assert.match(
      c.err(),
      format === 'text' ? / service-lb-controller:0\] / : /"logger":"service-lb-controller"/,
    );
  }
});

test('-v: 0 always, v(2) steady state, debug 4, trace 5', () => {
  const seen = (verbosity: number): string[] => {
    const c = capture('json', { verbosity });
    c.log.info('info');
    c.log.v(2).info('v2');
    c.log.debug('debug');
    c.log.trace('trace');
    c.log.error('error');
    return c
      .err()
      .trim()
      .split('\n')
      .map(
        (l) =>
          `${(JSON.parse(l) as { msg: string; v?: number }).msg}:${(JSON.parse(l) as { v?: number }).v ?? '-'}`,
      );
  };
  assert.deepEqual(seen(0), ['info:0', 'error:-']);
  assert.deepEqual(seen(2), ['info:0', 'v2:2', 'error:-']);
  assert.deepEqual(seen(4), ['info:0', 'v2:2', 'debug:4', 'error:-']);
  assert.deepEqual(seen(5), ['info:0', 'v2:2', 'debug:4', 'trace:5', 'error:-']);
  assert.equal(capture('text', { verbosity: 4 }).log.v(5).enabled, false);
});

test('split stream: errors to the error stream, the rest to the info stream', () => {
  const c = capture('json');
  const split = createLogger({
    format: 'json',
    errorStream: new PassThrough(),
    infoStream: c.infoStream,
  });
  split.info('to info');
  split.warn('to info too');
  assert.equal(c.out().trim().split('\n').length, 2);
});

test('secrets: token-like keys redacted at any depth, registered secrets scrubbed anywhere', () => {
  for (const format of ['text', 'json'] as const) {
    const token = 'oxide-token-SECRET-1234';
    const c = capture(format, { secrets: [token] });
    c.log.info(
      { token, config: { oxideToken: token, headers: { authorization: `Bearer ${token}` } } },
      'settings',
    );
    c.log.error(`request failed with Bearer ${token}`);
    c.log.info({ url: `https://x/?t=${token}` }, 'url');
    assert.ok(!c.err().includes(token), c.err());
    assert.equal(c.err().match(/\[REDACTED\]/g)?.length, 5, c.err());
    parseLogOutput(c.err(), format);
  }
});

test('request traces: V(6) only, named by client, no headers', () => {
  const c = capture('text', { verbosity: 6 });
  setProcessLogger(c.log);
  try {
    traceRequest({
      client: 'kube-client',
      method: 'GET',
      host: '127.0.0.1:6443',
      path: '/api/v1/nodes?limit=500',
      status: 200,
      milliseconds: 1.23456,
    });
  } finally {
    setProcessLogger(undefined);
  }
  assert.equal(
    c.err(),
    'I1203 09:31:32.123456   12345 kube-client:0] "request" method="GET" host="127.0.0.1:6443" path="/api/v1/nodes?limit=500" status=200 milliseconds=1.235\n',
  );
  const quiet = capture('text', { verbosity: 5 });
  setProcessLogger(quiet.log);
  try {
    traceRequest({
      client: 'oxide-client',
      method: 'GET',
      host: 'h',
      path: '/',
      status: 200,
      milliseconds: 1,
    });
  } finally {
    setProcessLogger(undefined);
  }
  assert.equal(quiet.err(), '');
});

test('one entry is one line: newlines and Unicode line separators are escaped', () => {
  for (const format of ['text', 'json'] as const) {
    const c = capture(format);
    c.log.error({ detail: 'a\nb\u2028c\u0085d' }, 'multi\r\nline');
    assert.equal(c.err().split(/\r|\n|\u0085|\u2028|\u2029/).length, 2, c.err());
    const [line] = parseLogOutput(c.err(), format);
    assert.equal(line?.msg, 'multi\r\nline');
    assert.equal(line?.fields['detail'], 'a\nb\u2028c\u0085d');
  }
});

test('strict JSON parser rejects duplicate keys (what the old logs had)', () => {
  assert.throws(() => parseJsonStrict('{"controller":"a","controller":"a"}'), /duplicate key/);
  assert.throws(() => parseKlogText('I1203 09:31:32.123456 1 x:0] "m" a=1 a=2'), /duplicate key/);
});

test('no value makes a line unbounded: message and string values cut, secrets scrubbed first', () => {
  for (const format of ['text', 'json'] as const) {
    const token = 'oxide-token-SECRET-1234';
    const c = capture(format, { secrets: [token] });
    const host = `https://${'a'.repeat(20_000_000)}.example`;
    // A token placed across the cut: scrubbed before cutting, so no prefix of it survives.
    const straddling = `${'b'.repeat(4090)}${token}`;
    c.log.info({ host, nested: { list: [host] }, straddling }, `bad ${host}`);
    c.log.error({ err: new Error(`cannot reach ${host}`) }, 'failed');
    const lines = c.err().trimEnd().split('\n');
    assert.equal(lines.length, 2);
    for (const line of lines) assert.ok(line.length < 5 * 4096, `${line.length} characters`);
    assert.ok(c.err().includes('(cut from 20000016 characters)'), c.err().slice(0, 300));
    assert.ok(!c.err().includes('oxide-tok'), 'a prefix of the token was left by the cut');
    parseLogOutput(c.err(), format);
  }
});
