/**
 * A real redis-server on 127.0.0.1 (a free port, no persistence), for the gateway's `--state`.
 * `restart()` starts a fresh one on the same port, as an operator's Redis coming back would.
 */
import { Program, freePort } from './processes.js';

export interface RunningRedis {
  port: number;
  url: string;
  program: Program;
  /** kill -9: Redis vanishes mid-way. */
  kill: () => Promise<void>;
  /** A new redis-server on the same port (empty: nothing was saved). */
  restart: () => Promise<void>;
  stop: () => Promise<unknown>;
}

const launch = async (port: number): Promise<Program> => {
  const program = new Program('redis-server', {
    name: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'notice'],
  });
  await program.waitForLine((l) => l.text.includes('Ready to accept connections'), 15_000, '"Ready to accept connections"');
  return program;
};

export const startRedis = async (): Promise<RunningRedis> => {
  const port = await freePort();
  let program = await launch(port);
  const redis: RunningRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get program() {
      return program;
    },
    kill: async () => {
      program.kill();
      await program.exited;
    },
    restart: async () => {
      if (program.running) await program.stop('SIGTERM', 5_000);
      program = await launch(port);
    },
    stop: () => program.stop('SIGTERM', 5_000),
  };
  return redis;
};
