import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SignJWT, decodeProtectedHeader } from 'jose';
import { createLogger } from '../../shared/log.js';
import { parseCredentialKeys, rotateCredentialKeys } from './credential-keys.js';
import { TunnelCredentials } from './credentials.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const ALICE = { subject: 'alice-sub', issuer: 'https://idp.example.com', email: 'alice@example.com' };

const keysDir = async (t: { after: (fn: () => Promise<void>) => void }): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-ck-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

test('a credential-keys file: base64 keys of 32 bytes one a line, comments ignored; anything else names its line', () => {
  const [a, b] = [randomBytes(32), randomBytes(32)];
  const keys = parseCredentialKeys(`# comment\n\n${a.toString('base64')}\r\n${b.toString('base64')}\n`);
  assert.deepEqual(keys.map((k) => Buffer.from(k.secret)), [a, b]);
  assert.notEqual(keys[0]?.kid, keys[1]?.kid);
  assert.throws(() => parseCredentialKeys(`${a.toString('base64')}\n${randomBytes(48).toString('base64')}\n`), { code: 'PINHOLE_FILE_INVALID', message: /line 2: a key must be 32 bytes/ });
  assert.throws(() => parseCredentialKeys('# nothing\n'), { code: 'PINHOLE_FILE_INVALID', message: /holds no key/ });
});

test('rotate puts a new key first, keeps older ones up to --keep, mode 0600', async (t) => {
  const file = join(await keysDir(t), 'credential-keys');
  const first = await rotateCredentialKeys(file);
  const second = await rotateCredentialKeys(file, 2);
  assert.equal(second.length, 2);
  assert.equal(second[1]?.kid, first[0]?.kid);
  assert.equal((await rotateCredentialKeys(file, 2)).length, 2);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal(parseCredentialKeys(await readFile(file, 'utf8')).length, 2);
});

test('a credential issued by one gateway verifies on another holding the same file; it names the subject, e-mail and expiry', async (t) => {
  const file = join(await keysDir(t), 'credential-keys');
  await rotateCredentialKeys(file);
  const one = new TunnelCredentials(file, 3600, 30, logger);
  const other = new TunnelCredentials(file, 3600, 30, logger);
  const now = Date.now();
  const issued = await one.issue(ALICE, now);
  assert.equal(issued.expiresAt, (Math.floor(now / 1000) + 3600) * 1000);
  const verified = await other.verify(issued.credential, now);
  assert.deepEqual(verified, { ...ALICE, user: 'alice@example.com', expiresAt: issued.expiresAt });
  const withoutEmail = await other.verify((await one.issue({ subject: 's2', issuer: ALICE.issuer }, now)).credential, now);
  assert.equal(withoutEmail.user, 's2');
});

test('an expired credential is PINHOLE_CREDENTIAL_EXPIRED naming its user; within the clock skew it still verifies', async (t) => {
  const file = join(await keysDir(t), 'credential-keys');
  await rotateCredentialKeys(file);
  const credentials = new TunnelCredentials(file, 3600, 30, logger);
  const now = Date.now();
  const { credential, expiresAt } = await credentials.issue(ALICE, now);
  assert.equal((await credentials.verify(credential, expiresAt + 20_000)).user, 'alice@example.com');
  await assert.rejects(credentials.verify(credential, expiresAt + 31_000), (err: { code?: string; details?: Record<string, unknown> }) => {
    assert.equal(err.code, 'PINHOLE_CREDENTIAL_EXPIRED');
    assert.equal(err.details?.['user'], 'alice@example.com');
    return true;
  });
});

test('forged credentials are PINHOLE_CREDENTIAL_INVALID: another key, the right kid with another secret, alg none, garbage, a changed payload', async (t) => {
  const dir = await keysDir(t);
  const file = join(dir, 'credential-keys');
  const [key] = await rotateCredentialKeys(file);
  const credentials = new TunnelCredentials(file, 3600, 30, logger);
  const otherFile = join(dir, 'other-keys');
  await rotateCredentialKeys(otherFile);
  const foreign = (await new TunnelCredentials(otherFile, 3600, 30, logger).issue(ALICE)).credential;
  const sameKid = await new SignJWT({ idp: ALICE.issuer })
    .setProtectedHeader({ alg: 'HS256', kid: key?.kid ?? '', typ: 'pinhole-credential+jwt' })
    .setIssuer('pinhole-gateway')
    .setAudience('pinhole-tunnel')
    .setSubject('mallory')
    .setExpirationTime('1h')
    .sign(randomBytes(32));
  const real = (await credentials.issue(ALICE)).credential;
  const [h, p, s] = real.split('.');
  const changed = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p ?? '', 'base64url').toString()), sub: 'mallory' })).toString('base64url')}.${s}`;
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'pinhole-credential+jwt' })).toString('base64url')}.${p}.`;
  for (const forged of [foreign, sameKid, changed, none, 'not-a-jwt', '']) {
    await assert.rejects(credentials.verify(forged), { code: 'PINHOLE_CREDENTIAL_INVALID' }, forged);
  }
});

test('after a rotation the new key signs and a credential signed with the old one still verifies; a bad file keeps the keys', async (t) => {
  const file = join(await keysDir(t), 'credential-keys');
  await rotateCredentialKeys(file);
  const credentials = new TunnelCredentials(file, 3600, 30, logger);
  const old = await credentials.issue(ALICE);
  const [newest] = await rotateCredentialKeys(file);
  credentials.reload();
  const fresh = await credentials.issue(ALICE);
  assert.equal(decodeProtectedHeader(fresh.credential).kid, newest?.kid);
  assert.equal((await credentials.verify(old.credential)).user, 'alice@example.com');
  await writeFile(file, 'garbage\n');
  credentials.reload();
  assert.equal((await credentials.verify(fresh.credential)).user, 'alice@example.com');
});
