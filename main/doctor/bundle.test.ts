import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { encodeLink } from '../../shared/link.js';
import { buildBundle } from './bundle.js';
import { Redactor } from './redact.js';

// Known secrets, each planted in every place a secret could show up in a bundle.
const PROFILE_PASSWORD = 'plant-profile-pw-6f1c9e';
const LINK_SECRET = 'plant-link-secret-2b7d41';
const UPSTREAM_PASSWORD = 'plant-upstream-pw-91aa0c';
const PASSPHRASE = 'plant-passphrase-5e3f77';
const TOKEN = 'plant-token-eyJhbGciOiJSUzI1NiJ9.c2VjcmV0';
const ENV_PROXY_PASSWORD = 'plant-env-proxy-pw-0d4b2a';
const SECRETS = [PROFILE_PASSWORD, LINK_SECRET, UPSTREAM_PASSWORD, PASSPHRASE, TOKEN, ENV_PROXY_PASSWORD];
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const LINK = encodeLink({ endpoints: ['gw.example.test:443'], serverName: 'gw.example.test', user: 'alice', secret: LINK_SECRET });

const everywhere = (secret: string): unknown[] => [
  secret,
  `the password was ${secret} here`,
  `http://bob:${encodeURIComponent(secret)}@proxy.corp.test:3128`,
  basic('alice', secret),
  `Bearer ${secret}`,
];

const plantedSources = () => ({
  report: {
    ok: false,
    profile: 'work',
    gateway: 'gw.example.test:443',
    checkedAt: new Date(0).toISOString(),
    hops: [{ hop: 'credential' as const, status: 'fail' as const, verdict: `refused ${PROFILE_PASSWORD}`, facts: { note: LINK } }],
    firewall: [{ host: 'gw.example.test', port: 443, addresses: ['203.0.113.7'] }],
    firewallSentence: 'For the firewall admin: allow outgoing TCP to gw.example.test port 443.',
  },
  version: '1.2.3',
  logs: [
    { seq: 1, level: 'info', msg: `Connecting with ${LINK}`, fields: { password: PROFILE_PASSWORD, headers: { 'proxy-authorization': basic('alice', PROFILE_PASSWORD) } } },
    { seq: 2, level: 'warn', msg: 'Upstream.', fields: { url: `http://bob:${UPSTREAM_PASSWORD}@proxy.corp.test:3128`, token: TOKEN, extra: everywhere(PASSPHRASE) } },
    ...SECRETS.map((s, i) => ({ seq: 10 + i, level: 'debug', msg: `plain ${s}`, fields: { list: everywhere(s) } })),
  ],
  profiles: [
    { id: 'p1', name: 'work', secretRef: 'profile:p1', user: 'alice', upstreamProxy: { endpoint: 'proxy.corp.test:3128', user: 'bob', password: UPSTREAM_PASSWORD, secretRef: 'upstream:p1' }, notes: everywhere(LINK_SECRET) },
  ],
  settings: { upstreamProxy: `bob:${UPSTREAM_PASSWORD}@proxy.corp.test:3128`, secretsFile: '/home/a/secrets.enc', passphrase: PASSPHRASE, lastLink: LINK },
  systemProxy: { source: 'gnome', fields: { 'org.gnome.system.proxy.http authentication-password': `'${ENV_PROXY_PASSWORD}'` } },
  env: { https_proxy: `http://bob:${ENV_PROXY_PASSWORD}@proxy.corp.test:3128`, HTTP_PROXY: `http://bob:${encodeURIComponent(ENV_PROXY_PASSWORD)}@proxy.corp.test:3128`, PINHOLE_SECRETS_PASSPHRASE: PASSPHRASE },
  secrets: SECRETS,
  now: () => Date.UTC(2026, 0, 2, 3, 4, 5),
});

/** Every spelling a secret could take in the archive's text. */
const spellings = (secret: string): string[] => [secret, encodeURIComponent(secret), Buffer.from(`alice:${secret}`).toString('base64'), Buffer.from(secret).toString('base64').replace(/=+$/, '')];

test('a bundle with secrets planted in the report, the log, profiles, settings, proxy settings and environment holds none of them', async () => {
  const archive = buildBundle(plantedSources());
  const tarText = gunzipSync(archive).toString('latin1');
  for (const secret of SECRETS) for (const spelling of spellings(secret)) assert.ok(!tarText.includes(spelling), `${spelling} (for ${secret}) is in the archive`);
  assert.ok(!/pinhole:\/\//i.test(tarText), 'no provisioning link');
  // The system's tar reads it, and each file is there with the facts a supporter needs.
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-bundle-'));
  try {
    await writeFile(join(dir, 'b.tar.gz'), archive);
    const listing = execFileSync('tar', ['-tzf', join(dir, 'b.tar.gz')], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(
      listing.map((l) => l.replace(/^pinhole-diagnostics-20260102-030405\//, '')),
      ['README.txt', 'doctor.json', 'doctor.txt', 'versions.json', 'system.json', 'logs.jsonl', 'profiles.json', 'settings.json'],
    );
    execFileSync('tar', ['-xzf', join(dir, 'b.tar.gz'), '-C', dir]);
    const folder = join(dir, 'pinhole-diagnostics-20260102-030405');
    const profiles = JSON.parse(await readFile(join(folder, 'profiles.json'), 'utf8')) as Array<Record<string, unknown>>;
    assert.equal(profiles[0]?.['secretRef'], 'profile:p1', 'a reference to a secret is kept');
    assert.equal((profiles[0]?.['upstreamProxy'] as Record<string, unknown>)['user'], 'bob');
    const logs = (await readFile(join(folder, 'logs.jsonl'), 'utf8')).trim().split('\n');
    assert.equal(logs.length, 2 + SECRETS.length);
    assert.match(await readFile(join(folder, 'doctor.txt'), 'utf8'), /For the firewall admin: allow outgoing TCP to gw\.example\.test port 443/);
    const versions = JSON.parse(await readFile(join(folder, 'versions.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(versions['pinhole'], '1.2.3');
    assert.equal(versions['node'], process.versions.node);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the redactor keeps what is not secret: user names, hosts, references, yes/no fields', () => {
  const redactor = new Redactor(['s3cret-value']);
  assert.deepEqual(redactor.value({ user: 'alice', endpoint: 'gw.example.test:443', secretRef: 'profile:1', hasPassword: true, password: 'x', note: 'pw s3cret-value end' }), {
    user: 'alice',
    endpoint: 'gw.example.test:443',
    secretRef: 'profile:1',
    hasPassword: true,
    password: '[removed]',
    note: 'pw [removed] end',
  });
  assert.equal(redactor.text('http://bob:pw@proxy:3128 and http://proxy:3128'), 'http://bob:[removed]@proxy:3128 and http://proxy:3128');
});
