import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PinholeError } from '../shared/errors.js';
import { ALLOWED_SPELLINGS, REFUSED_SPELLINGS } from '../test/support/address-spellings.js';
import { DestinationPolicy, isForbiddenAddress, type Resolver } from './policy.js';

test('special-purpose addresses are forbidden, public ones allowed', () => {
  const forbidden = [
    '127.0.0.1', '127.255.255.254', '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.1.1',
    '169.254.169.254', '169.254.0.1', '100.64.0.1', '100.127.255.255', '224.0.0.1', '239.255.255.250', '0.0.0.0',
    '0.1.2.3', '255.255.255.255', '240.0.0.1', '::', '::1', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'ff02::1',
    'fd00:ec2::254', '::ffff:127.0.0.1', '::ffff:10.1.2.3', '::ffff:169.254.169.254', '::ffff:7f00:1', '::ffff:a9fe:a9fe',
    '0:0:0:0:0:ffff:7f00:1', '::127.0.0.1', '64:ff9b::10.0.0.1', 'not-an-ip',
  ];
  const allowed = ['1.1.1.1', '8.8.8.8', '172.32.0.1', '172.15.255.255', '100.128.0.1', '11.0.0.1', '2606:4700::1111', '::ffff:1.1.1.1', '::ffff:101:101'];
  for (const a of forbidden) assert.equal(isForbiddenAddress(a), true, a);
  for (const a of allowed) assert.equal(isForbiddenAddress(a), false, a);
});

const fixed =
  (answers: Record<string, string[]>): Resolver =>
  async (host) => {
    const list = answers[host];
    if (list === undefined) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'allowed';
  } catch (err) {
    assert.ok(err instanceof PinholeError);
    return err.code;
  }
};

test('the policy checks the resolved address and connects to exactly it', async () => {
  const policy = new DestinationPolicy({}, fixed({ 'good.test': ['93.184.216.34'], 'rebind.test': ['127.0.0.1'], 'mixed.test': ['10.0.0.1', '93.184.216.35'], 'meta.test': ['fd00:ec2::254'] }));
  assert.deepEqual((await policy.decide({ host: 'good.test', port: 443 }, 'connect')).address, '93.184.216.34');
  assert.equal(await codeOf(policy.decide({ host: 'rebind.test', port: 443 }, 'connect')), 'PINHOLE_DEST_FORBIDDEN');
  assert.equal((await policy.decide({ host: 'mixed.test', port: 443 }, 'connect')).address, '93.184.216.35');
  assert.equal(await codeOf(policy.decide({ host: 'meta.test', port: 443 }, 'connect')), 'PINHOLE_DEST_FORBIDDEN');
  assert.equal(await codeOf(policy.decide({ host: 'missing.test', port: 443 }, 'connect')), 'PINHOLE_DNS_FAILED');
  assert.equal(await codeOf(policy.decide({ host: '169.254.169.254', port: 443 }, 'connect')), 'PINHOLE_DEST_FORBIDDEN');
  assert.equal(await codeOf(policy.decide({ host: '::ffff:127.0.0.1', port: 443 }, 'connect')), 'PINHOLE_DEST_FORBIDDEN');
});

test('CONNECT is limited to 443 by default, plain HTTP to 80 and 443, and --allow-port adds', async () => {
  const policy = new DestinationPolicy({}, fixed({ 'good.test': ['93.184.216.34'] }));
  assert.equal(await codeOf(policy.decide({ host: 'good.test', port: 22 }, 'connect')), 'PINHOLE_PORT_FORBIDDEN');
  assert.equal(await codeOf(policy.decide({ host: 'good.test', port: 80 }, 'connect')), 'PINHOLE_PORT_FORBIDDEN');
  assert.equal(await codeOf(policy.decide({ host: 'good.test', port: 80 }, 'http')), 'allowed');
  assert.equal(await codeOf(policy.decide({ host: 'good.test', port: 8080 }, 'http')), 'PINHOLE_PORT_FORBIDDEN');
  const wider = new DestinationPolicy({ allowPorts: [443, 8443] }, fixed({ 'good.test': ['93.184.216.34'] }));
  assert.equal(await codeOf(wider.decide({ host: 'good.test', port: 8443 }, 'connect')), 'allowed');
});

test('--restrict-to allows exactly its destinations, even private ones, and nothing else', async () => {
  const policy = new DestinationPolicy({ restrictTo: ['127.0.0.1:8443', 'Origin.Test:9000', '[::1]:443'] }, fixed({ 'origin.test': ['10.1.1.1'], 'good.test': ['93.184.216.34'] }));
  assert.equal((await policy.decide({ host: '127.0.0.1', port: 8443 }, 'connect')).address, '127.0.0.1');
  assert.equal((await policy.decide({ host: 'origin.test', port: 9000 }, 'connect')).address, '10.1.1.1');
  assert.equal((await policy.decide({ host: '::1', port: 443 }, 'connect')).address, '::1');
  assert.equal(await codeOf(policy.decide({ host: '127.0.0.1', port: 8444 }, 'connect')), 'PINHOLE_DEST_FORBIDDEN');
  assert.equal(await codeOf(policy.decide({ host: 'good.test', port: 443 }, 'connect')), 'PINHOLE_DEST_FORBIDDEN');
  assert.equal(await codeOf(policy.decide({ host: 'localhost', port: 8443 }, 'connect')), 'PINHOLE_DEST_FORBIDDEN');
});

test('every spelling of a refused address is refused, as a literal, bracketed, or as what a name resolves to', async () => {
  for (const { text, what } of REFUSED_SPELLINGS) {
    const policy = new DestinationPolicy({}, fixed({ 'rebind.test': [text] }));
    for (const host of [text, `[${text}]`, 'rebind.test'])
      assert.equal(await codeOf(policy.decide({ host, port: 443 }, 'connect')), 'PINHOLE_DEST_FORBIDDEN', `${host} (${what})`);
  }
});

test('an allowed address in any spelling is connected to in its canonical form, with its own family', async () => {
  for (const { text, canonical } of ALLOWED_SPELLINGS) {
    // The resolver's family label is wrong on purpose: the address decides the socket's family.
    const policy = new DestinationPolicy({}, async () => [{ address: text, family: text.includes(':') ? 4 : 6 }]);
    for (const host of [text, `[${text}]`, 'odd.test']) {
      const decision = await policy.decide({ host, port: 443 }, 'connect');
      assert.equal(decision.address, canonical, host);
      assert.equal(decision.family, canonical.includes(':') ? 6 : 4, host);
    }
  }
});

test('--restrict-to compares addresses, not spellings, and still allows exactly its destinations', async () => {
  const policy = new DestinationPolicy({ restrictTo: ['[::1]:443', '[64:ff9b::a00:35]:53'] }, fixed({}));
  assert.equal((await policy.decide({ host: '0:0:0:0:0:0:0:1', port: 443 }, 'connect')).address, '::1');
  assert.equal((await policy.decide({ host: '[0064:FF9B:0::10.0.0.53]', port: 53 }, 'connect')).address, '64:ff9b::a00:35');
  assert.equal(await codeOf(policy.decide({ host: '::1', port: 53 }, 'connect')), 'PINHOLE_DEST_FORBIDDEN');
  assert.equal(await codeOf(policy.decide({ host: '::2', port: 443 }, 'connect')), 'PINHOLE_DEST_FORBIDDEN');
});
