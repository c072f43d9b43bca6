import assert from 'node:assert/strict';
import { test } from 'node:test';
import { credentialPrincipal, htpasswdPrincipal } from './auth/principal.js';
import { TunnelLimits } from './auth/tunnel-limits.js';
import { GatewayMetrics } from './metrics.js';
import { formatSessionsTable } from './cli/revoke.js';
import { TunnelRegistry } from './tunnel-registry.js';

const OIDC = credentialPrincipal({ user: 'alice@example.com', subject: 'alice-sub', issuer: 'https://idp.example.com', email: 'alice@example.com' });
const NAMESAKE = htpasswdPrincipal('alice@example.com');

const registry = (maxTunnelsPerUser = 10): { tunnels: TunnelRegistry; limits: TunnelLimits } => {
  const limits = new TunnelLimits({ maxTunnelsPerUser, maxTunnelsPerSource: 100 });
  return { tunnels: new TunnelRegistry(limits, new GatewayMetrics({ defaultMetrics: false })), limits };
};

test('an identity-provider user and the users-file user of the same name: separate limits, separate sessions', () => {
  const { tunnels, limits } = registry(1);
  tunnels.hold(() => undefined, { user: OIDC.name, client: '192.0.2.1:1', principal: OIDC, transport: 'h2' });
  assert.throws(() => limits.admit(OIDC.key, '192.0.2.1:2', OIDC.name), { code: 'PINHOLE_LIMIT_REACHED', message: /alice@example\.com already holds 1/ });
  assert.doesNotThrow(() => limits.admit(NAMESAKE.key, '192.0.2.1:3', NAMESAKE.name), 'the namesake has its own count');
  tunnels.hold(() => undefined, { user: NAMESAKE.name, client: '192.0.2.1:3', transport: 'http/1.1' });
  assert.deepEqual(tunnels.sessions.list().map((s) => `${s.kind} ${s.user} ${s.tunnels} ${s.transports.join()}`).sort(), ['htpasswd alice@example.com 1 h1', 'oidc alice@example.com 1 h2']);
});

test('a session: tunnels of one user from one source, live bytes then final ones, gone with its last tunnel; end and endWhere abort its tunnels', () => {
  const { tunnels } = registry();
  const aborted: string[] = [];
  const meter = { bytesUp: 10, bytesDown: 20 };
  const one = tunnels.hold(() => aborted.push('one'), { user: 'bob', client: '198.51.100.7:1000' }, meter);
  const two = tunnels.hold(() => aborted.push('two'), { user: 'bob', client: '198.51.100.7:1001' });
  tunnels.hold(() => aborted.push('other source'), { user: 'bob', client: '203.0.113.1:1' });
  const [bob] = tunnels.sessions.list().filter((s) => s.source === '198.51.100.7');
  assert.equal(bob?.tunnels, 2);
  assert.equal(bob?.bytesUp, 10);
  two({ bytesUp: 5, bytesDown: 6 });
  one();
  assert.equal(tunnels.sessions.list().filter((s) => s.source === '198.51.100.7').length, 0, 'gone with its last tunnel');
  const again = tunnels.hold(() => aborted.push('again'), { user: 'bob', client: '198.51.100.7:1002' });
  const id = tunnels.sessions.list().find((s) => s.source === '198.51.100.7')?.id ?? '';
  assert.ok(tunnels.sessions.end(id));
  assert.equal(tunnels.sessions.end('nope.1'), false);
  assert.equal(tunnels.sessions.endWhere((p) => p.name === 'bob'), 2);
  assert.deepEqual(aborted.sort(), ['again', 'again', 'other source']);
  again();
});

test('the sessions table: one row a session, a header, nobody connected said in words', () => {
  assert.equal(formatSessionsTable([]), 'Nobody is connected.\n');
  const now = Date.parse('2030-01-01T02:00:00Z');
  const table = formatSessionsTable(
    [{ id: 'ab.1', user: 'alice', kind: 'htpasswd', source: '192.0.2.1', gateway: 'gw1:10', since: '2030-01-01T00:30:00Z', tunnels: 3, bytesUp: 2048, bytesDown: 5 * 1024 * 1024, transports: ['h2'] }],
    now,
  );
  assert.equal(table, 'USER   KIND      SOURCE     GATEWAY  FOR    TUNNELS  UP       DOWN     VIA  SESSION\nalice  htpasswd  192.0.2.1  gw1:10   1h30m  3        2.0 KiB  5.0 MiB  h2   ab.1\n');
});
