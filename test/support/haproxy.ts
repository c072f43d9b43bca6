/**
 * Debian's HAProxy in TCP mode in front of something, sending PROXY protocol headers
 * (`send-proxy-v2` by default), as a cloud load balancer would. Runs in the foreground (`-db`).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Program, freePort, waitForPort } from './processes.js';

export interface RunningHaproxy {
  port: number;
  program: Program;
  stop: () => Promise<unknown>;
}

export const startHaproxy = async ({ backendPort, sendProxy = 'send-proxy-v2' }: { backendPort: number; sendProxy?: 'send-proxy' | 'send-proxy-v2' }): Promise<RunningHaproxy> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-haproxy-'));
  const port = await freePort();
  const config = join(dir, 'haproxy.cfg');
  await writeFile(
    config,
    [
      'global',
      '  maxconn 256',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      'frontend pinhole',
      `  bind 127.0.0.1:${port}`,
      '  default_backend gateway',
      'backend gateway',
      `  server gw 127.0.0.1:${backendPort} ${sendProxy}`,
      '',
    ].join('\n'),
  );
  const program = new Program('haproxy', { name: 'haproxy', args: ['-f', config, '-db'] });
  try {
    await waitForPort(port, 15_000, () => program.running);
  } catch (err) {
    await program.stop('SIGKILL');
    throw new Error(`haproxy did not start: ${(err as Error).message}\n${program.transcript()}`, { cause: err });
  }
  return { port, program, stop: () => program.stop('SIGTERM', 5_000) };
};
