import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { listenError } from './listen-error.js';
import { findPortHolder } from './port-holder.js';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`listen ${code}`), { code });

test('a port held on 127.0.0.1 is in use, by the process /proc names (this one), with the flag to change', async () => {
  const held = createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  const { port } = held.address() as { port: number };
  try {
    assert.equal(findPortHolder(port)?.pid, process.pid);
    const second = createServer();
    const err = await new Promise<Error>((resolve) => second.once('error', resolve).listen(port, '127.0.0.1'));
    const error = listenError(err, { host: '127.0.0.1', port, what: 'The console', flag: '--listen' });
    assert.equal(error.code, 'PINHOLE_ADDRESS_IN_USE');
    assert.match(error.message, new RegExp(`^The console cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use by .+ \\(pid ${process.pid}\\)\\. Stop it, or choose another port with --listen\\.$`));
  } finally {
    held.close();
  }
});

test('a port below 1024 names the capability and the two usual fixes; a higher one refused names the policy', () => {
  const low = listenError(errno('EACCES'), { host: '0.0.0.0', port: 443, what: 'The gateway', flag: '--listen' });
  assert.equal(low.code, 'PINHOLE_PORT_PRIVILEGED');
  assert.match(low.message, /0\.0\.0\.0:443.*CAP_NET_BIND_SERVICE.*AmbientCapabilities=CAP_NET_BIND_SERVICE.*behind the load balancer/);
  const high = listenError(errno('EACCES'), { host: '127.0.0.1', port: 8443, what: 'The gateway' });
  assert.equal(high.code, 'PINHOLE_PORT_PRIVILEGED');
  assert.match(high.message, /SELinux or AppArmor/);
});

test('an address not on this machine, or a name that does not resolve, says so; an unknown errno is a bug', () => {
  const v6 = listenError(errno('EADDRNOTAVAIL'), { host: '2001:db8::1', port: 443, what: 'The gateway', flag: '--listen' });
  assert.equal(v6.code, 'PINHOLE_ADDRESS_NOT_LOCAL');
  assert.match(v6.message, /^The gateway cannot listen on \[2001:db8::1\]:443: 2001:db8::1 is not an address of this machine/);
  assert.equal(listenError(errno('ENOTFOUND'), { host: 'nowhere.invalid', port: 80, what: 'The forward' }).code, 'PINHOLE_ADDRESS_NOT_LOCAL');
  assert.equal(listenError(errno('EMFILE'), { host: '127.0.0.1', port: 80, what: 'The forward' }).code, 'PINHOLE_INTERNAL');
});

test('a port nobody holds has no holder', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  assert.equal(findPortHolder(port), undefined);
});
