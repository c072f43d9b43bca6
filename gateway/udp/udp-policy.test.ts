import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PinholeError } from '../../shared/errors.js';
import type { Resolver } from '../policy.js';
import { REFUSED_SPELLINGS } from '../../test/support/address-spellings.js';
import { createUdpDestinationCheck } from './udp-policy.js';

const resolver: Resolver = async (host) => {
  const table: Record<string, Array<{ address: string; family: 4 | 6 }>> = {
    'dns.example': [{ address: '198.51.100.53', family: 4 }],
    'rebind.example': [{ address: '10.0.0.53', family: 4 }],
    'mixed.example': [
      { address: '127.0.0.1', family: 4 },
      { address: '2001:db8:0:1::53', family: 6 },
      { address: '203.0.113.9', family: 4 },
    ],
  };
  const found = table[host];
  if (!found) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return found;
};

const cases: Array<[string, Parameters<typeof createUdpDestinationCheck>[0], { host: string; port: number }, string]> = [
  ['a public name on 53 is resolved at the gateway and allowed', {}, { host: 'dns.example', port: 53 }, '198.51.100.53'],
  ['a name that resolves into a private range is refused (no rebinding)', {}, { host: 'rebind.example', port: 53 }, 'PINHOLE_DEST_FORBIDDEN'],
  ['a private literal is refused', {}, { host: '192.168.1.1', port: 53 }, 'PINHOLE_DEST_FORBIDDEN'],
  ['loopback is refused', {}, { host: '127.0.0.1', port: 53 }, 'PINHOLE_DEST_FORBIDDEN'],
  ['IPv4-mapped loopback is refused', {}, { host: '::ffff:127.0.0.1', port: 53 }, 'PINHOLE_DEST_FORBIDDEN'],
  ['the metadata address is refused', {}, { host: '169.254.169.254', port: 53 }, 'PINHOLE_DEST_FORBIDDEN'],
  ['the forbidden addresses of a name are skipped, the first allowed one is used', {}, { host: 'mixed.example', port: 443 }, '203.0.113.9'],
  ['a port outside the UDP list is refused', {}, { host: 'dns.example', port: 1194 }, 'PINHOLE_PORT_FORBIDDEN'],
  ['the UDP list is the operator\'s', { udpPorts: [1194] }, { host: 'dns.example', port: 1194 }, '198.51.100.53'],
  ['--restrict-to allows exactly its destination, loopback included', { restrictTo: ['127.0.0.1:1194'] }, { host: '127.0.0.1', port: 1194 }, '127.0.0.1'],
  ['--restrict-to refuses everything else', { restrictTo: ['127.0.0.1:1194'] }, { host: 'dns.example', port: 53 }, 'PINHOLE_DEST_FORBIDDEN'],
  ['an unknown name is a DNS failure', {}, { host: 'nowhere.example', port: 53 }, 'PINHOLE_DNS_FAILED'],
];
for (const [name, options, target, expected] of cases) {
  test(`UDP policy: ${name}`, async () => {
    const decide = createUdpDestinationCheck(options, resolver);
    if (expected.startsWith('PINHOLE_')) await assert.rejects(decide(target), (err: unknown) => err instanceof PinholeError && err.code === expected);
    else assert.equal((await decide(target)).address, expected);
  });
}

test('UDP policy: every spelling of a refused address is refused, literal or resolved', async () => {
  for (const { text, what } of REFUSED_SPELLINGS) {
    const decide = createUdpDestinationCheck({}, async () => [{ address: text, family: 6 }]);
    for (const host of [text, `[${text}]`, 'rebind.example'])
      await assert.rejects(decide({ host, port: 53 }), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_DEST_FORBIDDEN', `${host} (${what})`);
  }
});
