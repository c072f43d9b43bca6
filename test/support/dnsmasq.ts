/**
 * A real DNS server for UDP tests: dnsmasq on 127.0.0.1 and a free port, answering only from its
 * command line (`--address=/NAME/IP`), never forwarding anywhere (--no-resolv, no upstream), so
 * no query ever leaves loopback.
 */
import { Program, freePort } from './processes.js';

export interface RunningDnsmasq {
  port: number;
  program: Program;
  /** How many queries dnsmasq logged so far. */
  queries: () => number;
  stop: () => Promise<unknown>;
}

/** `records`: name -> IPv4 address, e.g. { 'test.example': '10.0.0.1' } (subdomains answer too). */
export const startDnsmasq = async (records: Readonly<Record<string, string>>): Promise<RunningDnsmasq> => {
  const port = await freePort();
  const program = new Program('dnsmasq', {
    name: 'dnsmasq',
    args: [
      '--no-daemon',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      `--port=${port}`,
      '--pid-file=',
      '--log-facility=-',
      '--log-queries',
      ...Object.entries(records).map(([name, ip]) => `--address=/${name}/${ip}`),
    ],
  });
  try {
    await program.waitForLine((line) => /started, version/.test(line.text), 15_000, 'dnsmasq started');
  } catch (err) {
    await program.stop('SIGKILL');
    throw err;
  }
  return {
    port,
    program,
    queries: () => program.lines.filter((l) => /query\[/.test(l.text)).length,
    stop: () => program.stop('SIGTERM', 5_000),
  };
};
