/**
 * A process that spawns children the way tests do outside Program (one leading its own group with
 * a grandchild in it, one plain) and registers them with killOnExit, prints their PIDs, then
 * either exits (`exit`) or waits to be ended by a signal (`wait`). processes.test.ts checks that
 * none of them outlives it. Not a *.test.ts file, so `npm test` does not run it by itself.
 */
import { spawn } from 'node:child_process';
import { killOnExit } from './processes.js';

const leader = killOnExit(spawn('sh', ['-c', 'sleep 300 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] }));
const plain = killOnExit(spawn('sleep', ['300'], { stdio: 'ignore' }));
leader.stdout.setEncoding('utf8').once('data', (grandchild: string) => {
  process.stdout.write(`${JSON.stringify({ msg: 'Spawned.', pids: [leader.pid, Number(grandchild.trim()), plain.pid] })}\n`);
  if (process.argv[2] === 'exit') process.exit(0);
});
setInterval(() => undefined, 1_000);
