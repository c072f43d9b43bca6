/**
 * The destination policy decides on addresses, not on their text (issue 28 item 2), at every door
 * of a real `pinhole-gateway run` with its default policy: every spelling of a refused address
 * (test/support/address-spellings.ts: NAT64 with zero groups, leading zeros, mixed case, dotted
 * tails, IPv4-mapped/-compatible/-translated, 6to4, Teredo, ULA, link-local...) is refused with
 * PINHOLE_DEST_FORBIDDEN, straight at the gateway (h1 CONNECT, h2 CONNECT, the WebSocket tunnel,
 * h2 CONNECT-UDP, WebSocket UDP) and through the real clients (HTTP CONNECT via `pinhole connect`
 * over h1, h2 and wss; SOCKS5 CONNECT and UDP ASSOCIATE via `pinhole connect`; `pinhole forward -L
 * udp:` over h2 and wss). Refused addresses are never connected to; even so the gateway runs in a
 * network namespace this test makes, with only a loopback, so a regression that did connect would
 * reach no real network (the test's peers talk to it through a relay, test/support/netns.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { ATYP, COMMAND, REPLY, encodeGreeting, encodeRequest, parseReply } from '../../main/socks/codec.js';
import { formatEndpoint } from '../../shared/profile.js';
import { formatConnectUdpPath } from '../../shared/udp/connect-udp-path.js';
import { UDP_WS_PATH } from '../../shared/udp/ws-frame.js';
import { DEFAULT_WS_PATH } from '../../shared/ws-tunnel.js';
import { REFUSED_SPELLINGS } from '../support/address-spellings.js';
import { startClient, type RunningClient } from '../support/client.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { makeNetns, relayIntoNetns } from '../support/netns.js';
import { Peers, Program, explainFailure, listenPortOf, pinholeBin } from '../support/processes.js';
import { basicAuth, openTunnel } from '../support/proxy-requests.js';

const peers = new Peers();
let gateway: RunningGateway;
/** The gateway's port as seen from here: the relay into its namespace. */
let gatewayPort: number;
let link: string;
const clients = {} as Record<'h1' | 'h2' | 'wss', RunningClient>;
const TCP_PORT = 443;
const UDP_PORT = 53;
const spellings = REFUSED_SPELLINGS.map((s) => s.text);

before(async () => {
  const netns = await makeNetns(peers, 'phpolicy');
  gateway = peers.add(await startGateway({ netns }));
  gatewayPort = await relayIntoNetns(peers, netns, gateway.port);
  link = await gateway.provision({ endpoint: `127.0.0.1:${gatewayPort}` });
  const user = gateway.users[0]!;
  for (const transport of ['h1', 'h2', 'wss'] as const)
    clients[transport] = peers.add(
      await startClient({ server: `127.0.0.1:${gatewayPort}`, user: user.name, password: user.password, pin: gateway.fingerprint, serverName: gateway.hostname, transport, name: `pinhole-connect-${transport}` }),
    );
});
after(() => peers.close());

const authorization = (): string => basicAuth(gateway.users[0]!.name, gateway.users[0]!.password);
const tlsToGateway = (alpn: string): { rejectUnauthorized: false; servername: string; ALPNProtocols: string[] } => ({ rejectUnauthorized: false, servername: gateway.hostname, ALPNProtocols: [alpn] });

/** Runs `check` on every spelling and fails once, naming every spelling that got through. */
const everySpelling = async (door: string, check: (text: string) => Promise<string | undefined>): Promise<void> => {
  const passed: string[] = [];
  for (const text of spellings) {
    const wrong = await check(text);
    if (wrong !== undefined) passed.push(`${text}: ${wrong}`);
  }
  assert.deepEqual(passed, [], `${door} let these through:\n${passed.join('\n')}`);
};

const h2Session = async (): Promise<ClientHttp2Session> => {
  const session = h2connect(`https://127.0.0.1:${gatewayPort}`, tlsToGateway('h2'));
  session.on('error', () => undefined);
  await once(session, 'remoteSettings');
  return session;
};

const h2Refusal = async (session: ClientHttp2Session, headers: Record<string, string>): Promise<string | undefined> => {
  const stream = session.request({ ...headers, 'proxy-authorization': authorization() }, { endStream: false });
  stream.on('error', () => undefined);
  const [response] = (await once(stream, 'response')) as [IncomingHttpHeaders];
  stream.close();
  return Number(response[':status']) === 403 && response['pinhole-error'] === 'PINHOLE_DEST_FORBIDDEN' ? undefined : `${response[':status']} ${String(response['pinhole-error'])}`;
};

