/**
 * Issue 3's benchmark case, "port 443 shared": what it costs to reach a TLS server and an SSH
 * server through the one gateway port (sniff the first bytes, then pass them through untouched)
 * instead of directly, on loopback, in the same run, interleaved (direct, gateway, direct, ...).
 *
 * One gateway (`pinhole-gateway run --sni localhost=ORIGIN --ssh SSHD`) in front of the bench's
 * origin and a real sshd (test/support/sshd.ts). Figures:
 * - SNI pass-through: one N MiB `GET /bytes/N` over TLS to the gateway port with SNI `localhost`
 *   (the application verifies the origin's certificate, so only a pass-through can succeed) vs the
 *   same straight to the origin; the gateway's CPU-seconds per GiB; a new connection + `GET /hello`
 *   to the last byte, direct vs via the gateway, and their difference (the sniff cost).
 * - SSH: `ssh ... 'head -c N /dev/zero'` (aes128-gcm@openssh.com both ways) through the gateway
 *   port vs straight to sshd; the clock runs from the first byte of output to the last.
 * Every figure is also taken through a plain TCP relay (bench/plain-relay.ts, its own process):
 * the cost of one userspace hop without sniffing, so gateway - relay is what the sniff adds.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../test/support/gateway.js';
import { Program, listenPortOf, repoRoot, type Peers } from '../test/support/processes.js';
import { sshClientArgs, startSshd } from '../test/support/sshd.js';
import { download, latencySamples, type OriginTrust, type Route } from './load.js';
import { cpuSecondsBetween, cpuSnapshot } from './proc.js';
import { median, type FigureRow } from './report.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const SSH_CIPHER = 'aes128-gcm@openssh.com';

export interface Port443Options {
  originPort: number;
  trust: OriginTrust;
  runs: number;
  /** Bytes per download (TLS and SSH alike). */
  bytes: number;
  /** New-connection requests per run per way. */
  latencySamples: number;
  say: (text: string) => void;
  /** `--byte-path` for the gateway (issue 27: native pass-through relays with splice()); absent, its default (auto). */
  bytePath?: string | undefined;
}

export interface Port443Result {
  rows: FigureRow[];
  details: Record<string, unknown>;
}

type Way = 'direct' | 'relay' | 'gateway';
const WAYS: Way[] = ['direct', 'relay', 'gateway'];
const relayScript = fileURLToPath(new URL('./plain-relay.ts', import.meta.url));

/** A plain TCP relay to `targetPort` in its own process; resolves with its port. */
export const startPlainRelay = async (peers: Peers, targetPort: number, name: string): Promise<number> => {
  const program = peers.add(new Program(process.execPath, { name, args: ['--import', 'tsx', relayScript, String(targetPort)], cwd: repoRoot }));
  return listenPortOf(await program.waitForLog((r) => r.msg === 'The plain relay is listening.', 20_000, 'its listening line'));
};

/** The SHA-256 fingerprint of the certificate a TLS server on `port` shows for SNI `localhost`. */
const certificateSeenAt = (port: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      socket.destroy();
      resolve(fingerprint);
    });
    socket.once('error', reject);
    socket.setTimeout(15_000, () => socket.destroy(new Error(`no TLS handshake on port ${port} within 15 s`)));
  });

interface SshDownload {
  bytes: number;
  /** First byte of output to the last. */
  seconds: number;
  /** Spawn to exit (key exchange, authentication, command, transfer). */
  totalSeconds: number;
  mbPerSecond: number;
}

/**
 * `ssh -p PORT root@127.0.0.1 'head -c N /dev/zero'`; the output is counted and dropped here
 * (like `> /dev/null`, but the count proves every byte arrived).
 */
const sshDownload = (port: number, keyPath: string, bytes: number, timeoutMs = 300_000): Promise<SshDownload> =>
  new Promise((resolve, reject) => {
    const args = [
      ...sshClientArgs(keyPath),
      '-o', 'Compression=no',
      '-c', SSH_CIPHER,
      '-p', String(port),
      'root@127.0.0.1',
      `head -c ${bytes} /dev/zero`,
    ];
    const started = process.hrtime.bigint();
    let first: bigint | undefined;
    let last = started;
    let received = 0;
    let stderr = '';
    const child = spawn('ssh', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      if (first === undefined) first = process.hrtime.bigint();
      received += chunk.length;
      if (received >= bytes) last = process.hrtime.bigint();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString('utf8');
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const totalSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0 || received !== bytes || first === undefined) {
        reject(new Error(`ssh -p ${port} 'head -c ${bytes} /dev/zero' ended with ${signal ?? `code ${code}`} after ${received} bytes: ${stderr.trim()}`));
        return;
      }
      const seconds = Number(last - first) / 1e9;
      resolve({ bytes, seconds, totalSeconds, mbPerSecond: bytes / 1e6 / seconds });
    });
  });

