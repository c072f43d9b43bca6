import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { lifetimeOf, type ExchangedCredential } from './credential-exchange.js';
import { SignedInCredential, type SignedInCredentialOptions } from './signed-in-credential.js';

const logger = createLogger({ name: 'test', level: 'silent' });
// The renewal timer is unref'd (it must not keep a stopping Pinhole alive): the test holds the loop open itself.
const holdLoop = setInterval(() => undefined, 60_000);
after(() => clearInterval(holdLoop));
const issued = (credential: string, lifetimeMs = 60_000): ExchangedCredential => ({ credential, user: 'alice@example.com', lifetimeMs });

const options = (over: Partial<SignedInCredentialOptions>): SignedInCredentialOptions => ({
  refresh: async (token) => ({ token: `id-for-${token}`, refreshToken: `${token}+` }),
  exchange: async (token) => issued(`cred-${token}`),
  saveRefreshToken: async () => undefined,
  logger,
  ...over,
});

test('renewal at its time: the refresh token is rotated and stored, new tunnels get the new credential', async () => {
  const saved: string[] = [];
  const credential = new SignedInCredential(issued('first', 400), 'rt', options({ saveRefreshToken: async (t) => void saved.push(t), renewAt: 0.25 }));
  assert.equal(credential.header(), 'Bearer first');
  await once(credential, 'renewed');
  assert.equal(credential.header(), 'Bearer cred-id-for-rt');
  assert.deepEqual(saved, ['rt+']);
  credential.stop();
});

test('the provider unreachable: the current credential keeps serving and the renewal is tried again', async () => {
  let calls = 0;
  const credential = new SignedInCredential(
    issued('first', 60_000),
    'rt',
    options({
      refresh: async (token) => {
        calls += 1;
        if (calls === 1) throw new PinholeError('PINHOLE_SIGNIN_ISSUER_UNREACHABLE');
        return { token: `id-${token}` };
      },
      retryMs: 1,
      renewAt: 0,
    }),
  );
  await once(credential, 'renewed');
  assert.equal(calls, 2);
  assert.equal(credential.header(), 'Bearer cred-id-rt');
  credential.stop();
});

test('a revoked credential ends it: header() refuses with the code, no renewal follows; a refresh token the provider refuses ends it too', async () => {
  const credential = new SignedInCredential(issued('first'), 'rt', options({}));
  const ended = once(credential, 'ended');
  credential.refused('PINHOLE_CREDENTIAL_REVOKED');
  const [error] = (await ended) as [PinholeError];
  assert.equal(error.code, 'PINHOLE_CREDENTIAL_REVOKED');
  assert.throws(() => credential.header(), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_CREDENTIAL_REVOKED');

  const refusing = new SignedInCredential(issued('first', 100), 'rt', options({ refresh: async () => Promise.reject(new PinholeError('PINHOLE_SIGNIN_REQUIRED')), renewAt: 0 }));
  const [why] = (await once(refusing, 'ended')) as [PinholeError];
  assert.equal(why.code, 'PINHOLE_SIGNIN_REQUIRED');
});

test('the stored refresh token is read before a renewal (another Pinhole may have rotated it)', async () => {
  const used: string[] = [];
  const credential = new SignedInCredential(
    issued('first', 100),
    'old',
    options({ loadRefreshToken: async () => 'rotated-elsewhere', refresh: async (t) => (used.push(t), { token: 'id' }), renewAt: 0 }),
  );
  await once(credential, 'renewed');
  assert.deepEqual(used, ['rotated-elsewhere']);
  credential.stop();
});

test("a credential's lifetime is measured on the gateway's clock: a client clock ten minutes off still renews in time", () => {
  const gatewayNow = Date.parse('2026-12-08T01:00:00Z');
  const expiresAt = new Date(gatewayNow + 3_600_000).toISOString();
  const date = new Date(gatewayNow).toUTCString();
  const skewedClient = gatewayNow + 600_000;
  assert.equal(lifetimeOf(expiresAt, date, skewedClient), 3_599_000);
  // Without a Date header, our clock is all there is.
  assert.equal(lifetimeOf(expiresAt, undefined, skewedClient), 3_000_000);
  assert.equal(lifetimeOf(new Date(gatewayNow - 1).toISOString(), date, gatewayNow), 0);
});
