/**
 * Issue 9's benchmark case, "hostile clients": a gateway with its default defences, a real user
 * making new requests through `pinhole connect`, and a password guesser - 8 concurrent clients,
 * TLS then HTTP/1.1 CONNECT with wrong passwords for that user, a new connection per guess, from
 * the same address as the real user (one office NAT) - for 20 s. Ratios, all from this one run:
 * - the real user's median new-request time during the flood over quiet (25 samples before it and
 *   25 after; target <= 1.5x);
 * - answers per second the flooding address got after its first 20 (target <= 5/s);
 * - the median time to refuse a wrong password for a known user over an unknown one
 *   (target 0.8x to 1.25x), measured before the flood, each sample from its own loopback address
 *   (127.0.0.x) so penalties do not mix in.
 */
import type { ConnectionOptions } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { startClient } from '../test/support/client.js';
import { DEFAULT_USER, startGateway } from '../test/support/gateway.js';
import { Program, repoRoot, type Peers } from '../test/support/processes.js';
import { basicAuth, connectToProxy, readReply } from '../test/support/proxy-requests.js';
import { latencySamples, type OriginTrust, type Route } from './load.js';
import { judge, median, ratio, type FigureRow, type Target } from './report.js';

export interface AuthOptions {
  originPort: number;
  trust: OriginTrust;
  floodSeconds: number;
  /** Refusal-time samples per kind (known, unknown). */
  refusalSamples: number;
  say: (text: string) => void;
}

export interface AuthResult {
  rows: FigureRow[];
  targets: Target[];
  details: Record<string, unknown>;
}

const floodScript = fileURLToPath(new URL('./guess-flood.ts', import.meta.url));
const CONCURRENCY = 8;
const FREE_ANSWERS = 20;

