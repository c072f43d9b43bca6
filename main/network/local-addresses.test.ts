/** Whether a connection's local address is still the computer's, over recorded interface lists. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { networkInterfaces } from 'node:os';
import { localAddressGone } from './local-addresses.js';

const entry = (address: string, family: 'IPv4' | 'IPv6') => ({ address, family, netmask: '', mac: '00:00:00:00:00:00', internal: false, cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) });
const interfaces = (() => ({ lo: [entry('127.0.0.1', 'IPv4')], wlan0: [entry('10.220.2.2', 'IPv4'), entry('fd20:222::2', 'IPv6')] })) as unknown as typeof networkInterfaces;

test('an address still on an interface is not gone, in every spelling', () => {
  for (const address of ['10.220.2.2', '::ffff:10.220.2.2', 'FD20:222::2', '127.0.0.1']) assert.equal(localAddressGone(address, interfaces), false, address);
});

test('an address no interface holds any more is gone; an unknown one is not judged', () => {
  assert.equal(localAddressGone('10.220.1.2', interfaces), true);
  assert.equal(localAddressGone('fd20:221::2', interfaces), true);
  assert.equal(localAddressGone(undefined, interfaces), false);
});
