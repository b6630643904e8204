// Authentication rules that need no network: the union's order and outcomes, and how a front
// proxy's headers become a user (upstream's headerrequest semantics).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { makeCa, makeClientCert } from '../../test/harness/certs.ts';
import { RequestHeaderAuthenticator, authenticate } from './authn.ts';
import type { AuthOutcome, Authenticator, RequestHeaderConfig } from './authn.ts';

const fixed = (outcome: AuthOutcome): Authenticator => ({
  authenticate: () => Promise.resolve(outcome),
});
const user = (name: string, groups: string[] = []) => ({
  user: { name, uid: '', groups, extra: {} },
});

test('union: first user wins, system:authenticated added once, errors only if nobody succeeds', async () => {
  assert.deepEqual(await authenticate([], { headers: {} }), {
    user: { name: 'system:anonymous', uid: '', groups: ['system:unauthenticated'], extra: {} },
  });
  assert.deepEqual(
    await authenticate([fixed(undefined), fixed({ error: 'bad cert' }), fixed(user('a', ['g']))], {
      headers: {},
    }),
    user('a', ['g', 'system:authenticated']),
  );
  assert.deepEqual(
    await authenticate([fixed(user('b', ['system:authenticated']))], { headers: {} }),
    user('b', ['system:authenticated']),
  );
  assert.deepEqual(
    await authenticate(
      [fixed({ error: 'x' }), fixed(undefined), fixed({ error: 'y', unavailable: true })],
      {
        headers: {},
      },
    ),
    { error: 'x; y', unavailable: true },
  );
});

test('request header: user, uid, every group value, extras with unescaped keys; the order of header names counts', async () => {
  const ca = await makeCa('front-proxy-ca');
  const proxy = await makeClientCert(ca, 'front-proxy-client');
  const config: RequestHeaderConfig = {
    allowedNames: ['front-proxy-client'],
    usernameHeaders: ['X-Remote-User', 'X-Other-User'],
    uidHeaders: ['X-Remote-Uid'],
    groupHeaders: ['X-Remote-Group'],
    extraHeaderPrefixes: ['X-Remote-Extra-'],
  };
  const auth = new RequestHeaderAuthenticator(() => config);
  // As the TLS layer hands it over: verified, ending in the request-header bundle.
  const peer = { leaf: new X509Certificate(proxy.cert), untrusted: () => undefined, stale: false };
  assert.deepEqual(
    await auth.authenticate({
      peer,
      headers: {
        'x-other-user': ['second'],
        'x-remote-user': ['', 'first'],
        'x-remote-uid': ['u-1'],
        'x-remote-group': ['g1', 'g2'],
        'x-remote-extra-scopes': ['a', 'b'],
        'x-remote-extra-example.com%2fteam': ['blue'],
      },
    }),
    {
      user: {
        // Go's Header.Get: only the first X-Remote-User value counts, and it is empty.
        name: 'second',
        uid: 'u-1',
        groups: ['g1', 'g2'],
        extra: { scopes: ['a', 'b'], 'example.com/team': ['blue'] },
      },
    },
  );
  assert.equal(
    await auth.authenticate({ peer, headers: { 'x-remote-group': ['system:masters'] } }),
    undefined,
    'no user header: no opinion',
  );
  assert.equal(await auth.authenticate({ headers: { 'x-remote-user': ['x'] } }), undefined);
});
