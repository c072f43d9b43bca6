import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { SignJWT, generateKeyPair } from 'jose';
import { startIdp, type RunningIdp } from '../../test/support/oidc-provider.js';
import { IdentityVerifier } from './issuers.js';
import { IssuerSettingsSchema } from './settings.js';

const ALICE = { id: 'alice', email: 'alice@example.com', groups: ['staff'] };
const BOB = { id: 'bob', email: 'bob@elsewhere.org', groups: ['contractors'] };

const verifierFor = (idp: RunningIdp, extra: Record<string, unknown> = {}, skew = 30): IdentityVerifier =>
  new IdentityVerifier([IssuerSettingsSchema.parse({ issuer: idp.issuer, audience: idp.audience, ...extra })], skew);

/** A loopback port nothing listens on (taken, then released). */
const closedPort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
};

test('a real provider: its token is accepted and names the subject and verified e-mail; tokens failing a check get their own code', async (t) => {
  const idp = await startIdp([ALICE, BOB]);
  t.after(() => idp.close());
  const verifier = verifierFor(idp);
  assert.deepEqual(await verifier.verify(await idp.token(ALICE)), { subject: 'alice', issuer: idp.issuer, email: 'alice@example.com' });

  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: idp.issuer, aud: idp.audience, sub: 'alice' };
  await assert.rejects(verifier.verify(await idp.sign({ ...claims, iat: now - 7200, exp: now - 3600 })), { code: 'PINHOLE_IDENTITY_TOKEN_EXPIRED' });
  // Within the clock skew an expiry is tolerated; past it, not.
  assert.equal((await verifier.verify(await idp.sign({ ...claims, exp: now - 10 }))).subject, 'alice');
  await assert.rejects(verifier.verify(await idp.sign({ ...claims, exp: now - 60 })), { code: 'PINHOLE_IDENTITY_TOKEN_EXPIRED' });
  await assert.rejects(verifier.verify(await idp.sign({ ...claims, aud: 'another-app', exp: now + 600 })), { code: 'PINHOLE_IDENTITY_AUDIENCE_MISMATCH' });
  await assert.rejects(verifier.verify(await idp.sign({ ...claims, iss: 'https://evil.example.net', exp: now + 600 })), { code: 'PINHOLE_IDENTITY_ISSUER_UNKNOWN' });
  // Forged: the provider's kid, another key.
  const { privateKey } = await generateKeyPair('RS256');
  const forged = await new SignJWT({ ...claims, exp: now + 600 }).setProtectedHeader({ alg: 'RS256', kid: 'test-key' }).sign(privateKey);
  await assert.rejects(verifier.verify(forged), { code: 'PINHOLE_IDENTITY_TOKEN_INVALID' });
  // HS256 with the public key's text as a secret, or no signature: never.
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, exp: now + 600 })).toString('base64url')}.`;
  await assert.rejects(verifier.verify(none), { code: 'PINHOLE_IDENTITY_TOKEN_INVALID' });
  await assert.rejects(verifier.verify('not a token'), { code: 'PINHOLE_IDENTITY_TOKEN_INVALID' });
  await assert.rejects(verifier.verify(await idp.sign({ iss: idp.issuer, aud: idp.audience, exp: now + 600 })), { code: 'PINHOLE_IDENTITY_TOKEN_INVALID' }, 'no subject');
});

test('allowed groups and e-mail domains: a user outside them is PINHOLE_IDENTITY_NOT_ALLOWED', async (t) => {
  const idp = await startIdp([ALICE, BOB, { id: 'carol' }]);
  t.after(() => idp.close());
  const byGroup = verifierFor(idp, { allowedGroups: ['staff'] });
  assert.equal((await byGroup.verify(await idp.token(ALICE))).email, 'alice@example.com');
  await assert.rejects(byGroup.verify(await idp.token(BOB)), { code: 'PINHOLE_IDENTITY_NOT_ALLOWED' });
  const byDomain = verifierFor(idp, { allowedDomains: ['Example.com'] });
  assert.equal((await byDomain.verify(await idp.token(ALICE))).subject, 'alice');
  await assert.rejects(byDomain.verify(await idp.token(BOB)), { code: 'PINHOLE_IDENTITY_NOT_ALLOWED' });
  await assert.rejects(byDomain.verify(await idp.token({ id: 'carol' })), { code: 'PINHOLE_IDENTITY_NOT_ALLOWED' }, 'no e-mail at all');
});

test('an issuer that cannot be reached is PINHOLE_IDENTITY_ISSUER_UNREACHABLE; once its keys are fetched they keep verifying while it is down', async (t) => {
  const idp = await startIdp([ALICE]);
  t.after(() => idp.close());
  const port = await closedPort();
  const down = `http://127.0.0.1:${port}`;
  const verifier = new IdentityVerifier(
    [IssuerSettingsSchema.parse({ issuer: idp.issuer, audience: idp.audience }), IssuerSettingsSchema.parse({ issuer: down, audience: idp.audience })],
    30,
  );
  const now = Math.floor(Date.now() / 1000);
  await assert.rejects(verifier.verify(await idp.sign({ iss: down, aud: idp.audience, sub: 'x', exp: now + 600 })), { code: 'PINHOLE_IDENTITY_ISSUER_UNREACHABLE' });
  const token = await idp.token(ALICE);
  assert.equal((await verifier.verify(token)).subject, 'alice');
  await idp.close();
  assert.equal((await verifier.verify(token)).subject, 'alice', 'cached keys');
});