const wsRefusal = (path: string, target: string): Promise<string | undefined> =>
  new Promise((resolve) => {
    const ws = new WebSocket(`wss://127.0.0.1:${gatewayPort}${path}`, { ...tlsToGateway('http/1.1'), headers: { 'Pinhole-Target': target, Authorization: authorization() } });
    ws.on('error', (err) => resolve(`error ${err.message}`));
    ws.on('open', () => {
      ws.terminate();
      resolve('the WebSocket opened');
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      resolve(res.statusCode === 403 && res.headers['pinhole-error'] === 'PINHOLE_DEST_FORBIDDEN' ? undefined : `${res.statusCode} ${String(res.headers['pinhole-error'])}`);
    });
  });

test('straight at the gateway, HTTP/1.1 CONNECT with a bracketed authority: 403 PINHOLE_DEST_FORBIDDEN for every spelling', () =>
  explainFailure(peers, () =>
    everySpelling('h1 CONNECT', async (text) => {
      const reply = await openTunnel({ proxy: { port: gatewayPort, tls: tlsToGateway('http/1.1'), auth: { user: gateway.users[0]!.name, password: gateway.users[0]!.password } }, target: formatEndpoint({ host: text, port: TCP_PORT }) });
      if (reply.status >= 200 && reply.status < 300) reply.socket.destroy();
      return reply.status === 403 && reply.headers['pinhole-error'] === 'PINHOLE_DEST_FORBIDDEN' ? undefined : `${reply.status} ${reply.headers['pinhole-error']}`;
    }),
  ));

test('straight at the gateway, HTTP/2 CONNECT and CONNECT-UDP: 403 PINHOLE_DEST_FORBIDDEN for every spelling', () =>
  explainFailure(peers, async () => {
    const session = await h2Session();
    try {
      await everySpelling('h2 CONNECT', (text) => h2Refusal(session, { ':method': 'CONNECT', ':authority': formatEndpoint({ host: text, port: TCP_PORT }) }));
      await everySpelling('h2 CONNECT-UDP', (text) =>
        h2Refusal(session, { ':method': 'CONNECT', ':protocol': 'connect-udp', ':scheme': 'https', ':authority': gateway.hostname, ':path': formatConnectUdpPath({ host: text, port: UDP_PORT }), 'capsule-protocol': '?1' }),
      );
    } finally {
      session.destroy();
    }
  }));

test('straight at the gateway, the WebSocket tunnel and WebSocket UDP: 403 PINHOLE_DEST_FORBIDDEN for every spelling', () =>
  explainFailure(peers, async () => {
    await everySpelling('WebSocket tunnel', (text) => wsRefusal(DEFAULT_WS_PATH, formatEndpoint({ host: text, port: TCP_PORT })));
    await everySpelling('WebSocket UDP', (text) => wsRefusal(UDP_WS_PATH, formatEndpoint({ host: text, port: UDP_PORT })));
  }));

for (const transport of ['h1', 'h2', 'wss'] as const) {
  test(`HTTP CONNECT through pinhole connect over ${transport}: 403 PINHOLE_DEST_FORBIDDEN for every spelling`, () =>
    explainFailure(peers, () =>
      everySpelling(`pinhole connect over ${transport}`, async (text) => {
        const ask = (): ReturnType<typeof openTunnel> => openTunnel({ proxy: { port: clients[transport].port }, target: formatEndpoint({ host: text, port: TCP_PORT }) });
        let reply = await ask();
        // A known race, not this test's subject: a warm pooled connection (kept up to 20 s) that the
        // gateway's 10 s head timeout closes with a 408 just as a tunnel takes it. Asked once more.
        if (reply.status === 408) reply = await ask();
        if (reply.status >= 200 && reply.status < 300) reply.socket.destroy();
        return reply.status === 403 && reply.headers['pinhole-error'] === 'PINHOLE_DEST_FORBIDDEN' ? undefined : `${reply.status} ${reply.headers['pinhole-error']}`;
      }),
    ));
}

/** ATYP DOMAIN with the text exactly as written, so the spelling (not bytes) reaches the client. */
const domainAddress = (text: string, port: number): Uint8Array => {
  const name = Buffer.from(text);
  return Uint8Array.of(ATYP.domain, name.length, ...name, port >> 8, port & 0xff);
};

/** One SOCKS5 exchange on a fresh connection: greeting, then `request`; resolves with the reply and the open control connection. */
const socks = async (port: number, request: Uint8Array): Promise<{ code: number; bound: { host: string; port: number }; control: Socket }> => {
  const control = netConnect({ host: '127.0.0.1', port });
  control.on('error', () => undefined);
  await once(control, 'connect');
  const reply = new Promise<{ code: number; bound: { host: string; port: number } }>((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      const parsed = got.length > 2 ? parseReply(got.subarray(2)) : undefined;
      if (parsed === undefined) return;
      control.off('data', onData);
      resolve(parsed.value);
    };
    control.on('data', onData);
    control.once('close', () => reject(new Error(`the SOCKS5 connection closed after ${got.length} bytes`)));
  });
  control.write(encodeGreeting([0]));
  control.write(request);
  return { ...(await reply), control };
};

