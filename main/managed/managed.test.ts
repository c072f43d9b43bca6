/**
 * The managed configuration's readers and its reload: the Linux YAML file changed on disk for real
 * (the change is picked up, a malformed version is named in one sentence and the last good one
 * stays), the Windows reader on recorded `reg query` output, the macOS reader on a recorded
 * plist and the `plutil -convert json` output for it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseManaged, profileFromManaged } from '../../shared/managed.js';
import { ProfileStore } from '../profiles/store.js';
import { recordedRunner } from '../sysproxy/recorded-runner.js';
import { routingUnderManaged } from '../routing.js';
import { ManagedConfiguration } from './managed-config.js';
import { registryToManaged } from './registry.js';
import { plistSource, registrySource, yamlSource, WINDOWS_MANAGED_KEY } from './sources.js';

const fixture = (name: string): Promise<string> => readFile(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const GOOD = `profiles:
  - name: Acme cloud
    gateway: gw.example.com:443
    issuer: https://login.example.com/realms/acme
lockProfiles: true
supportUrl: https://help.example.com/vpn
`;

const nextChange = (managed: ManagedConfiguration): Promise<void> =>
  new Promise((resolve) => {
    const off = managed.onChange(() => {
      off();
      resolve();
    });
  });

test('the Linux file: read at start, a change on disk picked up, a malformed one named with its field while the last good one stays', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-managed-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'managed.yaml');
  await writeFile(file, GOOD);
  const managed = new ManagedConfiguration(yamlSource(file), { watchIntervalMs: 50 });
  await managed.load();
  assert.equal(managed.current?.profiles?.[0]?.name, 'Acme cloud');
  assert.equal(managed.view()?.supportUrl, 'https://help.example.com/vpn');
  managed.watch();
  t.after(() => managed.stop());

  let changed = nextChange(managed);
  await writeFile(file, GOOD.replace('Acme cloud', 'Acme EU').replace('lockProfiles: true', 'lockProfiles: true\nforbidDirect: true'));
  await changed;
  assert.equal(managed.current?.profiles?.[0]?.name, 'Acme EU');
  assert.equal(managed.current?.forbidDirect, true);

  changed = nextChange(managed);
  await writeFile(file, GOOD.replace('    issuer:', '    password: hunter2\n    issuer:'));
  await changed;
  assert.equal(managed.current?.profiles?.[0]?.name, 'Acme EU', 'the last good configuration stays');
  const problem = managed.lastProblem ?? '';
  assert.match(problem, new RegExp(`^The managed configuration ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid: field profiles\\.0\\.password would hold a secret`));
  assert.equal(problem.split('. ').length, 1, 'one sentence');
  assert.equal(managed.view()?.problem, problem);

  changed = nextChange(managed);
  await writeFile(file, 'profiles: [\n');
  await changed;
  assert.match(managed.lastProblem ?? '', /is not valid YAML \(line \d+\); the last good configuration stays in use\.$/);
  assert.equal(managed.current?.profiles?.[0]?.name, 'Acme EU');

  changed = nextChange(managed);
  await writeFile(file, GOOD.replace('lockProfiles: true', 'lockProfiles: maybe'));
  await changed;
  assert.match(managed.lastProblem ?? '', /field lockProfiles /);

  changed = nextChange(managed);
  await rm(file);
  await changed;
  assert.equal(managed.current, undefined, 'the administrator removed the file: nothing is managed');
  assert.equal(managed.lastProblem, undefined);
});

test('every field is named when wrong, and an unknown one is not a managed setting', () => {
  const cases: Array<[unknown, string]> = [
    [{ profiles: [{ name: 'A', gateway: 'no-port' }] }, 'profiles.0.gateway.0'],
    [{ profiles: [{ name: 'A', gateway: 'gw:443', pin: 'xyz' }] }, 'profiles.0.pin'],
    [{ supportUrl: 'not a url' }, 'supportUrl'],
    [{ routing: { tunnel: ['.a'], default: 'sideways' } }, 'routing.default'],
    [{ conectOnStart: true }, 'conectOnStart'],
    [{ profiles: [{ name: 'A', gateway: 'gw:443', token: 'x' }] }, 'profiles.0.token'],
    [{ profiles: [{ name: 'A', gateway: 'gw:443' }, { name: 'a', gateway: 'gw:443' }] }, 'profiles.1.name'],
  ];
  for (const [raw, field] of cases) {
    const parsed = parseManaged(raw, '/etc/pinhole/managed.yaml');
    assert.equal(parsed.ok, false, field);
    if (!parsed.ok) {
      assert.equal(parsed.field, field);
      assert.ok(parsed.sentence.startsWith('The managed configuration /etc/pinhole/managed.yaml is not valid: field '), parsed.sentence);
    }
  }
});

test('Windows: recorded reg query output becomes the same configuration; a missing key is no configuration', async () => {
  const raw = registryToManaged(await fixture('reg-query.txt'));
  const parsed = parseManaged(raw, WINDOWS_MANAGED_KEY);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.sentence);
  if (!parsed.ok) return;
  const c = parsed.config;
  assert.equal(c.connectOnStart, true);
  assert.equal(c.lockConnectSwitch, true);
  assert.equal(c.lockProfiles, false);
  assert.equal(c.forbidDirect, true);
  assert.equal(c.supportUrl, 'https://help.example.com/vpn');
  assert.deepEqual(c.profiles?.[0]?.gateway, ['gw.example.com:443', 'gw2.example.com:443']);
  assert.deepEqual(c.profiles?.[0]?.domains, ['api.vendor.example', '.cdn.vendor.example']);
  assert.equal(c.profiles?.[0]?.pin, 'ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789');
  assert.deepEqual(c.routing, { tunnel: ['.vendor.example'], block: ['ads.example'], default: 'direct' });
  // forbidDirect turns the managed default "direct" into a refusal that names the administrator's rule.
  const routing = routingUnderManaged(c);
  assert.deepEqual(routing.decide({ host: 'api.vendor.example', port: 443 }), { route: 'tunnel' });
  assert.equal(routing.decide({ host: 'ads.example', port: 443 }).route, 'block');
  assert.equal(routing.decide({ host: 'elsewhere.example', port: 443 }).route, 'block');
  assert.doesNotMatch(routing.pac('127.0.0.1:8080'), /DIRECT/);

  const runner = recordedRunner().on(`reg query ${WINDOWS_MANAGED_KEY} /s`, await fixture('reg-query.txt'));
  const source = registrySource(WINDOWS_MANAGED_KEY, runner.run);
  assert.equal((await source.read()).kind, 'value');
  assert.deepEqual(runner.calls, [{ file: 'reg', args: ['query', WINDOWS_MANAGED_KEY, '/s'] }]);
  const missing = recordedRunner().on(`reg query ${WINDOWS_MANAGED_KEY} /s`, Object.assign(new Error('exit 1'), { stdout: await fixture('reg-query-missing.txt') }));
  assert.deepEqual(await registrySource(WINDOWS_MANAGED_KEY, missing.run).read(), { kind: 'none' });
});

test('macOS: the managed plist read through plutil -convert json; the recording matches the plist it came from', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-managed-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'com.pinhole.client.plist');
  const xml = await fixture('com.pinhole.client.plist');
  await writeFile(file, xml);
  const json = await fixture('plutil-json.txt');
  // The recorded plutil output says what the recorded plist says (checked with the plist parser electron-builder brings).
  const plist = createRequire(import.meta.url)('plist') as { parse: (text: string) => unknown };
  assert.deepEqual(JSON.parse(json), plist.parse(xml));
  const runner = recordedRunner().on(`plutil -convert json -o - ${file}`, json);
  const managed = new ManagedConfiguration(plistSource(file, runner.run));
  await managed.load();
  assert.equal(managed.lastProblem, undefined);
  assert.equal(managed.current?.lockProfiles, true);
  const profile = profileFromManaged(managed.current!.profiles![0]!);
  assert.equal(profile.serverName, 'gw.example.com');
  assert.equal(profile.issuer, 'https://login.example.com/realms/acme');
  assert.equal(profile.managed, true);
  const gone = new ManagedConfiguration(plistSource(join(dir, 'absent.plist'), runner.run));
  await gone.load();
  assert.equal(gone.current, undefined);
});

test('the store lists managed profiles locked: removing one, or any while the list is locked, is refused with a sentence; a link fills in its user', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-managed-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'managed.yaml');
  await writeFile(file, GOOD.replace('lockProfiles: true', 'lockProfiles: false'));
  const managed = new ManagedConfiguration(yamlSource(file));
  await managed.load();
  const store = new ProfileStore({ dir, managed });
  const [acme] = store.list();
  assert.equal(acme?.managed, true);
  assert.equal(store.defaultId(), acme?.id, 'the first managed profile is the default until one is chosen');
  assert.throws(() => store.remove('Acme cloud'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'PINHOLE_MANAGED_LOCKED');
    assert.equal(err.message, `The profile "Acme cloud" is set by your administrator's managed configuration (${file}) and cannot be changed here; ask your administrator (https://help.example.com/vpn).`);
    return true;
  });
  store.save({ ...acme!, user: 'carol' });
  assert.equal(store.require('Acme cloud').user, 'carol');
  store.save({ ...acme!, id: 'own', name: 'Mine', secretRef: 'profile:own', managed: undefined });
  assert.equal(store.list().length, 2);

  await writeFile(file, GOOD);
  await managed.load();
  assert.deepEqual(store.list().map((p) => p.name), ['Acme cloud'], 'a locked list shows only the managed profiles');
  assert.throws(() => store.save({ ...acme!, id: 'other', name: 'Other', secretRef: 'profile:other', managed: undefined }), /The profile list is set by your administrator/);
});
