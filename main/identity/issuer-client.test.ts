/**
 * The client's side of the identity provider, against a real one (oidc-provider on loopback):
 * the device code shown and confirmed, the browser flow with PKCE and the loopback redirect where
 * the provider has no device endpoint, the refresh grant, and each way a sign-in fails with its code.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PinholeError } from '../../shared/errors.js';
import { SIGN_IN_CLIENT_ID, startIdp, type RunningIdp } from '../../test/support/oidc-provider.js';
import { IssuerClient, type DevicePrompt } from './issuer-client.js';

const ALICE = { id: 'alice', email: 'alice@example.com' };

let idp: RunningIdp;
before(async () => {
  idp = await startIdp([ALICE]);
});
after(() => idp.close());

const client = (issuer = idp.issuer): IssuerClient => new IssuerClient({ issuer, clientId: SIGN_IN_CLIENT_ID });

const codeOf = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PinholeError, `a PinholeError, not ${String(err)}`);
    return err.code;
  }
  assert.fail('expected a refusal');
};

/** Signs in with the device grant; `act` plays the user once the code is shown. */
const deviceSignIn = (act: (prompt: DevicePrompt) => Promise<unknown>, issuer = client()): ReturnType<IssuerClient['signInInteractively']> =>
  issuer.signInInteractively({ onDevicePrompt: (prompt) => void act(prompt) });

const claimsOf = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;

test('the device code is shown with its page; once the user confirms it, an ID token for this client and a refresh token come back; the refresh grant gives new ones', async () => {
  let shown: DevicePrompt | undefined;
  const tokens = await deviceSignIn(async (prompt) => {
    shown = prompt;
    assert.ok(await idp.approve(prompt.userCode, ALICE));
  });
  assert.match(shown?.userCode ?? '', /^[A-Z]{4}-[A-Z]{4}$/);
  assert.equal(shown?.verificationUri, `${idp.issuer}/device`);
  assert.ok((shown?.expiresAt ?? 0) > Date.now());
  const claims = claimsOf(tokens.token);
  assert.equal(claims['aud'], SIGN_IN_CLIENT_ID);
  assert.equal(claims['email'], 'alice@example.com');
  assert.ok(tokens.refreshToken);
  const renewed = await client().refresh(tokens.refreshToken);
  assert.equal(claimsOf(renewed.token)['sub'], 'alice');
  assert.ok(renewed.refreshToken && renewed.refreshToken !== tokens.refreshToken, 'the provider rotates a public client\'s refresh token');
  // The old refresh token was spent by the rotation; the grant ends with the user's session at the provider.
  await idp.endGrants(ALICE);
  assert.equal(await codeOf(client().refresh(renewed.refreshToken)), 'PINHOLE_SIGNIN_REQUIRED');
});

test('a code the user declined at the provider ends the sign-in with PINHOLE_SIGNIN_DENIED', async () => {
  assert.equal(await codeOf(deviceSignIn((prompt) => idp.deny(prompt.userCode))), 'PINHOLE_SIGNIN_DENIED');
});

test('a code nobody confirmed before it expired ends the sign-in with PINHOLE_SIGNIN_CODE_EXPIRED', async () => {
  const hurried = await startIdp([ALICE], 'urn:pinhole:gateway', { deviceCodeTtl: 2 });
  try {
    assert.equal(await codeOf(deviceSignIn(async () => undefined, client(hurried.issuer))), 'PINHOLE_SIGNIN_CODE_EXPIRED');
  } finally {
    await hurried.close();
  }
});

test('a provider that cannot be reached: the sign-in says the identity provider is unreachable', async () => {
  const down = await startIdp([ALICE]);
  await down.close();
  const error = await client(down.issuer)
    .signInInteractively({})
    .then(
      () => assert.fail('expected a refusal'),
      (err: unknown) => err as PinholeError,
    );
  assert.equal(error.code, 'PINHOLE_SIGNIN_ISSUER_UNREACHABLE');
  assert.match(error.message, /could not be reached/);
});

test('without a device endpoint, the browser signs in with PKCE and the provider redirects to the loopback listener', async () => {
  const browserOnly = await startIdp([ALICE], 'urn:pinhole:gateway', { deviceFlow: false });
  try {
    let opened = '';
    const tokens = await client(browserOnly.issuer).signInInteractively({
      openBrowser: (url) => {
        opened = url;
        void browserOnly.browse(url, ALICE);
      },
    });
    const params = new URL(opened).searchParams;
    assert.equal(params.get('code_challenge_method'), 'S256');
    assert.match(params.get('redirect_uri') ?? '', /^http:\/\/127\.0\.0\.1:\d+\/pinhole\/signed-in$/);
    assert.equal(claimsOf(tokens.token)['email'], 'alice@example.com');
    assert.ok(tokens.refreshToken);
  } finally {
    await browserOnly.close();
  }
});
