import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeProcAddress, parseProcNetTcp } from './proc-net-tcp.js';

// Recorded on a Linux x86_64 machine (trimmed): a LISTEN socket and both ends of a loopback connection.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 424242 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 424243 1 0000000000000000 20 4 30 10 -1
   3: 0202A8C0:0016 6502A8C0:C350 01 00000000:00000000 02:000A7D4E 00000000     0        0 99 2 0000000000000000 20 4 1 10 -1
`;

const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5001 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:A000 0000000000000000FFFF00000100007F:1F91 01 00000000:00000000 00:00000000 00000000  1000        0 5002 1 0000000000000000 20 4 30 10 -1
   2: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5003 1 0000000000000000 100 0 0 10 0
`;

test('/proc/net/tcp lines decode to addresses, ports, state, uid and inode', () => {
  const entries = parseProcNetTcp(TCP);
  assert.equal(entries.length, 4);
  assert.deepEqual(entries[0], { localAddress: '127.0.0.1', localPort: 8080, remoteAddress: '0.0.0.0', remotePort: 0, state: 0x0a, uid: 0, inode: 31337 });
  assert.deepEqual(entries[1], { localAddress: '127.0.0.1', localPort: 54321, remoteAddress: '127.0.0.1', remotePort: 8080, state: 1, uid: 1000, inode: 424242 });
  assert.equal(entries[3]?.localAddress, '192.168.2.2');
  assert.equal(entries[3]?.remoteAddress, '192.168.2.101');
});

test('/proc/net/tcp6 lines decode IPv6 and turn IPv4-mapped addresses into IPv4', () => {
  const entries = parseProcNetTcp(TCP6);
  assert.equal(entries[0]?.localAddress, '::1');
  assert.equal(entries[1]?.localAddress, '127.0.0.1');
  assert.equal(entries[1]?.remotePort, 0x1f91);
  assert.equal(entries[2]?.localAddress, '2001:db8::1');
});

test('addresses in big-endian kernels decode too, and garbage does not', () => {
  assert.equal(decodeProcAddress('7F000001', false), '127.0.0.1');
  assert.equal(decodeProcAddress('00000000000000000000000000000001', false), '::1');
  for (const bad of ['', 'XYZ', '0100007', '0100007F00']) assert.equal(decodeProcAddress(bad), undefined, bad);
});

test('headers, short and malformed lines are skipped, every truncation of a line too', () => {
  const line = TCP.split('\n')[2] ?? '';
  assert.equal(parseProcNetTcp(line).length, 1);
  const fields = line.trim().split(/\s+/);
  for (let n = 0; n < 10; n++) assert.equal(parseProcNetTcp(fields.slice(0, n).join(' ')).length, 0, `${n} fields`);
  assert.equal(parseProcNetTcp('   9: 0100007G:1F90 00000000:0000 0A 0:0 0:0 0 0 0 7').length, 0);
  assert.equal(parseProcNetTcp('   9: 0100007F:1F9 00000000:0000 0A 0:0 0:0 0 0 0 7').length, 0);
});