/** `runs` rounds of `measure(way)` for direct then gateway; every value per way. */
const interleaved = async (runs: number, measure: (way: Way) => Promise<number>): Promise<{ values: Record<Way, number[]>; error?: string }> => {
  const values: Record<Way, number[]> = { direct: [], relay: [], gateway: [] };
  let error: string | undefined;
  for (let run = 0; run < runs; run += 1) {
    for (const way of WAYS) {
      try {
        values[way].push(await measure(way));
      } catch (err) {
        error ??= `${way}: ${(err as Error).message}`;
      }
    }
  }
  return error ? { values, error } : { values };
};

/**
 * A row comparing `via` (the gateway, or the plain relay; in the `pinhole` column) with direct;
 * the ratio is via/direct.
 */
const row = (key: string, label: string, unit: string, better: 'higher' | 'lower', values: Partial<Record<Way, number[]>>, via: Way = 'gateway', error?: string): FigureRow => {
  const through = values[via];
  return {
    key,
    label,
    unit,
    better,
    compareTo: 'direct',
    ...(values.direct?.length ? { direct: median(values.direct) } : {}),
    ...(through?.length ? { pinhole: median(through) } : {}),
    runs: { ...(values.direct ? { direct: values.direct } : {}), ...(through ? { pinhole: through } : {}) },
    ...(error ? { error } : {}),
  };
};

/** Per run, `a - b`; the runs are interleaved, so run i of each was taken side by side. */
const differences = (a: number[], b: number[]): number[] => a.flatMap((value, i) => (b[i] === undefined ? [] : [value - (b[i] as number)]));