/** Time from writing a CONNECT with wrong credentials to its complete answer, TLS already up, from `localAddress`. */
const refusalTime = async (port: number, hostname: string, target: string, user: string, localAddress: string): Promise<{ ms: number; status: number }> => {
  const socket = await connectToProxy({ port, tls: { servername: hostname, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], localAddress } as ConnectionOptions });
  try {
    const reply = readReply(socket, 20_000, true);
    const started = process.hrtime.bigint();
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${basicAuth(user, `not-it-${localAddress}`)}\r\n\r\n`);
    const { status } = await reply;
    return { ms: Number(process.hrtime.bigint() - started) / 1e6, status };
  } finally {
    socket.destroy();
  }
};

export async function measureAuth(peers: Peers, options: AuthOptions): Promise<AuthResult> {
  const { say } = options;
  const target = `127.0.0.1:${options.originPort}`;
  say('auth: starting a gateway with its default defences and `pinhole connect` in front of it');
  const gateway = peers.add(await startGateway({ restrictTo: [target] }));
  const client = peers.add(await startClient({ link: await gateway.provision(), name: 'pinhole-auth' }));
  const route: Route = { kind: 'proxy', port: client.port };
  await latencySamples(route, options.originPort, options.trust, 3);

  say(`auth: ${options.refusalSamples} wrong passwords for a known and for an unknown user, alternating, each from its own 127.0.0.x`);
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < options.refusalSamples * 2; i++) {
    const kind = i % 2 === 0 ? 'known' : 'unknown';
    const from = `127.0.${10 + Math.floor(i / 250)}.${(i % 250) + 2}`;
    const r = await refusalTime(gateway.port, gateway.hostname, target, kind === 'known' ? DEFAULT_USER.name : `nobody-${i}`, from);
    if (r.status !== 407) throw new Error(`a wrong password got ${r.status}, not 407`);
    (kind === 'known' ? known : unknown).push(r.ms);
  }

  say('auth: the real user, quiet');
  const samples = 25;
  const before = await latencySamples(route, options.originPort, options.trust, samples);

  say(`auth: the guessing flood, ${CONCURRENCY} clients for ${options.floodSeconds} s, while the real user keeps making new requests`);
  const floodStarted = Date.now();
  const until = floodStarted + options.floodSeconds * 1000;
  const flood = peers.add(
    new Program(process.execPath, {
      name: 'guess-flood',
      args: ['--import', 'tsx', floodScript, JSON.stringify({ port: gateway.port, hostname: gateway.hostname, target, user: DEFAULT_USER.name, concurrency: CONCURRENCY, maxGuesses: 1_000_000, until })],
      cwd: repoRoot,
    }),
  );
  const during: number[] = [];
  // Let the flood get going before sampling, then sample until it ends.
  await new Promise((r) => setTimeout(r, 1_000));
  while (Date.now() < until - 500) during.push(...(await latencySamples(route, options.originPort, options.trust, 1)));
  const status = await flood.exited;
  const record = flood.records.find((r) => r.msg === 'The flood ended.') as { answers?: Array<{ status: number; at: number; code?: string }> } | undefined;
  if (status.code !== 0 || record?.answers === undefined) throw new Error(`the flood failed:\n${flood.transcript()}`);
  const answers = record.answers.filter((a) => a.status !== 0).sort((a, b) => a.at - b.at);
  const afterFree = answers.slice(FREE_ANSWERS);
  const from = answers[FREE_ANSWERS - 1]?.at ?? floodStarted;
  const floodEnded = Math.max(until, answers.at(-1)?.at ?? until);
  const perSecond = afterFree.length / Math.max(0.001, (floodEnded - from) / 1000);
  const checkedPerSecond = afterFree.filter((a) => a.status === 407).length / Math.max(0.001, (floodEnded - from) / 1000);
  // The quiet baseline is taken on both sides of the flood, so a machine busy with other work at
  // one moment does not pass for the flood's effect.
  say('auth: the real user, quiet again');
  before.push(...(await latencySamples(route, options.originPort, options.trust, samples)));
  const byStatus: Record<string, number> = {};
  for (const a of record.answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;

  const slowdown = ratio(median(during), median(before));
  const timing = ratio(median(known), median(unknown));
  const rows: FigureRow[] = [
    { key: 'authRealUser', label: 'real user new request: quiet (direct col) / during the flood (pinhole col)', unit: 'ms', better: 'lower', direct: median(before), pinhole: median(during), compareTo: 'direct', runs: { direct: before, pinhole: during } },
    { key: 'authRefusal', label: 'wrong password refused: unknown user (direct col) / known user (pinhole col)', unit: 'ms', better: 'lower', direct: median(unknown), pinhole: median(known), compareTo: 'direct', runs: { direct: unknown, pinhole: known } },
    { key: 'authFloodRate', label: `answers/s to the flooding address after its first ${FREE_ANSWERS}`, unit: '/s', better: 'lower', pinhole: perSecond, note: `${checkedPerSecond.toFixed(2)}/s of them checked (407)` },
  ];
  const targets: Target[] = [
    judge('authRealUser', "real user's new request during the flood <= 1.5x before", slowdown, '<=', 1.5, `${slowdown.toFixed(2)}x (${median(before).toFixed(1)} -> ${median(during).toFixed(1)} ms)`),
    judge('authFloodRate', `flooding address answered <= 5/s after its first ${FREE_ANSWERS}`, perSecond, '<=', 5, `${perSecond.toFixed(2)}/s (${afterFree.length} answers; ${checkedPerSecond.toFixed(2)}/s checked)`),
    {
      ...judge('authTiming', 'wrong password, known / unknown user: 0.8x to 1.25x', timing, '>=', 0.8, `${timing.toFixed(2)}x (${median(known).toFixed(1)} / ${median(unknown).toFixed(1)} ms)`),
      met: Number.isFinite(timing) ? timing >= 0.8 && timing <= 1.25 : undefined,
    },
  ];
  return { rows, targets, details: { byStatus, guesses: record.answers.length, realUserSamplesDuring: during.length, slowdown, perSecond, checkedPerSecond, timing } };
}