test('SOCKS5 CONNECT through pinhole connect: reply 0x02 for every spelling, sent as a name and as IPv6 bytes, and the client logs PINHOLE_DEST_FORBIDDEN', () =>
  explainFailure(peers, async () => {
    const port = clients.h2.port;
    await everySpelling('SOCKS5 CONNECT (name)', async (text) => {
      const { code, control } = await socks(port, Uint8Array.of(0x05, COMMAND.connect, 0x00, ...domainAddress(text, TCP_PORT)));
      control.destroy();
      return code === REPLY.notAllowed ? undefined : `reply ${code}`;
    });
    await everySpelling('SOCKS5 CONNECT (IPv6 bytes)', async (text) => {
      const { code, control } = await socks(port, encodeRequest(COMMAND.connect, text, TCP_PORT));
      control.destroy();
      return code === REPLY.notAllowed ? undefined : `reply ${code}`;
    });
    const spelled = spellings[1]!;
    await clients.h2.program.waitForLog((r) => r['code'] === 'PINHOLE_DEST_FORBIDDEN' && r['target'] === formatEndpoint({ host: spelled, port: TCP_PORT }), 10_000, `PINHOLE_DEST_FORBIDDEN for ${spelled} in the client log`);
  }));

/** Waits for the client's refusal line for each target; returns the targets with none, or with another code. */
const udpRefusalsLogged = async (program: Program, targets: readonly string[]): Promise<string[]> => {
  const unlogged = new Set(targets);
  // Each line reaches the predicate once; the wait ends when every target has had its line.
  await program
    .waitForLog(
      (r) => {
        if (r.msg === 'A UDP flow through the tunnel could not be opened.') unlogged.delete(String(r['target']));
        return unlogged.size === 0;
      },
      30_000,
      `a refusal line for each of ${targets.length} UDP flows`,
    )
    .catch(() => undefined);
  return targets.filter((t) => !program.records.some((r) => r['target'] === t && r['code'] === 'PINHOLE_DEST_FORBIDDEN'));
};

for (const transport of ['h2', 'wss'] as const) {
  test(`SOCKS5 UDP ASSOCIATE through pinhole connect over ${transport}: every spelling is refused and each refusal is a line in the client log`, () =>
    explainFailure(peers, async () => {
      const client = clients[transport];
      const { code, bound, control } = await socks(client.port, encodeRequest(COMMAND.udpAssociate, '0.0.0.0', 0));
      assert.equal(code, REPLY.succeeded, 'UDP ASSOCIATE succeeded');
      const udp = createSocket('udp4');
      udp.bind(0, '127.0.0.1');
      await once(udp, 'listening');
      try {
        for (const text of spellings) udp.send(Uint8Array.of(0, 0, 0, ...domainAddress(text, UDP_PORT), ...Buffer.from('query')), bound.port, '127.0.0.1');
        const missing = await udpRefusalsLogged(client.program, spellings.map((text) => formatEndpoint({ host: text, port: UDP_PORT })));
        assert.deepEqual(missing, [], 'every UDP flow was refused with PINHOLE_DEST_FORBIDDEN, and logged');
      } finally {
        udp.close();
        control.destroy();
      }
    }));

  test(`pinhole forward -L udp: over ${transport}: every spelling is refused by the gateway and logged by the forward`, () =>
    explainFailure(peers, async () => {
      const specs = spellings.flatMap((text) => ['-L', `udp:0:[${text}]:${UDP_PORT}`]);
      const forward = peers.watch(new Program(pinholeBin, { name: `pinhole-forward-udp-${transport}`, args: ['forward', ...specs, link, '--transport', transport] }));
      peers.defer(() => forward.stop('SIGTERM', 5_000));
      const listening = await forward.waitForLogs((r) => r.msg === 'The UDP forward is listening.', spellings.length, 30_000, `${spellings.length} UDP forwards listening`);
      assert.equal(listening.length, spellings.length);
      const udp = createSocket('udp4');
      udp.bind(0, '127.0.0.1');
      await once(udp, 'listening');
      try {
        for (const line of listening) udp.send('query', listenPortOf(line), '127.0.0.1');
        const missing = await udpRefusalsLogged(forward, listening.map((line) => String(line['target'])));
        assert.deepEqual(missing, [], 'every UDP flow was refused with PINHOLE_DEST_FORBIDDEN, and logged');
      } finally {
        udp.close();
      }
      assert.equal((await forward.stop('SIGTERM', 10_000)).code, 0);
    }));
}
