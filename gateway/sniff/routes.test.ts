import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClientHello, type ClientHello } from './client-hello.js';
import { FIXTURES, fixture } from './fixtures/fixtures.js';
import { chooseRoute, hostnameMatches, type RouteDecision, type RouteTable, type SniffVerdict } from './routes.js';

const helloFrom = (file: string): ClientHello => {
  const parsed = parseClientHello(fixture(file));
  if (parsed.kind !== 'hello') throw new Error(`${file} is not a hello`);
  return parsed.hello;
};
const tlsTo = (serverName?: string): SniffVerdict => {
  const base = helloFrom(FIXTURES.tlsCurl);
  const { serverName: _drop, ...rest } = base;
  return { result: 'match', name: 'tls', hello: serverName === undefined ? rest : { ...rest, serverName } };
};
const own = ['gw.pinhole.test'];
const full: RouteTable = {
  ssh: '127.0.0.1:22',
  openvpn: '127.0.0.1:1194',
  http: '127.0.0.1:80',
  anyprot: '127.0.0.1:9999',
  sni: [
    { pattern: 'git.example.org', target: '127.0.0.1:8443' },
    { pattern: '*.apps.example.org', target: '127.0.0.1:9443' },
  ],
  custom: { xmpp: '127.0.0.1:5222' },
};
const bare: RouteTable = { sni: [] };

const cases: Array<{ story: string; verdict: SniffVerdict; table: RouteTable; want: RouteDecision }> = [
  { story: 'TLS for our own name is terminated', verdict: tlsTo('GW.pinhole.test.'), table: full, want: { kind: 'terminate', serverName: 'gw.pinhole.test' } },
  { story: 'TLS without SNI is terminated', verdict: tlsTo(undefined), table: full, want: { kind: 'terminate' } },
  { story: 'TLS for an --sni name passes through', verdict: tlsTo('git.example.org'), table: full, want: { kind: 'forward', target: '127.0.0.1:8443', name: 'sni', serverName: 'git.example.org' } },
  { story: 'a wildcard matches one label', verdict: tlsTo('wiki.apps.example.org'), table: full, want: { kind: 'forward', target: '127.0.0.1:9443', name: 'sni', serverName: 'wiki.apps.example.org' } },
  { story: 'a wildcard does not match two labels; with no --tls we terminate', verdict: tlsTo('a.b.apps.example.org'), table: full, want: { kind: 'terminate', serverName: 'a.b.apps.example.org' } },
  { story: 'other TLS goes to --tls when set', verdict: tlsTo('other.example.net'), table: { ...full, tls: '127.0.0.1:4443' }, want: { kind: 'forward', target: '127.0.0.1:4443', name: 'tls', serverName: 'other.example.net' } },
  { story: 'our own name wins over a wildcard --sni', verdict: tlsTo('gw.pinhole.test'), table: { ...full, sni: [{ pattern: '*.pinhole.test', target: 'x:1' }] }, want: { kind: 'terminate', serverName: 'gw.pinhole.test' } },
  { story: 'SSH goes to --ssh', verdict: { result: 'match', name: 'ssh' }, table: full, want: { kind: 'forward', target: '127.0.0.1:22', name: 'ssh' } },
  { story: 'OpenVPN goes to --openvpn', verdict: { result: 'match', name: 'openvpn' }, table: full, want: { kind: 'forward', target: '127.0.0.1:1194', name: 'openvpn' } },
  { story: 'plain HTTP goes to --http', verdict: { result: 'match', name: 'http' }, table: full, want: { kind: 'forward', target: '127.0.0.1:80', name: 'http' } },
  { story: 'h2c prior knowledge goes to --http', verdict: { result: 'match', name: 'http2' }, table: full, want: { kind: 'forward', target: '127.0.0.1:80', name: 'http' } },
  { story: 'a custom probe goes to its route', verdict: { result: 'match', name: 'xmpp' }, table: full, want: { kind: 'forward', target: '127.0.0.1:5222', name: 'xmpp' } },
  { story: 'a custom name never reaches prototype properties', verdict: { result: 'match', name: 'toString' }, table: bare, want: { kind: 'close', reason: 'toString was recognised but neither a toString nor an anyprot route is set' } },
  { story: 'SSH without --ssh falls back to --anyprot', verdict: { result: 'match', name: 'ssh' }, table: { sni: [], anyprot: 'a:1' }, want: { kind: 'forward', target: 'a:1', name: 'anyprot' } },
  { story: 'SSH with no route at all is closed', verdict: { result: 'match', name: 'ssh' }, table: bare, want: { kind: 'close', reason: 'ssh was recognised but neither a ssh nor an anyprot route is set' } },
  { story: 'silence goes to SSH when --ssh is set (sslh)', verdict: { result: 'timeout' }, table: full, want: { kind: 'forward', target: '127.0.0.1:22', name: 'ssh' } },
  { story: 'silence goes to --on-timeout when set', verdict: { result: 'timeout' }, table: { ...full, onTimeout: 'openvpn' }, want: { kind: 'forward', target: '127.0.0.1:1194', name: 'openvpn' } },
  { story: 'silence with an unconfigured --on-timeout is closed', verdict: { result: 'timeout' }, table: { ...bare, onTimeout: 'ssh' }, want: { kind: 'close', reason: 'the timeout route ssh is not configured' } },
  { story: 'silence with no timeout route is closed', verdict: { result: 'timeout' }, table: { sni: [], anyprot: 'a:1' }, want: { kind: 'close', reason: 'the client sent nothing recognisable in time and no timeout route is set' } },
  { story: 'an unknown protocol goes to --anyprot', verdict: { result: 'none' }, table: full, want: { kind: 'forward', target: '127.0.0.1:9999', name: 'anyprot' } },
  { story: 'an unknown protocol without --anyprot is closed', verdict: { result: 'none' }, table: bare, want: { kind: 'close', reason: 'no protocol was recognised and no anyprot route is set' } },
  { story: 'a peer that closed early is closed', verdict: { result: 'closed' }, table: full, want: { kind: 'close', reason: 'the client closed the connection before sending a recognisable protocol' } },
];
for (const { story, verdict, table, want } of cases) {
  test(`route: ${story}`, () => assert.deepEqual(chooseRoute(verdict, table, own), want));
}

test('hostname patterns: exact names and one-label wildcards, case and trailing dot ignored', () => {
  const table: Array<[string, string, boolean]> = [
    ['example.org', 'EXAMPLE.org.', true],
    ['example.org', 'www.example.org', false],
    ['*.example.org', 'www.example.org', true],
    ['*.example.org', 'example.org', false],
    ['*.example.org', '.example.org', false],
    ['*.example.org', 'a.b.example.org', false],
    ['*.example.org', 'wwwexample.org', false],
  ];
  for (const [pattern, name, want] of table) assert.equal(hostnameMatches(pattern, name), want, `${pattern} vs ${name}`);
});