/** Starts sshd and the shared-port gateway under `peers`, measures, and returns the rows. */
export const measurePort443 = async (peers: Peers, options: Port443Options): Promise<Port443Result> => {
  const { originPort, trust, runs, bytes, say } = options;
  say('port443: starting sshd and a gateway with --sni localhost=ORIGIN --ssh SSHD on one port');
  const sshd = peers.add(await startSshd());
  const gateway = peers.add(
    await startGateway({
      restrictTo: [`127.0.0.1:${originPort}`],
      runArgs: ['--sni', `localhost=127.0.0.1:${originPort}`, '--ssh', `127.0.0.1:${sshd.port}`, ...(options.bytePath === undefined ? [] : ['--byte-path', options.bytePath])],
    }),
  );
  const gatewayRoots = gateway.program.pid ? [gateway.program.pid] : [];
  const tlsRoute: Record<Way, Route> = {
    direct: { kind: 'direct', port: originPort },
    relay: { kind: 'direct', port: await startPlainRelay(peers, originPort, 'plain-relay-origin') },
    gateway: { kind: 'direct', port: gateway.port },
  };
  const sshPort: Record<Way, number> = { direct: sshd.port, relay: await startPlainRelay(peers, sshd.port, 'plain-relay-sshd'), gateway: gateway.port };

  // Pass-through proof: the gateway's port shows the origin's certificate, not the gateway's own.
  const originFingerprint = new X509Certificate(trust.ca).fingerprint256;
  const seen = await certificateSeenAt(gateway.port);
  const details: Record<string, unknown> = {
    bytes,
    sshCipher: SSH_CIPHER,
    passThrough: { originFingerprint, seenOnGatewayPort: seen, gatewayFingerprint: gateway.fingerprint },
  };
  if (seen !== originFingerprint) throw new Error(`the gateway port showed certificate ${seen} for SNI localhost, not the origin's ${originFingerprint}: not a pass-through`);
  say(`  SNI localhost on the gateway port shows the origin's certificate (${originFingerprint.slice(0, 23)}...): passed through`);

  // Warm both ways once (JIT, sshd's first fork) before measuring.
  for (const way of WAYS) {
    await latencySamples(tlsRoute[way], originPort, trust, 2);
    await download(tlsRoute[way], originPort, trust, 16 * MiB);
    await sshDownload(sshPort[way], sshd.keyPath, MiB);
  }

  say(`port443: SNI pass-through, one ${bytes / MiB} MiB HTTPS download, direct vs a plain relay vs the gateway, ${runs} runs`);
  const cpu: number[] = [];
  const bulk = await interleaved(runs, async (way) => {
    const before = cpuSnapshot(gatewayRoots);
    const result = await download(tlsRoute[way], originPort, trust, bytes);
    const perGiB = cpuSecondsBetween(before, cpuSnapshot(gatewayRoots)) / (result.bytes / GiB);
    if (way === 'gateway') cpu.push(perGiB);
    say(`  ${way}: ${result.mbPerSecond.toFixed(0)} MB/s${way === 'gateway' ? `, gateway ${perGiB.toFixed(2)} CPU-s/GiB` : ''}`);
    return result.mbPerSecond;
  });

  say(`port443: ${options.latencySamples} new connections + GET /hello per way, ${runs} runs`);
  const hello = await interleaved(runs, async (way) => median(await latencySamples(tlsRoute[way], originPort, trust, options.latencySamples)));
  const added = differences(hello.values.gateway, hello.values.direct);
  const sniffCost = differences(hello.values.gateway, hello.values.relay);
  say(
    `  direct ${median(hello.values.direct).toFixed(2)} ms, plain relay ${median(hello.values.relay).toFixed(2)} ms, gateway ${median(hello.values.gateway).toFixed(2)} ms; ` +
      `gateway - direct ${median(added).toFixed(2)} ms, gateway - relay (sniff) ${median(sniffCost).toFixed(2)} ms`,
  );

  say(`port443: ssh 'head -c ${bytes} /dev/zero' (${SSH_CIPHER}), direct vs a plain relay vs the gateway, ${runs} runs`);
  const sshCpu: number[] = [];
  const sshTotals: Record<Way, number[]> = { direct: [], relay: [], gateway: [] };
  const ssh = await interleaved(runs, async (way) => {
    const before = cpuSnapshot(gatewayRoots);
    const result = await sshDownload(sshPort[way], sshd.keyPath, bytes);
    const perGiB = cpuSecondsBetween(before, cpuSnapshot(gatewayRoots)) / (result.bytes / GiB);
    if (way === 'gateway') sshCpu.push(perGiB);
    sshTotals[way].push(result.totalSeconds);
    say(`  ${way}: ${result.mbPerSecond.toFixed(0)} MB/s (${result.totalSeconds.toFixed(2)} s with login)${way === 'gateway' ? `, gateway ${perGiB.toFixed(2)} CPU-s/GiB` : ''}`);
    return result.mbPerSecond;
  });
  details['sshTotalSeconds'] = sshTotals;

  const size = `${bytes / MiB} MiB`;
  return {
    rows: [
      row('port443Tls', `port 443 shared: one ${size} HTTPS download, SNI pass-through`, 'MB/s', 'higher', bulk.values, 'gateway', bulk.error),
      row('port443TlsRelay', `  same through a plain TCP relay (baseline)`, 'MB/s', 'higher', bulk.values, 'relay'),
      row('port443TlsCpu', 'port 443 shared: gateway CPU-seconds per GiB, SNI pass-through', 's', 'lower', { gateway: cpu }),
      row('port443Hello', 'port 443 shared: new connection + GET /hello, SNI pass-through', 'ms', 'lower', hello.values, 'gateway', hello.error),
      row('port443HelloRelay', '  same through a plain TCP relay (baseline)', 'ms', 'lower', hello.values, 'relay'),
      { key: 'port443Added', label: 'port 443 shared: gateway - direct, new connection + GET /hello', unit: 'ms', better: 'lower', pinhole: median(added), runs: { pinhole: added } },
      { key: 'port443SniffCost', label: 'port 443 shared: sniff cost (gateway - plain relay, same request)', unit: 'ms', better: 'lower', pinhole: median(sniffCost), runs: { pinhole: sniffCost } },
      row('port443Ssh', `port 443 shared: ssh 'head -c ${size}', ${SSH_CIPHER}`, 'MB/s', 'higher', ssh.values, 'gateway', ssh.error),
      row('port443SshRelay', '  same through a plain TCP relay (baseline)', 'MB/s', 'higher', ssh.values, 'relay'),
      row('port443SshCpu', 'port 443 shared: gateway CPU-seconds per GiB, SSH', 's', 'lower', { gateway: sshCpu }),
    ],
    details,
  };
};
